"""The root of a stack's settings, and the rules that span sections."""

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from stockade.settings.base import BuiltWhenSet, SettingsModel, empty_dict
from stockade.settings.cost import CostSettings
from stockade.settings.docker_rules import docker_weakenings, target_problems
from stockade.settings.fleet_rules import egress_weakenings, fleet_problems, production_problems
from stockade.settings.network import EgressMode, NetworkSettings
from stockade.settings.platform import AwsSettings, DockerSettings, PolicySettings
from stockade.settings.problems import ConfigProblem, describe_value
from stockade.settings.providers import provider_problems, provider_weakenings
from stockade.settings.sandboxes import SandboxProvider, SandboxSettings, WorkerMode
from stockade.settings.shared import SharedSettings
from stockade.settings.tunnel import TunnelSettings
from stockade.settings.types import AwsRegion, Tags


class Target(StrEnum):
    AWS = "aws"
    DOCKER = "docker"
    CLOUDFLARE = "cloudflare"
    """Cloudflare account only (sandboxes.provider: cloudflare); no AWS, no tunnel."""
    VERCEL = "vercel"
    """Vercel project only (sandboxes.provider: vercel); no AWS, no tunnel."""


class Environment(StrEnum):
    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"


class StackSettings(SettingsModel):
    """Everything under the `stockade:` namespace of a stack file."""

    target: Target
    """Where the perimeter runs: `aws`, `docker`, or a managed provider's own platform
    (`cloudflare`, `vercel`; see docs/providers.md)."""

    environment: Environment
    """`dev`, `staging` or `prod`; prod turns on the high-availability rules."""

    aws_region: AwsRegion | None = Field(default=None, exclude=True)
    """Read from `aws:region` (not `stockade:`); required for the aws target."""

    aws: Annotated[AwsSettings | None, BuiltWhenSet()] = None
    """Account-level AWS settings; required for the aws target."""

    docker: DockerSettings = Field(default_factory=DockerSettings)
    """Docker host settings; used by the docker target."""

    network: NetworkSettings = Field(default_factory=NetworkSettings)
    """VPC and egress."""

    sandboxes: SandboxSettings = Field(default_factory=SandboxSettings)
    """Sandbox workers and sessions."""

    tunnel: TunnelSettings = Field(default_factory=TunnelSettings)
    """The MCP tunnel gateway."""

    policy: PolicySettings = Field(default_factory=PolicySettings)
    """Guardrail settings."""

    cost: CostSettings = Field(default_factory=CostSettings)
    """Usage assumptions for `stockade cost` and the diff's monthly estimate; no resource reads them."""

    shared: SharedSettings = Field(default_factory=SharedSettings)
    """The network, alarm topic or KMS key taken from another stack (StackReference)."""

    tags: Tags = Field(default_factory=empty_dict)
    """Tags added to every taggable resource (Stockade adds `stockade:stack` and
    `stockade:environment` itself)."""

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PROD

    def weakenings(self) -> list[str]:
        """Every setting that trades safety for something else, in plain words."""
        found = []
        if self.network.egress.mode is EgressMode.OPEN:
            found.append("network.egress.mode is 'open': sandboxes can reach any internet host")
        if not self.network.flow_logs.enabled:
            found.append("network.flowLogs.enabled is false: no record of connections")
        if self.sandboxes.mode is WorkerMode.POOL:
            found.append("sandboxes.mode is 'pool': sessions share a worker's kernel and disk")
        if self.aws is not None and not self.aws.protect_stateful_resources:
            found.append(
                "aws.protectStatefulResources is false: `pulumi destroy` deletes the KMS key, "
                "the artifacts bucket and the tunnel's setup state"
            )
        if self.sandboxes.api_proxy_disabled:
            found.append(
                "sandboxes.apiProxy.enabled is false: every per-session sandbox holds the environment "
                "key and can claim other sessions' work"
            )
        if self.aws is not None and self.sandboxes.task_scoping_off:
            found.append(
                "sandboxes.taskScopedAccess is false: a sandbox can add objects under every other "
                "session's artifact prefix and read any work secret whose name it learns"
            )
        if self.sandboxes.enable_exec:
            found.append("sandboxes.enableExec is true: operators can open shells in sandboxes")
        if self.tunnel.enabled and self.tunnel.disable_ip_validation:
            found.append("tunnel.disableIpValidation is true: the proxy's SSRF check is off")
        if self.tunnel.enabled and self.tunnel.allowed_ips is not None:
            extra = set(self.tunnel.allowed_ips) - set(self.tunnel.route_cidrs)
            if extra:
                found.append(
                    "tunnel.allowedIps is wider than the route targets: "
                    + ", ".join(sorted(str(c) for c in extra))
                )
        found.extend(egress_weakenings(self))
        found.extend(provider_weakenings(self))
        found.extend(docker_weakenings(self))
        found.extend(self.tunnel.weakenings(aws_target=self.target is Target.AWS))
        return found


def cross_section_problems(settings: StackSettings) -> list[ConfigProblem]:
    """Rules that span sections; run once every section is individually valid."""
    problems: list[ConfigProblem] = []

    def add(key: str, value: object, message: str, fix: str) -> None:
        problems.append(ConfigProblem(key, describe_value(value), message, fix))

    if settings.target is Target.AWS:
        if settings.aws_region is None:
            add("aws:region", None, "the aws target needs a region", "set aws:region, e.g. us-east-1")
        if settings.aws is None:
            add(
                "stockade:aws",
                None,
                "the aws target needs its account settings",
                "set stockade:aws.accountId to the 12-digit account this stack deploys into",
            )
    problems.extend(shared_problems(settings))
    if settings.is_production:
        network = settings.network
        if settings.target is Target.AWS and not network.bring_your_own and network.availability_zones < 2:
            add(
                "stockade:network.availabilityZones",
                network.availability_zones,
                "a prod stack needs at least 2 availability zones",
                "set network.availabilityZones: 2 or more",
            )
        if settings.network.bring_your_own and len(settings.network.private_subnet_ids) < 2:
            add(
                "stockade:network.privateSubnetIds",
                settings.network.private_subnet_ids,
                "a prod stack needs private subnets in at least 2 availability zones",
                "list at least two subnets in different AZs",
            )
        if settings.tunnel.enabled and settings.tunnel.replicas < 2:
            add(
                "stockade:tunnel.replicas",
                settings.tunnel.replicas,
                "a prod tunnel needs at least 2 replicas",
                "set tunnel.replicas: 2 or more",
            )
        sandboxes = settings.sandboxes
        if (
            settings.target is Target.AWS
            and sandboxes.provider is SandboxProvider.SELF_HOSTED
            and sandboxes.mode is WorkerMode.PER_SESSION
            and sandboxes.poller_replicas < 2
        ):
            add(
                "stockade:sandboxes.pollerReplicas",
                sandboxes.poller_replicas,
                "a prod fleet needs at least 2 poller replicas",
                "set sandboxes.pollerReplicas: 2 or more",
            )
    if settings.target is Target.DOCKER and settings.aws is not None:
        add(
            "stockade:aws",
            "(set)",
            "AWS account settings have no meaning on the docker target",
            "remove stockade:aws, or set target: aws",
        )
    problems.extend(fleet_problems(settings, aws_target=settings.target is Target.AWS))
    problems.extend(production_problems(settings))
    problems.extend(provider_problems(settings))
    problems.extend(target_problems(settings))
    return problems


def shared_problems(settings: StackSettings) -> list[ConfigProblem]:
    """`stockade:shared` entries that contradict the sections they replace."""
    shared = settings.shared
    problems: list[ConfigProblem] = []

    def add(key: str, value: object, message: str, fix: str) -> None:
        problems.append(ConfigProblem(key, describe_value(value), message, fix))

    if not shared.referenced_stacks:
        return problems
    if settings.target is not Target.AWS:
        add(
            "stockade:shared",
            sorted(shared.referenced_stacks),
            f"taking resources from another stack works on the aws target only, not {settings.target.value}",
            "remove stockade:shared, or set stockade:target: aws",
        )
    if shared.kms_key and settings.aws is not None and settings.aws.kms_key_arn:
        add(
            "stockade:shared.kmsKey.fromStack",
            shared.kms_key.from_stack,
            "the KMS key is given twice: by stockade:aws.kmsKeyArn and from another stack",
            "keep one: remove stockade:aws.kmsKeyArn or stockade:shared.kmsKey",
        )
    if shared.network and settings.network != NetworkSettings():
        add(
            "stockade:network",
            shared.network.from_stack,
            f"the network comes from {shared.network.from_stack}; stockade:network here would be ignored "
            "(its egress, endpoints and firewall are that stack's)",
            f"remove stockade:network from this stack and change egress in {shared.network.from_stack}",
        )
    elif shared.network and settings.network.vpc_id:
        add(
            "stockade:shared.network.fromStack",
            shared.network.from_stack,
            "the network is given twice: by stockade:network.vpcId and from another stack",
            "keep one: remove stockade:network.vpcId (and its subnets) or stockade:shared.network",
        )
    return problems
