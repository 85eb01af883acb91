"""Rules about the self-hosted sandbox fleet that need more than one settings section.

Called from `cross_section_problems` once every section is valid on its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stockade.netplan.egress_policy import interface_services
from stockade.netplan.subnet_layout import LayoutError, subnet_layout
from stockade.settings.network import EgressEnforcement, EgressMode
from stockade.settings.problems import ConfigProblem, describe_value
from stockade.settings.sandboxes import SandboxProvider, WorkerMode
from stockade.settings.types import is_pinned

if TYPE_CHECKING:
    from stockade.settings.stack import StackSettings


def fleet_problems(settings: StackSettings, *, aws_target: bool) -> list[ConfigProblem]:
    sandboxes = settings.sandboxes
    if sandboxes.provider is not SandboxProvider.SELF_HOSTED:
        return []
    problems: list[ConfigProblem] = []
    if not aws_target:
        for key, build in (
            ("sessionBuild", sandboxes.session_build),
            ("workerBuild", sandboxes.worker_build),
        ):
            if build is not None:
                problems.append(
                    ConfigProblem(
                        f"stockade:sandboxes.{key}",
                        "(set)",
                        "image builds push to an ECR repository, which only the aws target has",
                        "build and push the image yourself and set sessionImage/workerImage",
                    )
                )
        return problems
    problem = _address_capacity(settings)
    if problem is not None:
        problems.append(problem)
    return problems


def _address_capacity(settings: StackSettings) -> ConfigProblem | None:
    """Every Fargate task takes one private IP; a small VPC caps the fleet before the setting does."""
    network, sandboxes = settings.network, settings.sandboxes
    if network.bring_your_own:
        return None  # the subnets' sizes are not known offline; docs/sandbox-fleet.md says how to size them
    try:
        zones = subnet_layout(network.cidr, network.availability_zones)
    except LayoutError:
        return None  # the network's own rule reports the layout

    endpoints = len(interface_services(sandboxes.enable_exec)) if network.vpc_endpoints else 0
    capacity = sum(z.private_capacity - endpoints for z in zones)
    if sandboxes.mode is WorkerMode.PER_SESSION:
        wanted, key = sandboxes.max_concurrent_sessions + sandboxes.poller_replicas, "maxConcurrentSessions"
        value: object = sandboxes.max_concurrent_sessions
    else:
        wanted, key, value = sandboxes.pool_size, "poolSize", sandboxes.pool_size
    # Deployments start replacement tasks before stopping old ones, so leave room for both.
    if wanted * 2 <= capacity:
        return None
    return ConfigProblem(
        f"stockade:sandboxes.{key}",
        describe_value(value),
        f"the private subnets of a {network.cidr} VPC across {network.availability_zones} AZ(s) hold about "
        f"{capacity} task addresses, fewer than twice the {wanted} tasks this fleet runs",
        "lower it, or use a larger network.cidr or more network.availabilityZones",
    )


def egress_weakenings(settings: StackSettings) -> list[str]:
    """Egress settings that trade safety for cost or convenience, in plain words."""
    egress = settings.network.egress
    found: list[str] = []
    if egress.mode is EgressMode.FILTERED:
        if egress.enforcement is EgressEnforcement.DNS_FIREWALL:
            found.append(
                "network.egress.enforcement is 'dns-firewall': a process that connects to an IP "
                "address directly is not stopped by the domain allowlist"
            )
        elif egress.enforcement is EgressEnforcement.EXTERNAL:
            found.append(
                "network.egress.enforcement is 'external': egress filtering depends on the "
                "customer's own firewall, which Stockade neither creates nor checks"
            )
    from stockade.settings.stack import Target  # stack imports this module

    if settings.target is Target.AWS and not settings.network.vpc_endpoints:
        found.append(
            "network.vpcEndpoints is false: AWS service names go on the egress allowlist, so "
            "sandboxes can reach those services in any account (another account's S3 bucket, say)"
        )
    wide = [str(c) for c in egress.allowed_cidrs if c.prefixlen < 8]
    if wide:
        found.append("network.egress.allowedCidrs includes networks wider than a /8: " + ", ".join(wide))
    public = [str(c) for c in egress.allowed_cidrs if not c.is_private]
    if public:
        found.append(
            "network.egress.allowedCidrs includes public networks, which sandboxes reach by IP address "
            "without the domain (SNI) allowlist: " + ", ".join(public)
        )
    return found


# Prod logs are the incident record; a quarter is the least most audit regimes accept.
PROD_MIN_LOG_RETENTION_DAYS = 90


def production_problems(settings: StackSettings) -> list[ConfigProblem]:
    """Prod-only rules the policy pack also checks, refused here so `validate` fails first."""
    if not settings.is_production:
        return []
    problems: list[ConfigProblem] = []
    if settings.aws is not None and settings.aws.log_retention_days < PROD_MIN_LOG_RETENTION_DAYS:
        problems.append(
            ConfigProblem(
                "stockade:aws.logRetentionDays",
                describe_value(settings.aws.log_retention_days),
                f"a prod stack keeps its logs at least {PROD_MIN_LOG_RETENTION_DAYS} days",
                f"set aws.logRetentionDays: {PROD_MIN_LOG_RETENTION_DAYS} or more (365 is the default)",
            )
        )
    sandboxes = settings.sandboxes
    if sandboxes.provider is SandboxProvider.SELF_HOSTED:
        for key, image in (
            ("sessionImage", sandboxes.session_image),
            ("workerImage", sandboxes.worker_image),
        ):
            if image is not None and not is_pinned(image):
                problems.append(
                    ConfigProblem(
                        f"stockade:sandboxes.{key}",
                        describe_value(image),
                        "a prod stack runs images pinned by digest (a tag can change under it)",
                        "append @sha256:<digest> (`crane digest <image>` prints it)",
                    )
                )
    # Tunnel images are refused unpinned on every stack (TunnelImages._pinned).
    return problems
