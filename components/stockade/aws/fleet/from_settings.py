"""Settings -> args for the Network and the self-hosted SandboxFleet (perimeter.py's blocks).

The allowlist is assembled here, in one place, from everything the stack runs:
the vendor API, `network.egress.allowedDomains`, the registries its images come
from, and what the tunnel gateway needs when it is enabled (docs/vendor-interface.md §2.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from stockade.aws.fleet.sandbox_fleet import SandboxFleetArgs
from stockade.aws.network.vpc import Network, NetworkArgs, flow_args
from stockade.aws.shared.alarm_topic import subscription_args
from stockade.aws.shared.ecs_iam import ecr_repository_arn
from stockade.aws.shared.references import ReferencedNetwork
from stockade.aws.shared.secrets import secret_args
from stockade.netplan.egress_policy import (
    CLOUDFLARED_DOMAINS,
    VENDOR_API_DOMAIN,
    FirewallFlow,
    cloudflared_flows,
    dedupe,
    interface_services,
    is_private,
    registry_domains,
)
from stockade.settings import StackSettings
from stockade.settings.sandboxes import ImageBuild, SandboxProvider
from stockade.settings.secrets import PulumiSecret, SecretReference


def egress_domains(settings: StackSettings) -> list[str]:
    """Every name workloads may resolve and reach (AWS API names are added by the Network)."""
    names = [VENDOR_API_DOMAIN, *settings.network.egress.allowed_domains]
    sandboxes = settings.sandboxes
    if sandboxes.provider is SandboxProvider.SELF_HOSTED:
        for image in (sandboxes.session_image, sandboxes.worker_image):
            if image is not None:
                names += registry_domains(image)
    tunnel = settings.tunnel
    if tunnel.enabled:
        # The allowlist is VPC-wide, so a registry on it is a place any sandbox can push data to.
        # Mirrored images (the default) are pulled from ECR over the endpoints; only the reported
        # `mirror: false` weakening needs the public registries.
        if not tunnel.images.mirror:
            for image in (tunnel.images.proxy, tunnel.images.cloudflared, tunnel.images.init):
                names += registry_domains(image)
            if tunnel.setup.enabled and tunnel.images.aws_cli is not None:
                names += registry_domains(tunnel.images.aws_cli)
        # Upstreams given by name are resolved by the proxy; their addresses are the route's
        # targetCidr, reached through the tunnel's own security group.
        names += [r.upstream.host for r in tunnel.routes.values() if r.upstream.ip is None]
    return dedupe(names)


def resolve_only_domains(settings: StackSettings) -> list[str]:
    """Names workloads resolve but reach only by address (kept off the Network Firewall's SNI list).

    cloudflared finds its edge through SRV and A records under argotunnel.com and then dials
    198.41.192.0/19 on 7844 (docs/vendor-interface.md §2.5, the `cloudflared_flows`); nothing it needs is
    served on 443 by name, so `*.argotunnel.com` only has to resolve.
    """
    return list(CLOUDFLARED_DOMAINS) if settings.tunnel.enabled else []


def egress_flows(settings: StackSettings) -> list[FirewallFlow]:
    """Destinations given as addresses that must cross the Network Firewall."""
    flows: list[FirewallFlow] = []
    if settings.tunnel.enabled:
        flows += cloudflared_flows()
    for cidr in settings.network.egress.allowed_cidrs:
        # Private networks are reached through local or transit routes, never the firewall.
        if not is_private(cidr):
            key = f"allowed-{cidr.network_address}-{cidr.prefixlen}".replace(".", "-")
            flows.append(FirewallFlow(key, f"{cidr} (network.egress.allowedCidrs)", str(cidr), "TCP", 443))
    return flows


def network_args(
    settings: StackSettings, *, kms_key_arn: pulumi.Input[str], partition: str, tags: dict[str, str]
) -> NetworkArgs:
    assert settings.aws is not None and settings.aws_region is not None  # enforced by validation
    network = settings.network
    return {
        "account_id": settings.aws.account_id,
        "region": settings.aws_region,
        "partition": partition,
        "cidr": str(network.cidr),
        "availability_zones": network.availability_zones,
        "vpc_id": network.vpc_id,
        "private_subnet_ids": list(network.private_subnet_ids),
        "private_route_table_ids": list(network.private_route_table_ids),
        "existing_endpoints_security_group_id": network.endpoints_security_group_id,
        "vpc_endpoints": network.vpc_endpoints,
        "interface_services": list(interface_services(settings.sandboxes.enable_exec)),
        "egress_mode": network.egress.mode.value,
        "enforcement": network.egress.enforcement.value,
        "allowed_domains": egress_domains(settings),
        "resolve_only_domains": resolve_only_domains(settings),
        "firewall_flows": [flow_args(flow) for flow in egress_flows(settings)],
        "connection_logs": network.flow_logs.enabled,
        "connection_log_retention_days": network.flow_logs.retention_days,
        "kms_key_arn": kms_key_arn,
        "permissions_boundary_arn": settings.aws.permissions_boundary_arn,
        "tags": tags,
    }


@dataclass(frozen=True)
class FleetImage:
    """A fleet image reference, and the ARN of its ECR repository when it is in ECR (for the pull grant)."""

    uri: pulumi.Input[str]
    repository_arn: pulumi.Input[str] | None


def fleet_images(
    settings: StackSettings, *, kms_key_arn: pulumi.Input[str], partition: str, tags: dict[str, str]
) -> tuple[FleetImage | None, FleetImage]:
    """(session image or None in pool mode, worker image): references as given, builds pushed."""
    sandboxes = settings.sandboxes

    def image(role: str, reference: str | None, build: ImageBuild | None) -> FleetImage | None:
        return _image(
            role, reference, build, settings, kms_key_arn=kms_key_arn, partition=partition, tags=tags
        )

    session = image("session", sandboxes.session_image, sandboxes.session_build)
    worker = image("worker", sandboxes.worker_image, sandboxes.worker_build)
    if worker is None:
        raise ValueError("a self-hosted fleet needs a worker image (settings validation requires it)")
    return session, worker


def _image(
    role: str,
    reference: str | None,
    build: ImageBuild | None,
    settings: StackSettings,
    *,
    kms_key_arn: pulumi.Input[str],
    partition: str,
    tags: dict[str, str],
) -> FleetImage | None:
    """A configured image reference as is, or a `SandboxImage` built and pushed to ECR."""
    if reference is not None:
        return FleetImage(reference, ecr_repository_arn(reference, partition))
    if build is None:
        return None
    from stockade.aws.fleet.sandbox_image import SandboxImage

    stack = pulumi.get_stack()
    image = SandboxImage(
        f"stockade-{role}-image",
        {
            "repository_name": f"stockade-{stack}/{role}",
            "context": build.context,
            "dockerfile": build.dockerfile_path,
            "tag": build.tag,
            "platform": settings.sandboxes.cpu_architecture.docker_platform,
            "kms_key_arn": kms_key_arn,
            "tags": tags,
        },
    )
    return FleetImage(image.image_uri, image.repository_arn)


def fleet_args(
    settings: StackSettings,
    *,
    network: Network | ReferencedNetwork,
    session: FleetImage | None,
    worker: FleetImage,
    kms_key_arn: pulumi.Input[str],
    partition: str,
    tags: dict[str, str],
    alarm_topic_arn: pulumi.Input[str] | None = None,
) -> SandboxFleetArgs:
    """The fleet's args; with `alarm_topic_arn` (the stack's topic) it makes no topic of its own."""
    assert settings.aws is not None and settings.aws_region is not None  # enforced by validation
    sandboxes = settings.sandboxes
    assert sandboxes.environment_id is not None and sandboxes.environment_key is not None  # validated
    args: SandboxFleetArgs = {
        "account_id": settings.aws.account_id,
        "region": settings.aws_region,
        "partition": partition,
        "mode": sandboxes.mode.value,
        "environment_id": sandboxes.environment_id,
        "session_image": session.uri if session is not None else None,
        "session_image_repository_arn": session.repository_arn if session is not None else None,
        "worker_image": worker.uri,
        "worker_image_repository_arn": worker.repository_arn,
        "cpu_architecture": sandboxes.cpu_architecture.value,
        "resources": {
            "cpu": sandboxes.resources.cpu,
            "memory_mib": sandboxes.resources.memory_mib,
            "ephemeral_storage_gib": sandboxes.resources.ephemeral_storage_gib,
        },
        "max_concurrent_sessions": sandboxes.max_concurrent_sessions,
        "api_proxy": sandboxes.api_proxy.enabled,
        "task_scoped_access": sandboxes.task_scoped_access,
        "poller_replicas": sandboxes.poller_replicas,
        "pool_size": sandboxes.pool_size,
        "max_idle_seconds": sandboxes.max_idle_seconds,
        "enable_exec": sandboxes.enable_exec,
        "queue_depth_alarm": sandboxes.queue_depth_alarm,
        "alarm_subscriptions": [subscription_args(s) for s in sandboxes.alarms.subscriptions],
        "artifacts_expire_days": sandboxes.artifacts.expire_days,
        "log_retention_days": settings.aws.log_retention_days,
        "vpc_id": network.vpc_id,
        "subnet_ids": network.private_subnet_ids,
        "endpoints_security_group_id": network.endpoints_security_group_id,
        "s3_prefix_list_id": network.s3_prefix_list_id,
        "internet_prefix_list_id": network.public_internet_prefix_list_id,
        "allowed_cidrs": [str(c) for c in settings.network.egress.allowed_cidrs],
        "kms_key_arn": kms_key_arn,
        "permissions_boundary_arn": settings.aws.permissions_boundary_arn,
        "tags": tags,
        "alarm_topic_arn": alarm_topic_arn,
        "protect": settings.aws.protect_stateful_resources,
    }
    _set_environment_key(args, sandboxes.environment_key)
    return args


def _set_environment_key(args: SandboxFleetArgs, setting: PulumiSecret | SecretReference) -> None:
    """`environment_key_arn` for a referenced secret, else the value for the fleet to store.

    The fleet, not this function, creates the Secrets Manager secret, so the secret stays
    the fleet's child (its URN is part of every deployed stack).
    """
    secret = secret_args(setting, field="sandboxes.environmentKey")
    if "arn" in secret:
        args["environment_key_arn"] = secret["arn"]
    if "value" in secret:
        args["environment_key_value"] = secret["value"]
