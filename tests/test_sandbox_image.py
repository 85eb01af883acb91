"""stockade:aws:SandboxImage: an ECR repository that scans and never moves a tag, and a pinned build."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from stockade.aws.fleet.iam import ecr_repository_arn

from .conftest import minimal_aws_config
from .test_sandbox_fleet import TASK_DEFINITION, container, named

REPOSITORY = "aws:ecr/repository:Repository"
IMAGE = "docker:index/image:Image"


def _component_alone() -> None:
    from stockade.aws.fleet.sandbox_image import SandboxImage

    image = SandboxImage(
        "probe",
        {
            "repository_name": "stockade-test/session",
            "context": "images",
            "dockerfile": "images/session/Dockerfile",
            "tag": "1.2.3",
            "platform": "linux/arm64",
            "kms_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555",
            "tags": {"stockade:stack": "dev"},
        },
    )
    pulumi.export("imageUri", image.image_uri)
    pulumi.export("repositoryArn", image.repository_arn)


@pytest.fixture
def alone(synth_config) -> Any:
    return synth_config("dev", minimal_aws_config(), _component_alone)  # any valid config


def test_repository_scans_on_push_keeps_tags_immutable_and_uses_the_cmk(alone) -> None:
    repository = alone.one(REPOSITORY).inputs
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repository["encryptionConfigurations"] == [
        {
            "encryptionType": "KMS",
            "kmsKey": "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555",
        }
    ]
    assert repository["forceDelete"] is False
    assert repository["tags"]["stockade:component"] == "sandbox-image"
    rules = json.loads(alone.one("aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs["policy"])["rules"]
    assert [r["selection"]["tagStatus"] for r in rules] == ["untagged"]


def test_the_build_pushes_the_tag_with_a_secret_registry_password(alone) -> None:
    image = alone.one(IMAGE).inputs
    assert image["imageName"] == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/stockade-test/session:1.2.3"
    assert image["build"]["platform"] == "linux/arm64"
    assert image["build"]["dockerfile"] == "images/session/Dockerfile"
    # The registry block carries the ECR token, so the whole block travels as a secret.
    assert image["registry"] == "[secret]"
    assert image["skipPush"] is False


def test_the_component_hands_out_a_digest_reference(alone) -> None:
    uri = alone.outputs["imageUri"]
    assert uri.startswith("123456789012.dkr.ecr.eu-west-1.amazonaws.com/stockade-test/session@sha256:")
    assert len(uri.rsplit(":", 1)[1]) == 64
    assert alone.outputs["repositoryArn"].startswith("arn:aws:ecr:eu-west-1:123456789012:")


def test_a_session_build_feeds_the_sandbox_task_and_its_pull_grant(synth_config, example_config) -> None:
    config = example_config("dev")
    sandboxes = config["stockade:sandboxes"]
    sandboxes.pop("sessionImage")
    sandboxes["sessionBuild"] = {
        "context": ".",
        "dockerfile": "images/session/Dockerfile",
        "tag": "2026.10.1",
    }
    sandboxes["cpuArchitecture"] = "arm64"
    result = synth_config("dev", config)
    repository = named(result, REPOSITORY, "stockade-session-image-repository").inputs
    assert repository["name"] == "stockade-dev/session"
    session = container(result, "stockade-sandboxes-session-task", "session")
    assert session["image"].startswith(
        "111111111111.dkr.ecr.us-east-2.amazonaws.com/stockade-dev/session@sha256:"
    )
    assert named(result, IMAGE, "stockade-session-image-image").inputs["build"]["platform"] == "linux/arm64"
    task = named(result, TASK_DEFINITION, "stockade-sandboxes-session-task").inputs
    assert task["runtimePlatform"]["cpuArchitecture"] == "ARM64"
    policy = json.loads(
        named(
            result, "aws:iam/rolePolicy:RolePolicy", "stockade-sandboxes-sandbox-execution-role-policy"
        ).inputs["policy"]
    )
    (pull,) = [s for s in policy["Statement"] if s["Sid"] == "PullTheImage"]
    assert pull["Resource"][0].startswith("arn:aws:ecr:us-east-2:111111111111:")


@pytest.mark.parametrize(
    ("image", "arn"),
    [
        (
            "111111111111.dkr.ecr.us-east-2.amazonaws.com/stockade-session@sha256:" + "1" * 64,
            "arn:aws:ecr:us-east-2:111111111111:repository/stockade-session",
        ),
        (
            "222222222222.dkr.ecr.eu-west-1.amazonaws.com/team/tools/session:1.4.0",
            "arn:aws:ecr:eu-west-1:222222222222:repository/team/tools/session",
        ),
        ("ghcr.io/acme/session:1", None),
        ("ubuntu:24.04", None),
    ],
)
def test_ecr_repository_arn_is_derived_only_for_ecr_images(image: str, arn: str | None) -> None:
    assert ecr_repository_arn(image, "aws") == arn
