"""Rules about the self-hosted sandbox fleet that need more than one settings section.

Called from `cross_section_problems` once every section is valid on its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stockade.aws.egress_policy import interface_services
from stockade.aws.subnet_layout import subnet_layout
from stockade.settings.network import EgressEnforcement, EgressMode
from stockade.settings.problems import ConfigProblem, describe_value
from stockade.settings.sandboxes import SandboxProvider, WorkerMode

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
    zones = subnet_layout(network.cidr, network.availability_zones)
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
    wide = [str(c) for c in egress.allowed_cidrs if c.prefixlen < 8]
    if wide:
        found.append("network.egress.allowedCidrs includes networks wider than a /8: " + ", ".join(wide))
    return found
