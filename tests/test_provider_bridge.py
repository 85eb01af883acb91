"""stockade:aws:ProviderBridge under the offline engine: zero ingress, ECS secrets, one orchestrator."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from typing import Any

import pytest

from stockade.aws.shared.iam import check_statements
from stockade.engine import SynthResult
from stockade.engine.synth import PLACEHOLDER_PREFIX

VPC = "vpc-0123456789abcdef0"
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
ENDPOINTS_SG = "sg-0123456789abcdef0"
S3_PL = "pl-0123456789abcdef0"
KEY = "arn:aws:kms:us-east-2:555555555555:key/11111111-2222-4333-8444-555555555555"
SESSION_IMAGE = "ghcr.io/acme/stockade-session@sha256:" + "8" * 64
REFERENCE = "arn:aws:secretsmanager:us-east-2:555555555555:secret:daytona/api-key-AbCdEf"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"


def bridge_program(internet_prefix_list_id: str | None = None) -> Callable[[], None]:
    """The bridge alone, wired to literal network IDs, from the stack's own settings."""

    def program() -> None:
        from stockade.aws.bridge.provider_bridge import ProviderBridge, bridge_args
        from stockade.program import load_settings
        from stockade.tags import stack_tags

        settings = load_settings()
        ProviderBridge(
            "bridge",
            bridge_args(
                settings,
                vpc_id=VPC,
                subnet_ids=SUBNETS,
                endpoints_security_group_id=ENDPOINTS_SG,
                s3_prefix_list_id=S3_PL,
                internet_prefix_list_id=internet_prefix_list_id,
                kms_key_arn=KEY,
                tags=stack_tags(settings),
            ),
        )

    return program


def modal_config(example_config: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    config = example_config("daytona-dev")
    sandboxes = config["stockade:sandboxes"]
    daytona = sandboxes.pop("daytona")
    sandboxes["provider"] = "modal"
    sandboxes["modal"] = {
        "image": daytona["image"].replace("stockade-orchestrator", "modal-orchestrator"),
        "sessionImage": daytona["sessionImage"],
        "tokenId": "ak-0123456789",
        "tokenSecret": {
            "secure": "v1:7J2Sr+qQSfj6W9qh:djE6Ylc5a1lXd3RkRzlyWlc0dGMyVmpjbVYw9ocet+FQMTGMyavjIPLPOw=="
        },
        "environmentName": "agents",
    }
    config["stockade:network"]["egress"]["allowedDomains"] = ["api.modal.com"]
    return config


@pytest.fixture
def daytona(
    synth_config: Callable[..., SynthResult], example_config: Callable[[str], dict[str, Any]]
) -> SynthResult:
    return synth_config("daytona-dev", example_config("daytona-dev"), bridge_program())


def _container(result: SynthResult) -> dict[str, Any]:
    [container] = json.loads(result.one(TASK).inputs["containerDefinitions"])
    return dict(container)


def test_the_bridge_has_zero_ingress_and_https_only_egress(daytona: SynthResult) -> None:
    types = {r.type for r in daytona.resources}
    assert "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule" not in types
    assert "aws:ec2/securityGroupRule:SecurityGroupRule" not in types
    group = daytona.one("aws:ec2/securityGroup:SecurityGroup").inputs
    assert "ingress" not in group and group["vpcId"] == VPC
    rules = {r.name.rsplit("-egress-", 1)[1]: r.inputs for r in daytona.by_type(EGRESS)}
    assert set(rules) == {"aws-endpoints", "s3-gateway", "internet-https"}
    for rule in rules.values():
        assert (rule["ipProtocol"], rule["fromPort"], rule["toPort"]) == ("tcp", 443, 443)
    assert rules["aws-endpoints"]["referencedSecurityGroupId"] == ENDPOINTS_SG
    assert rules["s3-gateway"]["prefixListId"] == S3_PL
    assert rules["internet-https"]["cidrIpv4"] == "0.0.0.0/0"
    assert "app.daytona.io" in rules["internet-https"]["description"]


def test_internet_https_can_target_the_networks_public_prefix_list(
    synth_config: Callable[..., SynthResult], example_config: Callable[[str], dict[str, Any]]
) -> None:
    result = synth_config(
        "daytona-dev", example_config("daytona-dev"), bridge_program("pl-0fedcba9876543210")
    )
    internet = next(r.inputs for r in result.by_type(EGRESS) if r.name.endswith("internet-https"))
    assert internet["prefixListId"] == "pl-0fedcba9876543210" and "cidrIpv4" not in internet


def test_exactly_one_private_orchestrator_without_exec(daytona: SynthResult) -> None:
    service = daytona.one(SERVICE).inputs
    assert service["desiredCount"] == 1
    assert (service["deploymentMinimumHealthyPercent"], service["deploymentMaximumPercent"]) == (0, 100)
    assert service["networkConfiguration"]["assignPublicIp"] is False
    assert service["networkConfiguration"]["subnets"] == SUBNETS
    assert service["enableExecuteCommand"] is False
    assert service["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert service["launchType"] == "FARGATE"


def test_the_container_is_hardened_and_gets_secrets_only_as_ecs_secrets(daytona: SynthResult) -> None:
    container = _container(daytona)
    assert container["user"] == "65532:65532"
    assert container["readonlyRootFilesystem"] is True and container["privileged"] is False
    assert container["linuxParameters"]["capabilities"]["drop"] == ["ALL"]
    assert container["mountPoints"] == [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}]
    environment = {e["name"]: e["value"] for e in container["environment"]}
    assert environment == {
        "ENVIRONMENT_ID": "env_01DaytonaDevExample",
        "DAYTONA_API_URL": "https://app.daytona.io/api",
        "DAYTONA_TARGET": "us",
        "JANITOR_SECONDS": "300",
        "MAX_IDLE_DAYS": "7",
        "STOCKADE_SESSION_IMAGE": SESSION_IMAGE,
        "STOCKADE_MAX_CONCURRENT_SESSIONS": "20",
        "STOCKADE_RETENTION": "keep",
        "STOCKADE_SANDBOX_ALLOWED_DOMAINS": "pypi.org,files.pythonhosted.org",
    }
    secrets = {s["name"]: s["valueFrom"] for s in container["secrets"]}
    assert set(secrets) == {"ANTHROPIC_ENVIRONMENT_KEY", "DAYTONA_API_KEY"}
    stored = {
        r.inputs["description"].rsplit(": ", 1)[1]: r
        for r in daytona.by_type("aws:secretsmanager/secret:Secret")
    }
    for name, arn in secrets.items():
        assert arn.startswith("arn:aws:secretsmanager:us-east-2:555555555555:secret:bridge-")
        assert stored[name].inputs["kmsKeyId"] == KEY
    for version in daytona.by_type("aws:secretsmanager/secretVersion:SecretVersion"):
        assert version.inputs["secretString"] == "[secret]"
    assert "ANTHROPIC_API_KEY" not in json.dumps(container)
    assert container["command"] == ["--provider", "daytona"]


def test_the_task_holds_no_aws_credentials_and_a_least_privilege_execution_role(daytona: SynthResult) -> None:
    task = daytona.one(TASK).inputs
    assert "taskRoleArn" not in task
    assert task["requiresCompatibilities"] == ["FARGATE"] and task["networkMode"] == "awsvpc"
    assert task["runtimePlatform"] == {"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"}
    policy = json.loads(daytona.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    statements = policy["Statement"]
    check_statements(statements)
    by_sid = {s["Sid"]: s for s in statements}
    assert set(by_sid) == {
        "WriteTaskLogs",
        "EcrLogin",
        "PullTheImage",
        "ReadTaskSecrets",
        "DecryptTaskSecrets",
    }
    assert by_sid["PullTheImage"]["Resource"] == [
        "arn:aws:ecr:us-east-2:555555555555:repository/stockade-orchestrator"
    ]
    secrets = {s["valueFrom"] for s in _container(daytona)["secrets"]}
    assert set(by_sid["ReadTaskSecrets"]["Resource"]) == secrets
    assert by_sid["DecryptTaskSecrets"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "secretsmanager.us-east-2.amazonaws.com"}
    }


def test_every_taggable_resource_is_marked_as_the_provider_bridge(daytona: SynthResult) -> None:
    tagged = [r for r in daytona.resources if r.custom and "tags" in r.inputs]
    assert len(tagged) >= 8
    for resource in tagged:
        assert resource.inputs["tags"]["stockade:component"] == "provider-bridge", resource.name
        assert resource.inputs["tags"]["stockade:stack"] == "daytona-dev"


def test_no_secret_value_reaches_the_synth(
    daytona: SynthResult, example_config: Callable[[str], Any]
) -> None:
    text = daytona.to_json()
    assert PLACEHOLDER_PREFIX not in text
    for value in (
        "v1:2YspfiP/W+bbZfRZ:djE6WkdGNWRHOXVZUzFrWlhZdFpXNTJhWEp2Ym0xbGJuUXRhMlY1nIi573sUhq4RNHeO2pwDyw==",
        "v1:Cgjx7VrZ2FZQbxNY:djE6WkdGNWRHOXVZUzFrWlhZdFlYQnBMV3RsZVE9PTTGwxY3qcemMcgeCCT06ZA=",
    ):
        assert value in json.dumps(example_config("daytona-dev"))
        assert value not in text


def test_a_referenced_secret_is_read_in_place_not_copied(
    synth_config: Callable[..., SynthResult], example_config: Callable[[str], dict[str, Any]]
) -> None:
    config = example_config("daytona-dev")
    config["stockade:sandboxes"]["daytona"]["apiKey"] = REFERENCE
    result = synth_config("daytona-dev", config, bridge_program())
    assert len(result.by_type("aws:secretsmanager/secret:Secret")) == 1
    secrets = {s["name"]: s["valueFrom"] for s in _container(result)["secrets"]}
    assert secrets["DAYTONA_API_KEY"] == REFERENCE


def test_modal_gets_its_own_names_and_no_ecr_grant_for_another_registry(
    synth_config: Callable[..., SynthResult], example_config: Callable[[str], dict[str, Any]]
) -> None:
    config = modal_config(example_config)
    config["stockade:sandboxes"]["modal"]["image"] = "ghcr.io/acme/modal-orchestrator@sha256:" + "b" * 64
    config["stockade:network"]["egress"]["allowedDomains"].append("ghcr.io")
    config["stockade:sandboxes"]["modal"]["cpuArchitecture"] = "arm64"
    result = synth_config("modal-dev", config, bridge_program())
    container = _container(result)
    environment = {e["name"]: e["value"] for e in container["environment"]}
    assert environment == {
        "ANTHROPIC_ENVIRONMENT_ID": "env_01DaytonaDevExample",
        "MODAL_TOKEN_ID": "ak-0123456789",
        "MODAL_ENVIRONMENT": "agents",
        "STOCKADE_SESSION_IMAGE": SESSION_IMAGE,
        "STOCKADE_MAX_CONCURRENT_SESSIONS": "10",
        "STOCKADE_RETENTION": "delete",
    }
    assert container["command"] == ["--provider", "modal"]
    assert {s["name"] for s in container["secrets"]} == {"ANTHROPIC_ENVIRONMENT_KEY", "MODAL_TOKEN_SECRET"}
    sids = {
        s["Sid"]
        for s in json.loads(result.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])["Statement"]
    }
    assert not sids & {"EcrLogin", "PullTheImage"}
    task = result.one(TASK).inputs
    # A bridge named "bridge" (not the stack's "stockade-modal-bridge") names its family after
    # itself and the stack (aws/shared/naming.py).
    assert task["family"] == "bridge-modal-dev-modal-bridge"
    assert task["runtimePlatform"]["cpuArchitecture"] == "ARM64"


@pytest.mark.skipif(
    importlib.util.find_spec("stockade.aws.network.vpc") is None,
    reason="the whole daytona-dev stack needs stockade:aws:Network (the network block of aws/perimeter.py)",
)
def test_daytona_dev_stack_wires_the_bridge_into_the_network(
    synth_stack: Callable[[str], SynthResult],
) -> None:
    result = synth_stack("daytona-dev")
    bridge = result.one("stockade:aws:ProviderBridge")
    assert bridge.name == "stockade-daytona-bridge"
    service = result.one(SERVICE)
    assert service.parent == bridge.urn
    assert service.inputs["networkConfiguration"]["assignPublicIp"] is False
    assert result.outputs["providerBridgeApiHosts"] == ["app.daytona.io"]
    internet = next(
        r for r in result.by_type(EGRESS) if r.name.startswith("stockade-daytona-bridge-sg-egress-internet")
    )
    assert "prefixListId" in internet.inputs, "internet HTTPS goes to the network's public prefix list"
    bridge_group = internet.inputs["securityGroupId"]
    ingress = result.by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert all(r.inputs.get("securityGroupId") != bridge_group for r in ingress)
