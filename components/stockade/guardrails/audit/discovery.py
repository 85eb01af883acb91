"""Find a stack's deployed resources by the `stockade:stack` tag, and what the audit expects of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stockade.settings import StackSettings
from stockade.settings.sandboxes import SandboxProvider, WorkerMode
from stockade.settings.stack import Target
from stockade.tags import COMPONENT_TAG, STACK_TAG


@dataclass(frozen=True)
class Expectations:
    """What the stack file says the account should run."""

    stack: str
    account_id: str
    region: str
    gateway_replicas: int | None
    """Tunnel gateway tasks (tunnel.replicas) when the stack runs the tunnel on AWS."""
    poller_replicas: int | None
    """Poller tasks (sandboxes.pollerReplicas), or pool workers (sandboxes.poolSize) in pool mode."""
    extra_key_arns: tuple[str, ...] = ()
    """A customer key the stack uses but did not create (aws.kmsKeyArn): its rotation is checked too."""


def expectations_from_settings(
    stack: str, settings: StackSettings, region: str | None = None
) -> Expectations:
    if settings.target is not Target.AWS or settings.aws is None:
        raise ValueError(f"stack {stack} does not target AWS; there is no account to audit")
    sandboxes = settings.sandboxes
    poller: int | None = None
    if sandboxes.provider is SandboxProvider.SELF_HOSTED:
        poller = sandboxes.pool_size if sandboxes.mode is WorkerMode.POOL else sandboxes.poller_replicas
    return Expectations(
        stack=stack,
        account_id=settings.aws.account_id,
        region=region or settings.aws_region or "",
        gateway_replicas=settings.tunnel.replicas if settings.tunnel.enabled else None,
        poller_replicas=poller,
        extra_key_arns=(settings.aws.kms_key_arn,) if settings.aws.kms_key_arn else (),
    )


@dataclass(frozen=True)
class TaggedService:
    arn: str
    cluster: str
    name: str
    tags: dict[str, str]

    @property
    def component(self) -> str:
        return self.tags.get(COMPONENT_TAG, "")


@dataclass
class Inventory:
    """The stack's resources by kind, as the tagging API lists them."""

    security_groups: list[str] = field(default_factory=list)
    buckets: list[str] = field(default_factory=list)
    log_groups: list[str] = field(default_factory=list)
    kms_keys: list[str] = field(default_factory=list)
    services: list[TaggedService] = field(default_factory=list)

    def add(self, arn: str, tags: dict[str, str]) -> None:
        parts = arn.split(":", 5)
        if len(parts) < 6:
            return
        service, resource = parts[2], parts[5]
        if service == "ec2" and resource.startswith("security-group/"):
            self.security_groups.append(resource.split("/", 1)[1])
        elif service == "s3" and "/" not in resource:
            self.buckets.append(resource)
        elif service == "logs" and resource.startswith("log-group:"):
            self.log_groups.append(resource[len("log-group:") :].removesuffix(":*"))
        elif service == "kms" and resource.startswith("key/"):
            self.kms_keys.append(arn)
        elif service == "ecs" and resource.startswith("service/"):
            path = resource.split("/")
            # New-format ARNs are service/<cluster>/<name>; old ones service/<name> (default cluster).
            cluster, name = (path[1], path[2]) if len(path) == 3 else ("default", path[1])
            self.services.append(TaggedService(arn=arn, cluster=cluster, name=name, tags=tags))


def discover(tagging: Any, stack: str) -> Inventory:
    """Every resource tagged `stockade:stack=<stack>` in the client's region."""
    inventory = Inventory()
    paginator = tagging.get_paginator("get_resources")
    for page in paginator.paginate(TagFilters=[{"Key": STACK_TAG, "Values": [stack]}]):
        for item in page.get("ResourceTagMappingList", []):
            tags = {t["Key"]: t["Value"] for t in item.get("Tags", [])}
            inventory.add(item["ResourceARN"], tags)
    return inventory
