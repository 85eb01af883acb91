"""Where the tunnel's images are pulled from (the execution role's grant: ecs_iam.py).

The vendor's images live in Google Artifact Registry and Docker Hub. A Fargate
task pulls through its own network interface, so pulling those directly needs
HTTPS to the whole internet from the gateway's security group. By default
Stockade instead creates one private ECR repository per image (immutable tags,
KMS, scan on push) and pulls `<repository>@sha256:<the same digest>`; the
operator copies each image there once (`crane copy` keeps the digest), and
every pull then stays on the VPC's ECR and S3 endpoints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from stockade.aws.shared.ecs_iam import ecr_repository_arn
from stockade.aws.shared.naming import Naming


@dataclass(frozen=True)
class ImageSource:
    """One image as the task definition names it, and where its pulls go."""

    upstream: str
    """The reference from settings (pinned by digest)."""
    pull_ref: pulumi.Input[str]
    """What the task definition says: the upstream, or the ECR mirror at the same digest."""
    repository_arn: pulumi.Input[str] | None
    """ECR repository to grant pulls on; None for a public registry."""
    mirror_url: pulumi.Input[str] | None = None
    """The mirror repository's URL, when Stockade created one (the `crane copy` target)."""


@dataclass
class ImageSources:
    """Where each gateway container's image comes from, by role."""

    by_role: dict[str, ImageSource] = field(default_factory=dict)

    @property
    def needs_internet(self) -> bool:
        """Some image comes straight from a public registry."""
        return any(s.repository_arn is None for s in self.by_role.values())

    @property
    def repository_arns(self) -> list[pulumi.Input[str]]:
        seen: list[pulumi.Input[str]] = []
        for source in self.by_role.values():
            if source.repository_arn is not None and source.repository_arn not in seen:
                seen.append(source.repository_arn)
        return seen

    def mirrors(self) -> dict[str, pulumi.Output[str]]:
        """Upstream reference -> `crane copy` destination, for the operator's copy step."""
        return {
            s.upstream: pulumi.Output.from_input(s.mirror_url)
            for s in self.by_role.values()
            if s.mirror_url is not None
        }


def digest_of(image: str) -> str:
    if "@sha256:" not in image:
        raise ValueError(f"{image}: tunnel images are pinned by digest")
    return image.rsplit("@", 1)[1]


def repository_name(image: str) -> str:
    """The last path segment without tag or digest: `mcp-proxy`, `cloudflared`, `busybox`."""
    path = image.split("@", 1)[0]
    last = path.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def resolve_images(
    name: str,
    images: Mapping[str, str],
    *,
    mirror: bool,
    partition: str,
    kms_key_arn: pulumi.Input[str],
    tags: Mapping[str, str],
    parent: pulumi.Resource,
    naming: Naming,
) -> ImageSources:
    """Map each role (proxy, cloudflared, init, ...) to where its image is pulled from."""
    sources = ImageSources()
    mirrored: dict[str, aws.ecr.Repository] = {}
    for role, image in sorted(images.items()):
        arn = ecr_repository_arn(image, partition)
        if arn is not None:
            sources.by_role[role] = ImageSource(upstream=image, pull_ref=image, repository_arn=arn)
            continue
        if not mirror:
            sources.by_role[role] = ImageSource(upstream=image, pull_ref=image, repository_arn=None)
            continue
        repo_name = repository_name(image)
        repository = mirrored.get(repo_name)
        if repository is None:
            repository = aws.ecr.Repository(
                f"{name}-mirror-{repo_name}",
                name=f"{naming.prefix}/{repo_name}",
                image_tag_mutability="IMMUTABLE",
                encryption_configurations=[
                    aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS", kms_key=kms_key_arn)
                ],
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                    scan_on_push=True
                ),
                force_delete=False,
                tags=dict(tags),
                opts=pulumi.ResourceOptions(parent=parent),
            )
            mirrored[repo_name] = repository
        digest = digest_of(image)
        sources.by_role[role] = ImageSource(
            upstream=image,
            pull_ref=repository.repository_url.apply(lambda url, d=digest: f"{url}@{d}"),
            repository_arn=repository.arn,
            mirror_url=repository.repository_url,
        )
    return sources
