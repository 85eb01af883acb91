"""`stockade:aws:ProviderBridge`: a managed provider's polling orchestrator, run as one ECS task.

Daytona and Modal sandboxes run in the provider's cloud; what the customer runs is the
orchestrator that polls the environment's work queue and starts one provider sandbox
per session (docs/vendor-interface.md §3). The bridge runs it in the customer's account:

* private subnets, no public IP, a security group with zero ingress;
* egress: the AWS endpoints, plus HTTPS to the internet through the network's egress
  path, where the network's DNS Firewall / Network Firewall allowlist limits it to the
  vendor API and the provider's API hosts (stack validation requires them listed);
* secrets (environment key, provider API key) from Secrets Manager as ECS `secrets`;
* no task role: the orchestrator holds no AWS credentials at all;
* exactly one task, never two: the reference orchestrators allow one instance per
  environment, so deployments stop the old task before starting the new one (work
  stays queued meanwhile, docs/vendor-interface.md §1.1).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

import pulumi

from stockade.aws.shared.arns import partition_for
from stockade.aws.shared.containers import Container, Mount
from stockade.aws.shared.ecs_iam import ecr_repository_arn, execution_statements
from stockade.aws.shared.fargate import (
    TaskRuntime,
    TaskSpec,
    insights_cluster,
    private_service,
    task_definition,
)
from stockade.aws.shared.iam import ecs_tasks_trust_policy, role_with_policy
from stockade.aws.shared.logs import encrypted_log_group
from stockade.aws.shared.naming import naming_for
from stockade.aws.shared.secrets import SecretArgs, provided_secret_arn, secret_args
from stockade.aws.shared.security_groups import aws_service_egress, egress_only_security_group, internet_https
from stockade.settings.providers import bridge_settings
from stockade.tags import with_component

if TYPE_CHECKING:
    from stockade.settings import StackSettings

COMPONENT = "provider-bridge"
CONTAINER_NAME = "orchestrator"
TMP_VOLUME = "tmp"


class ProviderBridgeArgs(TypedDict):
    """Inputs of a ProviderBridge."""

    provider: str
    """Provider name (`daytona`, `modal`); names the task family and log prefix."""

    image: str
    """The orchestrator image (pinned by digest in prod; checked by stack validation)."""

    command: Sequence[str] | None
    """Command override, or None for the image's own."""

    environment: Mapping[str, str]
    """Plain environment: IDs, URLs and tuning knobs, never credentials."""

    secrets: Mapping[str, SecretArgs]
    """Environment variable -> an existing secret's ARN or a value the bridge stores under the
    CMK; each reaches the container as an ECS secret."""

    cpu: int
    """Fargate CPU units."""

    memory_mib: int
    """Fargate memory (MiB)."""

    cpu_architecture: str
    """`X86_64` or `ARM64`."""

    api_hosts: Sequence[str]
    """Hosts besides the vendor API the orchestrator reaches; recorded on the security group
    rule and exported, enforced by the network's domain allowlist."""

    vpc_id: pulumi.Input[str]
    """VPC of the private subnets."""

    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Private subnets (no route to an internet gateway)."""

    endpoints_security_group_id: pulumi.Input[str] | None
    """The interface endpoints' security group, or None without endpoints."""

    s3_prefix_list_id: pulumi.Input[str] | None
    """The S3 gateway endpoint's prefix list, or None without it."""

    internet_prefix_list_id: NotRequired[pulumi.Input[str] | None]
    """A managed prefix list of public IPv4 ranges to send internet HTTPS to; None sends it to
    0.0.0.0/0 and leaves the choice of destination to the network's firewall."""

    kms_key_arn: pulumi.Input[str]
    """The stack's CMK: encrypts the secrets Stockade stores and the log group."""

    log_retention_days: int
    """Retention of the orchestrator's log group."""

    account_id: str
    """Account the bridge runs in (trust-policy confused-deputy guard)."""

    region: str
    """Region of the cluster and log group."""

    partition: str
    """AWS partition."""

    permissions_boundary_arn: str | None
    """Boundary attached to the execution role, when configured."""

    tags: Mapping[str, str]
    """Stack tags; the component adds `stockade:component: provider-bridge`."""

    name_base: NotRequired[str]
    """First part of the task family, `<name_base>-<stack>-<provider>-bridge`; default: derived
    from the component's name (aws/shared/naming.py; the stack's `stockade-<provider>-bridge`
    gives `stockade`)."""


def _secret_resource_key(variable: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", variable.lower()).strip("-")


class ProviderBridge(pulumi.ComponentResource):
    """One Fargate task running the provider's orchestrator, outbound only."""

    cluster_arn: pulumi.Output[str]
    """The bridge's ECS cluster."""
    service_name: pulumi.Output[str]
    """The orchestrator's ECS service."""
    security_group_id: pulumi.Output[str]
    """The orchestrator's egress-only security group."""
    log_group_name: pulumi.Output[str]
    """The orchestrator's log group."""
    api_hosts: pulumi.Output[list[str]]
    """Hosts the orchestrator reaches besides the vendor API (for the network allowlist)."""

    def __init__(
        self, name: str, args: ProviderBridgeArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stockade:aws:ProviderBridge", name, None, opts)
        tags = with_component(dict(args["tags"]), COMPONENT)
        provider = args["provider"]
        region, partition, account = args["region"], args["partition"], args["account_id"]

        logs = encrypted_log_group(
            f"{name}-logs",
            kms_key_arn=args["kms_key_arn"],
            retention_days=args["log_retention_days"],
            tags=tags,
            parent=self,
        )
        secret_arns: dict[str, pulumi.Output[str]] = {
            variable: provided_secret_arn(
                f"{name}-{_secret_resource_key(variable)}",
                secret,
                description=f"Stockade {provider} orchestrator: {variable}",
                kms_key_arn=args["kms_key_arn"],
                tags=tags,
                parent=self,
            )
            for variable, secret in sorted(args["secrets"].items())
        }

        repository_arn = ecr_repository_arn(args["image"], partition)
        # Another registry than ECR: the pull goes through the egress path and needs no IAM.
        statements = execution_statements(
            region=region,
            log_group_arn=logs.arn,
            secret_arns=[secret_arns[k] for k in sorted(secret_arns)],
            kms_key_arn=args["kms_key_arn"],
            repository_arns=[repository_arn] if repository_arn is not None else [],
        )
        execution_role = role_with_policy(
            f"{name}-execution",
            trust_policy=ecs_tasks_trust_policy(account, partition, region),
            statements=statements,
            permissions_boundary_arn=args["permissions_boundary_arn"],
            tags=tags,
            parent=self,
            description=f"Stockade {provider} bridge: pull the image, read its secrets, write its logs",
        )

        hosts = sorted(args["api_hosts"])
        internet = internet_https(
            "HTTPS to api.anthropic.com and " + ", ".join(hosts) + " via the egress path; "
            "names are enforced by the network's domain allowlist",
            args.get("internet_prefix_list_id"),
        )
        group = egress_only_security_group(
            f"{name}-sg",
            vpc_id=args["vpc_id"],
            description=f"Stockade {provider} orchestrator: no ingress; HTTPS out only",
            rules=[
                *aws_service_egress(args["endpoints_security_group_id"], args["s3_prefix_list_id"]),
                internet,
            ],
            tags=tags,
            parent=self,
        )

        cluster = insights_cluster(f"{name}-cluster", tags=tags, parent=self)
        container = Container(
            name=CONTAINER_NAME,
            image=args["image"],
            command=list(args["command"]) if args["command"] is not None else None,
            environment=dict(args["environment"]),
            secrets=secret_arns,
            # The root filesystem is read-only; the orchestrator keeps its single-instance
            # lock file and scratch files in /tmp.
            mounts=[Mount(TMP_VOLUME, "/tmp")],  # noqa: S108 - a task-scoped volume, not a shared /tmp
        )
        task = task_definition(
            f"{name}-task",
            TaskSpec(
                family=naming_for(name, f"stockade-{provider}-bridge", args.get("name_base")).name(
                    provider, "bridge"
                ),
                cpu=args["cpu"],
                memory_mib=args["memory_mib"],
                containers=[container],
                volumes=[TMP_VOLUME],
            ),
            # No task role: the orchestrator holds no AWS credentials.
            TaskRuntime(
                execution_role_arn=execution_role.arn,
                log_group_name=logs.name,
                region=region,
                cpu_architecture=args["cpu_architecture"],
            ),
            tags=tags,
            parent=self,
        )
        # One orchestrator per environment: stop the old task before starting the new.
        service = private_service(
            f"{name}-service",
            cluster_arn=cluster.arn,
            task_definition_arn=task.arn,
            desired_count=1,
            subnet_ids=args["subnet_ids"],
            security_group_id=group.id,
            single_instance=True,
            tags=tags,
            parent=self,
        )

        self.cluster_arn = cluster.arn
        self.service_name = service.name
        self.security_group_id = group.id
        self.log_group_name = logs.name
        self.api_hosts = pulumi.Output.from_input(hosts)
        outputs: dict[str, Any] = {
            "cluster_arn": self.cluster_arn,
            "service_name": self.service_name,
            "security_group_id": self.security_group_id,
            "log_group_name": self.log_group_name,
            "api_hosts": self.api_hosts,
        }
        self.register_outputs(outputs)


def bridge_args(
    settings: StackSettings,
    *,
    vpc_id: pulumi.Input[str],
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]],
    endpoints_security_group_id: pulumi.Input[str] | None,
    s3_prefix_list_id: pulumi.Input[str] | None,
    kms_key_arn: pulumi.Input[str],
    tags: Mapping[str, str],
    internet_prefix_list_id: pulumi.Input[str] | None = None,
) -> ProviderBridgeArgs:
    """Map a bridged provider's settings onto ProviderBridge args (the perimeter's one call)."""
    sandboxes = settings.sandboxes
    bridge = bridge_settings(sandboxes)
    aws_settings, region = settings.aws, settings.aws_region
    # All enforced by validation before the program runs.
    assert bridge is not None and bridge.image is not None and aws_settings is not None and region is not None
    assert sandboxes.environment_id is not None and sandboxes.environment_key is not None
    return {
        "provider": sandboxes.provider.value,
        "image": bridge.image,
        "command": bridge.container_command,
        "environment": bridge.plain_environment(sandboxes.environment_id),
        "secrets": {
            variable: secret_args(setting, field=f"sandboxes ({variable})")
            for variable, setting in bridge.secret_environment(sandboxes.environment_key).items()
        },
        "cpu": bridge.cpu,
        "memory_mib": bridge.memory_mib,
        "cpu_architecture": bridge.cpu_architecture.ecs_value,
        "api_hosts": bridge.api_hosts,
        "vpc_id": vpc_id,
        "subnet_ids": subnet_ids,
        "endpoints_security_group_id": endpoints_security_group_id,
        "s3_prefix_list_id": s3_prefix_list_id,
        "internet_prefix_list_id": internet_prefix_list_id,
        "kms_key_arn": kms_key_arn,
        "log_retention_days": aws_settings.log_retention_days,
        "account_id": aws_settings.account_id,
        "region": region,
        "partition": partition_for(region),
        "permissions_boundary_arn": aws_settings.permissions_boundary_arn,
        "tags": tags,
    }
