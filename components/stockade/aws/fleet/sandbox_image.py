"""`stockade:aws:SandboxImage`: build a Dockerfile and push it to an ECR repository it owns.

The repository scans every push, refuses to move a tag (immutable tags), and is
encrypted with the stack's CMK. The component's `image_uri` is the pushed image's
digest reference (`repo@sha256:...`), so task definitions pin exactly what was
built, whatever later happens to the tag.

Builds run where `pulumi up` runs (pulumi-docker's `Image`, BuildKit); they are
not run by `stockade synth`, which only records the desired state.
"""

from __future__ import annotations

import json
from typing import TypedDict

import pulumi
import pulumi_aws as aws

from stockade.aws.shared.arns import arn_concat
from stockade.tags import with_component

COMPONENT = "sandbox-image"
# Untagged images are what a rebuilt tag leaves behind in a mutable repo; with immutable
# tags they come from failed or interrupted pushes. Either way nothing runs them.
_UNTAGGED_EXPIRY_DAYS = 14


class SandboxImageArgs(TypedDict):
    """Inputs of a SandboxImage."""

    repository_name: str
    """ECR repository to create (e.g. `stockade-dev/session`)."""

    context: str
    """Build context directory."""

    dockerfile: str
    """Dockerfile path (relative to the working directory, as docker build takes it)."""

    tag: str
    """Tag to push; immutable in the repository, so a new build needs a new tag."""

    platform: str
    """Target platform (`linux/amd64` or `linux/arm64`), matching the tasks' CPU architecture."""

    kms_key_arn: pulumi.Input[str]
    """The stack's CMK: the repository's images are encrypted with it."""

    tags: dict[str, str]
    """Stack tags; the component adds `stockade:component=sandbox-image`."""


class SandboxImage(pulumi.ComponentResource):
    """An ECR repository and one image built into it."""

    repository_arn: pulumi.Output[str]
    """The ECR repository (for execution roles' pull grants)."""
    repository_url: pulumi.Output[str]
    """The ECR repository URL."""
    image_uri: pulumi.Output[str]
    """`<repository_url>@sha256:<digest>` of the pushed image."""

    def __init__(self, name: str, args: SandboxImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stockade:aws:SandboxImage", name, None, opts)
        tags = with_component(args["tags"], COMPONENT)
        child = pulumi.ResourceOptions(parent=self)
        repository = aws.ecr.Repository(
            f"{name}-repository",
            name=args["repository_name"],
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "KMS", "kms_key": args["kms_key_arn"]}],
            force_delete=False,
            tags=tags,
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=repository.name,
            policy=json.dumps(
                {
                    "rules": [
                        {
                            "rulePriority": 1,
                            "description": f"expire untagged images after {_UNTAGGED_EXPIRY_DAYS} days",
                            "selection": {
                                "tagStatus": "untagged",
                                "countType": "sinceImagePushed",
                                "countUnit": "days",
                                "countNumber": _UNTAGGED_EXPIRY_DAYS,
                            },
                            "action": {"type": "expire"},
                        }
                    ]
                },
                sort_keys=True,
            ),
            opts=pulumi.ResourceOptions(parent=repository),
        )
        # Imported here: every AWS stack imports this module, few build an image, and
        # pulumi-docker costs a tenth of an AWS synth's floor to load.
        import pulumi_docker as docker

        token = aws.ecr.get_authorization_token_output(registry_id=repository.registry_id)
        image = docker.Image(
            f"{name}-image",
            build=docker.DockerBuildArgs(
                context=args["context"],
                dockerfile=args["dockerfile"],
                platform=args["platform"],
            ),
            image_name=arn_concat(repository.repository_url, ":", args["tag"]),
            registry=docker.RegistryArgs(
                server=repository.repository_url,
                username=token.user_name,
                password=pulumi.Output.secret(token.password),
            ),
            skip_push=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[repository]),
        )
        self.repository_arn = repository.arn
        self.repository_url = repository.repository_url
        self.image_uri = image.repo_digest
        self.register_outputs(
            {
                "repository_arn": self.repository_arn,
                "repository_url": self.repository_url,
                "image_uri": self.image_uri,
            }
        )
