"""`stockade:aws:SandboxFleet`: self-hosted Claude Managed Agents workers on ECS Fargate.

Per-session mode (default): a poller service runs `ant beta:worker poll --on-work
stockade-dispatch`; for each work item the dispatcher starts one sandbox task
(its own Fargate microVM) from the `session` family, passing only that session's
identifiers and its work secret's ARN, and caps how many run at once.

Pool mode: a service of long-running workers runs sessions in-process. Faster
to start, weaker isolation (sessions on one worker share its kernel, disk and
memory); the setting is reported as a weakening.

Nothing here scales with `maxConcurrentSessions`: it is one environment variable
of the poller. The resource count depends only on the mode and the switches.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from stockade.aws.fleet import iam as fleet_iam
from stockade.aws.fleet import tasks as fleet_tasks
from stockade.aws.fleet.alarms import AlarmTargets, fleet_alarm_specs
from stockade.aws.fleet.artifacts import artifacts_bucket
from stockade.aws.fleet.iam import FleetScope
from stockade.aws.fleet.tasks import FleetEnvironment, TaskSize
from stockade.aws.shared.alarm_topic import AlarmSubscriptionArgs
from stockade.aws.shared.alarms import metric_alarms, topic_for
from stockade.aws.shared.ecs_iam import execution_statements
from stockade.aws.shared.fargate import (
    TaskRuntime,
    TaskSpec,
    insights_cluster,
    private_service,
    task_definition,
)
from stockade.aws.shared.iam import Statement, ecs_tasks_trust_policy, role_with_policy
from stockade.aws.shared.logs import encrypted_log_group
from stockade.aws.shared.naming import naming_for
from stockade.aws.shared.secrets import SecretArgs, provided_secret_arn
from stockade.aws.shared.security_groups import (
    EgressRule,
    aws_service_egress,
    egress_only_security_group,
    internet_https,
)
from stockade.tags import with_component

COMPONENT = "sandbox-fleet"
DEFAULT_NAME = "stockade-sandboxes"


class SandboxFleetArgs(TypedDict):
    """Inputs of a SandboxFleet. Build them from settings with `fleet_args` (perimeter.py)."""

    account_id: str
    """Account the fleet runs in; every ARN in its policies is scoped to it."""

    region: str
    """Region of the cluster."""

    partition: str
    """AWS partition (`aws`, `aws-cn`, `aws-us-gov`)."""

    mode: Literal["per-session", "pool"]
    """`per-session` (a sandbox task per work item) or `pool` (in-process workers)."""

    environment_id: str
    """The self-hosted environment's ID (`env_...`)."""

    environment_key_arn: NotRequired[pulumi.Input[str]]
    """An existing Secrets Manager secret holding the environment key (the customer owns and
    rotates it). Give this or `environment_key_value`, not both. Either way the key reaches
    containers only as an ECS secret (`valueFrom`)."""

    environment_key_value: NotRequired[pulumi.Input[str]]
    """The environment key itself, as a Pulumi secret Output: the fleet stores it in Secrets
    Manager under the CMK. Give this or `environment_key_arn`, not both."""

    session_image: pulumi.Input[str] | None
    """Per-session mode: the sandbox image (pinned by digest where given)."""

    session_image_repository_arn: pulumi.Input[str] | None
    """The session image's ECR repository, for the sandbox execution role's pull grant."""

    worker_image: pulumi.Input[str]
    """The poller image (per-session) or the pool workers' image (pool)."""

    worker_image_repository_arn: pulumi.Input[str] | None
    """The worker image's ECR repository, for the poller/worker execution role's pull grant."""

    cpu_architecture: Literal["x86_64", "arm64"]
    """CPU architecture of every task."""

    resources: TaskSize
    """CPU, memory and ephemeral storage of each sandbox (or pool worker)."""

    max_concurrent_sessions: int
    """Per-session mode: the dispatcher's cap on running sandboxes."""

    api_proxy: NotRequired[bool]
    """Per-session mode: give each session task an API proxy container that alone receives the
    environment key (default true; false gives the sandbox the key and is a reported weakening)."""

    task_scoped_access: NotRequired[bool]
    """Per-session mode: each sandbox writes artifacts only under its own task's prefix and reads
    only its own work secret, keyed on its task-role session (default true; false widens both to
    every sandbox of the stack and is a reported weakening)."""

    poller_replicas: int
    """Per-session mode: poller tasks."""

    pool_size: int
    """Pool mode: worker tasks."""

    max_idle_seconds: int
    """`--max-idle` for `ant beta:worker run` (per-session) or `poll` (pool)."""

    enable_exec: bool
    """ECS Exec into the poller or pool workers."""

    queue_depth_alarm: int
    """QueueDepth above which the queue alarm fires."""

    alarm_topic_arn: NotRequired[pulumi.Input[str] | None]
    """The stack's AlarmTopic component. Without it (None) the fleet makes a topic of
    its own."""

    alarm_subscriptions: NotRequired[list[AlarmSubscriptionArgs]]
    """Where the fleet's own topic delivers; unused with `alarm_topic_arn`."""

    artifacts_expire_days: int
    """Lifetime of artifacts and of their old versions."""

    log_retention_days: int
    """Retention of the fleet's log groups."""

    vpc_id: pulumi.Input[str]
    """VPC of the fleet's security groups (Network.vpc_id)."""

    subnet_ids: pulumi.Input[list[str]]
    """Private subnets for every task (Network.private_subnet_ids)."""

    endpoints_security_group_id: pulumi.Input[str] | None
    """The VPC interface endpoints' security group, or None without endpoints."""

    s3_prefix_list_id: pulumi.Input[str] | None
    """The S3 gateway endpoint's prefix list, or None without it."""

    internet_prefix_list_id: pulumi.Input[str]
    """Public IPv4 space (Network.public_internet_prefix_list_id): HTTPS egress goes only there
    (and to the endpoints and `allowed_cidrs`), never to a private range."""

    allowed_cidrs: list[str]
    """Networks sandboxes may reach on 443 besides the internet (often private ones)."""

    protect: NotRequired[bool]
    """Protect the artifacts bucket from deletion (default true: `protect` and
    `retain_on_delete`); false only to destroy the fleet on purpose."""

    name_base: NotRequired[str]
    """First part of every physical name: cluster `<name_base>-<stack>`, task families
    `<name_base>-<stack>-<role>`, work secrets `<name_base>/<stack>/work/`. Default: derived
    from the component's name (aws/shared/naming.py)."""

    kms_key_arn: pulumi.Input[str]
    """The stack's CMK: secrets, work secrets, logs and artifacts."""

    permissions_boundary_arn: str | None
    """Boundary attached to every role the fleet creates."""

    tags: dict[str, str]
    """Stack tags; the component adds `stockade:component=sandbox-fleet`."""


@dataclass(frozen=True)
class _Workload:
    """What one ECS service of the fleet runs: its task definition, roles, security group and logs."""

    security_group: aws.ec2.SecurityGroup
    logs: aws.cloudwatch.LogGroup
    execution_role: aws.iam.Role
    task_role: aws.iam.Role
    task: aws.ecs.TaskDefinition


class SandboxFleet(pulumi.ComponentResource):
    """The ECS cluster, services, task definitions, roles, bucket, logs and alarms of the fleet."""

    cluster_arn: pulumi.Output[str]
    """ARN of the fleet's ECS cluster."""
    cluster_name: pulumi.Output[str]
    """Name of the cluster, `<name_base>-<stack>`."""
    environment_key_secret_arn: pulumi.Output[str]
    """The Secrets Manager secret holding the environment key (given or stored by the fleet)."""
    artifacts_bucket_name: pulumi.Output[str]
    """The bucket sessions upload artifacts to (protected by default)."""
    alarm_topic_arn: pulumi.Output[str]
    """The topic the fleet's alarms publish to (given, or the fleet's own)."""
    work_secret_prefix: str
    """Secrets Manager name prefix of per-session work secrets, `<name_base>/<stack>/work/`."""

    def __init__(self, name: str, args: SandboxFleetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stockade:aws:SandboxFleet", name, None, opts)
        self._name = name
        self._args = args
        self._tags = with_component(args["tags"], COMPONENT)
        self._naming = naming_for(name, DEFAULT_NAME, args.get("name_base"))
        # What the dispatcher and metrics call this fleet: the stack, or `<name>-<stack>`.
        self._stack = self._naming.scope
        self._outputs: dict[str, Any] = {}
        cluster_name = self._naming.prefix
        self._scope = FleetScope(
            account_id=args["account_id"],
            region=args["region"],
            partition=args["partition"],
            stack=self._stack,
            cluster_name=cluster_name,
            work_secret_prefix=self._naming.path("work") + "/",
        )
        self.work_secret_prefix = self._scope.work_secret_prefix

        cluster = insights_cluster(
            f"{name}-cluster",
            cluster_name=cluster_name,
            configuration=self._exec_configuration(),
            tags=self._tags,
            parent=self,
        )
        self.cluster_arn, self.cluster_name = cluster.arn, cluster.name
        self._cluster = cluster
        self.environment_key_secret_arn = self._environment_key()
        self._env = FleetEnvironment(self._stack, args["environment_id"], self.environment_key_secret_arn)
        self._artifacts = artifacts_bucket(
            f"{name}-artifacts",
            kms_key_arn=args["kms_key_arn"],
            expire_days=args["artifacts_expire_days"],
            tags=self._tags,
            parent=self,
            protect=args.get("protect", True),
        )
        self.artifacts_bucket_name = self._artifacts.bucket

        service = self._per_session() if args["mode"] == "per-session" else self._pool()

        self.alarm_topic_arn = topic_for(
            f"{name}-alarms",
            args.get("alarm_topic_arn"),
            account_id=args["account_id"],
            region=args["region"],
            partition=args["partition"],
            purpose="fleet-alarms",
            subscriptions=args.get("alarm_subscriptions", []),
            tags=self._tags,
            parent=self,
            name_base=self._naming.base,
        )
        metric_alarms(
            f"{name}-alarm",
            fleet_alarm_specs(
                AlarmTargets(
                    cluster_name=cluster.name,
                    service_name=service.name,
                    stack=self._stack,
                    alarm_prefix=self._naming.prefix,
                    queue_depth_threshold=args["queue_depth_alarm"],
                )
            ),
            topic_arn=self.alarm_topic_arn,
            tags=self._tags,
            parent=self,
        )
        self._outputs.update(
            {
                "sandboxClusterArn": cluster.arn,
                "sandboxClusterName": cluster.name,
                "sandboxEnvironmentKeySecretArn": self.environment_key_secret_arn,
                "sandboxArtifactsBucketName": self.artifacts_bucket_name,
                "sandboxAlarmTopicArn": self.alarm_topic_arn,
            }
        )
        self.register_outputs(dict(self._outputs))

    def _environment_key(self) -> pulumi.Output[str]:
        """The given secret's ARN, or a secret of the fleet's own holding the given value."""
        args = self._args
        secret: SecretArgs = {}
        if "environment_key_arn" in args:
            secret["arn"] = args["environment_key_arn"]
        if "environment_key_value" in args:
            secret["value"] = args["environment_key_value"]
        return provided_secret_arn(
            f"{self._name}-environment-key",
            secret,
            description=f"Stockade {self._stack}: Claude Managed Agents environment key",
            kms_key_arn=args["kms_key_arn"],
            tags=self._tags,
            parent=self,
        )

    def stack_outputs(self) -> dict[str, Any]:
        """Flat outputs named for what a caller needs (runbooks, other stacks, audits)."""
        return dict(sorted(self._outputs.items()))

    # ------------------------------------------------------------------ modes

    def _per_session(self) -> aws.ecs.Service:
        args, scope = self._args, self._scope
        session_image = args["session_image"]
        if session_image is None:
            raise ValueError(f"{self._name}: per-session mode needs the session image")
        session_family = self._naming.name("session")
        sandbox = self._workload(
            "sandbox",
            task_key="session",
            who="Per-session sandboxes",
            with_allowed_cidrs=True,
            repository_arn=args["session_image_repository_arn"],
            task_statements=lambda _logs: fleet_iam.sandbox_task_statements(
                scope,
                kms_key_arn=args["kms_key_arn"],
                artifacts_bucket_arn=self._artifacts.arn,
                task_scoped=args.get("task_scoped_access", True),
            ),
            task_role_description=(
                "What a sandbox's own code may call: read its work secret, upload its artifacts"
            ),
            spec=lambda task_role: fleet_tasks.session_task(
                self._env,
                family=session_family,
                image=session_image,
                resources=args["resources"],
                max_idle_seconds=args["max_idle_seconds"],
                artifacts_bucket=self._artifacts.bucket,
                artifacts_kms_key_arn=args["kms_key_arn"],
                sandbox_role_id=task_role.unique_id,
                api_proxy=args.get("api_proxy", True),
            ),
        )
        if args.get("api_proxy", True):
            # Every request a sandbox's API proxy refused (stockade.apiproxy logs `proxy.denied`
            # with the stack): a sandbox probing for other sessions' work shows up as a metric.
            aws.cloudwatch.LogMetricFilter(
                f"{self._name}-api-proxy-denied",
                log_group_name=sandbox.logs.name,
                pattern='{ $.event = "proxy.denied" }',
                metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                    name="ApiProxyDenied",
                    namespace=fleet_iam.METRICS_NAMESPACE,
                    value="1",
                    dimensions={"Stack": "$.stack"},
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        dispatcher_environment: dict[str, pulumi.Input[str]] = {
            "STOCKADE_STACK": self._stack,
            "STOCKADE_CLUSTER_ARN": self._cluster.arn,
            "STOCKADE_SESSION_TASK_DEFINITION": sandbox.task.arn,
            "STOCKADE_SESSION_CONTAINER": fleet_tasks.SESSION_CONTAINER,
            "STOCKADE_SUBNET_IDS": pulumi.Output.from_input(args["subnet_ids"]).apply(",".join),
            "STOCKADE_SECURITY_GROUP_IDS": sandbox.security_group.id,
            "STOCKADE_MAX_CONCURRENT_SESSIONS": str(args["max_concurrent_sessions"]),
            "STOCKADE_WORK_SECRET_PREFIX": scope.work_secret_prefix,
            "STOCKADE_KMS_KEY_ARN": args["kms_key_arn"],
        }
        if args.get("api_proxy", True):
            dispatcher_environment["STOCKADE_API_PROXY_CONTAINER"] = fleet_tasks.API_PROXY_CONTAINER
        if args.get("task_scoped_access", True):
            # The dispatcher scopes each work secret to the one task-role session of its task.
            dispatcher_environment[fleet_tasks.SANDBOX_ROLE_ID_VARIABLE] = sandbox.task_role.unique_id
        poller_family = self._naming.name("poller")
        poller = self._workload(
            "poller",
            task_key="poller",
            who="Pollers and dispatchers",
            with_allowed_cidrs=False,
            repository_arn=args["worker_image_repository_arn"],
            task_statements=lambda logs: fleet_iam.poller_task_statements(
                scope,
                cluster_arn=self._cluster.arn,
                session_family=session_family,
                sandbox_role_arns=[sandbox.execution_role.arn, sandbox.task_role.arn],
                kms_key_arn=args["kms_key_arn"],
                exec_log_group_arn=logs.arn if args["enable_exec"] else None,
                subnet_ids=args["subnet_ids"],
            ),
            task_role_description=(
                "The dispatcher: run sandbox tasks, manage per-session work secrets, publish queue metrics"
            ),
            spec=fleet_tasks.poller_task(
                self._env,
                family=poller_family,
                image=args["worker_image"],
                dispatcher_environment=dispatcher_environment,
            ),
        )
        service = self._service("poller", poller, args["poller_replicas"])
        self._outputs.update(
            {
                "sandboxSessionTaskFamily": session_family,
                "sandboxSessionTaskDefinitionArn": sandbox.task.arn,
                "sandboxSessionContainerName": fleet_tasks.SESSION_CONTAINER,
                "sandboxWorkSecretPrefix": scope.work_secret_prefix,
                "pollerServiceName": service.name,
                "pollerTaskFamily": poller_family,
            }
        )
        return service

    def _pool(self) -> aws.ecs.Service:
        args = self._args
        family = self._naming.name("worker")
        worker = self._workload(
            "worker",
            task_key="worker",
            who="Pool workers (sessions in-process)",
            with_allowed_cidrs=True,
            repository_arn=args["worker_image_repository_arn"],
            task_statements=lambda logs: fleet_iam.pool_task_statements(
                kms_key_arn=args["kms_key_arn"],
                exec_log_group_arn=logs.arn if args["enable_exec"] else None,
            ),
            task_role_description="Pool workers: publish queue metrics",
            spec=fleet_tasks.pool_worker_task(
                self._env,
                family=family,
                image=args["worker_image"],
                resources=args["resources"],
                max_idle_seconds=args["max_idle_seconds"],
            ),
            outputs_prefix="pool",
        )
        service = self._service("worker", worker, args["pool_size"])
        self._outputs.update({"poolServiceName": service.name, "poolTaskFamily": family})
        return service

    # ------------------------------------------------------------------ building blocks

    def _exec_configuration(self) -> dict[str, Any] | None:
        if not self._args["enable_exec"]:
            return None
        # Exec sessions are encrypted with the CMK and transcribed to the task's log group.
        return {
            "execute_command_configuration": {"kms_key_id": self._args["kms_key_arn"], "logging": "DEFAULT"}
        }

    def _security_group(self, role: str, who: str, *, with_allowed_cidrs: bool) -> aws.ec2.SecurityGroup:
        args = self._args
        rules = aws_service_egress(args["endpoints_security_group_id"], args["s3_prefix_list_id"])
        rules.append(
            internet_https(
                "HTTPS to public addresses; names are filtered by the network's egress filter",
                args["internet_prefix_list_id"],
            )
        )
        if with_allowed_cidrs:
            for cidr in args["allowed_cidrs"]:
                network = ipaddress.IPv4Network(cidr)
                rules.append(
                    EgressRule(
                        key=f"allowed-{network.network_address}-{network.prefixlen}".replace(".", "-"),
                        description=f"HTTPS to {cidr} (network.egress.allowedCidrs)",
                        protocol="tcp",
                        from_port=443,
                        to_port=443,
                        cidr_ipv4=str(network),
                    )
                )
        return egress_only_security_group(
            f"{self._name}-{role}-sg",
            vpc_id=args["vpc_id"],
            description=f"Stockade {who}: no ingress; HTTPS out only",
            rules=rules,
            tags=self._tags,
            parent=self,
        )

    def _log_group(self, role: str) -> aws.cloudwatch.LogGroup:
        return encrypted_log_group(
            f"{self._name}-{role}-logs",
            kms_key_arn=self._args["kms_key_arn"],
            retention_days=self._args["log_retention_days"],
            tags=self._tags,
            parent=self,
        )

    def _trust(self) -> str:
        args = self._args
        return ecs_tasks_trust_policy(args["account_id"], args["partition"], args["region"])

    def _execution_role(
        self, role: str, logs: aws.cloudwatch.LogGroup, repository_arn: pulumi.Input[str] | None
    ) -> aws.iam.Role:
        args = self._args
        return role_with_policy(
            f"{self._name}-{role}-execution-role",
            trust_policy=self._trust(),
            statements=execution_statements(
                region=args["region"],
                log_group_arn=logs.arn,
                secret_arns=[self.environment_key_secret_arn],
                kms_key_arn=args["kms_key_arn"],
                repository_arns=[repository_arn] if repository_arn is not None else [],
            ),
            permissions_boundary_arn=args["permissions_boundary_arn"],
            tags=self._tags,
            parent=self,
            description=f"ECS starts {role} tasks: pull the image, write logs, read the environment key",
        )

    def _task_role(self, role: str, statements: list[Statement], description: str) -> aws.iam.Role:
        return role_with_policy(
            f"{self._name}-{role}-task-role",
            trust_policy=self._trust(),
            statements=statements,
            permissions_boundary_arn=self._args["permissions_boundary_arn"],
            tags=self._tags,
            parent=self,
            description=description,
        )

    def _workload(
        self,
        role: str,
        *,
        task_key: str,
        who: str,
        with_allowed_cidrs: bool,
        repository_arn: pulumi.Input[str] | None,
        task_statements: Callable[[aws.cloudwatch.LogGroup], list[Statement]],
        task_role_description: str,
        spec: TaskSpec | Callable[[aws.iam.Role], TaskSpec],
        outputs_prefix: str | None = None,
    ) -> _Workload:
        """One task family with its own security group, log group, execution role and task role."""
        group = self._security_group(role, who, with_allowed_cidrs=with_allowed_cidrs)
        logs = self._log_group(role)
        execution_role = self._execution_role(role, logs, repository_arn)
        task_role = self._task_role(role, task_statements(logs), task_role_description)
        task = task_definition(
            f"{self._name}-{task_key}-task",
            spec(task_role) if callable(spec) else spec,
            TaskRuntime(
                execution_role_arn=execution_role.arn,
                task_role_arn=task_role.arn,
                log_group_name=logs.name,
                region=self._args["region"],
                cpu_architecture=self._args["cpu_architecture"].upper(),
            ),
            tags=self._tags,
            parent=self,
        )
        prefix = outputs_prefix or role
        self._outputs.update(
            {
                f"{prefix}SecurityGroupId": group.id,
                f"{prefix}ExecutionRoleArn": execution_role.arn,
                f"{prefix}TaskRoleArn": task_role.arn,
                f"{prefix}LogGroupName": logs.name,
            }
        )
        return _Workload(group, logs, execution_role, task_role, task)

    def _service(self, role: str, workload: _Workload, count: int) -> aws.ecs.Service:
        # A deployment that cannot reach steady state rolls back instead of leaving no poller.
        return private_service(
            f"{self._name}-{role}-service",
            cluster_arn=self._cluster.arn,
            task_definition_arn=workload.task.arn,
            desired_count=count,
            subnet_ids=self._args["subnet_ids"],
            security_group_id=workload.security_group.id,
            enable_exec=self._args["enable_exec"],
            tags=self._tags,
            parent=self,
        )
