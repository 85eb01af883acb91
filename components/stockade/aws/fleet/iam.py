"""The fleet's IAM statements, exactly as the dispatcher contract states them.

Four roles, never shared: the poller's execution and task roles, the sandbox's
execution and task roles (pool mode: the worker's two). Execution roles only pull
the image, write the task's log group and read the environment key (ecs_iam.py);
the task roles here hold what the code inside the task calls. Every resource is scoped to this stack;
`Resource: "*"` appears only where the API has no resource type, with a condition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from stockade.aws.shared.arns import arn_concat
from stockade.aws.shared.ecs_iam import ecr_repository_arn as ecr_repository_arn  # re-exported
from stockade.aws.shared.ecs_iam import via_service
from stockade.aws.shared.iam import Statement

METRICS_NAMESPACE = "Stockade/Sandboxes"
ARTIFACTS_PREFIX = "tasks/"
# ECS names each task-role session after the task, so `aws:userid` is "<role ID>:<task ID>":
# one sandbox task's own key prefix, which no other task's credentials can match.
ARTIFACTS_WRITER = "${aws:userid}"


@dataclass(frozen=True)
class FleetScope:
    """Where the fleet's ARNs point: this account, region, stack and cluster."""

    account_id: str
    region: str
    partition: str
    stack: str
    cluster_name: str
    work_secret_prefix: str
    """Secrets Manager name prefix of per-session work secrets (dispatcher contract)."""

    @property
    def work_secrets_arn(self) -> str:
        return (
            f"arn:{self.partition}:secretsmanager:{self.region}:{self.account_id}:secret:"
            f"{self.work_secret_prefix}*"
        )

    @property
    def cluster_tasks_arn(self) -> str:
        return f"arn:{self.partition}:ecs:{self.region}:{self.account_id}:task/{self.cluster_name}/*"

    def task_definition_arn(self, family: str) -> str:
        """Every revision of one family, so a new revision needs no policy change."""
        return f"arn:{self.partition}:ecs:{self.region}:{self.account_id}:task-definition/{family}:*"

    @property
    def via_secrets_manager(self) -> dict[str, dict[str, str]]:
        # The CMK is usable only through Secrets Manager, never directly.
        return via_service("secretsmanager", self.region)


def queue_metrics_statement() -> Statement:
    """queue-stats publishes QueueDepth/PendingItems/WorkersPolling in its namespace only."""
    return {
        "Sid": "PublishQueueMetrics",
        "Effect": "Allow",
        "Action": ["cloudwatch:PutMetricData"],
        "Resource": "*",
        "Condition": {"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}},
    }


def exec_statements(*, kms_key_arn: pulumi.Input[str], log_group_arn: pulumi.Input[str]) -> list[Statement]:
    """ECS Exec, only when `sandboxes.enableExec` is true: the agent's channel (no resource
    type exists for it), the session encryption key, and the session transcript in the
    task's own log group."""
    return [
        {
            "Sid": "EcsExecChannel",
            "Effect": "Allow",
            "Action": [
                "ssmmessages:CreateControlChannel",
                "ssmmessages:CreateDataChannel",
                "ssmmessages:OpenControlChannel",
                "ssmmessages:OpenDataChannel",
            ],
            "Resource": "*",
        },
        {
            "Sid": "EcsExecSessionKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": [kms_key_arn],
        },
        {
            "Sid": "EcsExecTranscript",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            "Resource": [arn_concat(log_group_arn, ":*")],
        },
        {
            # DescribeLogGroups has no log-group resource; the agent calls it before writing.
            "Sid": "EcsExecFindsItsLogGroup",
            "Effect": "Allow",
            "Action": ["logs:DescribeLogGroups"],
            "Resource": "*",
        },
    ]


def poller_task_statements(
    scope: FleetScope,
    *,
    cluster_arn: pulumi.Input[str],
    session_family: str,
    sandbox_role_arns: Sequence[pulumi.Input[str]],
    kms_key_arn: pulumi.Input[str],
    exec_log_group_arn: pulumi.Input[str] | None,
    subnet_ids: pulumi.Input[list[str]],
) -> list[Statement]:
    """The dispatcher's grants, per the dispatcher contract (plus ECS Exec when enabled)."""
    in_cluster = {"ArnEquals": {"ecs:cluster": cluster_arn}}
    statements: list[Statement] = [
        {
            # A compromised poller must not place a sandbox anywhere else or open it up: the ECS
            # condition keys ecs:subnet, ecs:auto-assign-public-ip and ecs:enable-execute-command
            # (ECS developer guide, "How Amazon ECS works with IAM") pin what the dispatcher always
            # sends (dispatcher/launch.py). Operators' ECS Exec is on the pollers, never on the
            # sandboxes the dispatcher starts. ECS has no condition key for security groups.
            "Sid": "RunOnlySandboxTasksInThisCluster",
            "Effect": "Allow",
            "Action": ["ecs:RunTask"],
            "Resource": [scope.task_definition_arn(session_family)],
            "Condition": {
                **in_cluster,
                "ForAllValues:StringEquals": {"ecs:subnet": subnet_ids},
                # ForAllValues passes an empty set, so the subnets must also be present.
                "Null": {"ecs:subnet": "false"},
                "StringEquals": {
                    "ecs:auto-assign-public-ip": "false",
                    "ecs:enable-execute-command": "false",
                },
            },
        },
        {
            # ListTasks has no task resource; the cluster condition scopes it.
            "Sid": "CountSandboxesInThisCluster",
            "Effect": "Allow",
            "Action": ["ecs:ListTasks"],
            "Resource": "*",
            "Condition": in_cluster,
        },
        {
            # The age sweep finds expired work secrets by name prefix; ListSecrets takes no
            # resource. It returns metadata only: values stay behind GetSecretValue, which the
            # poller does not have.
            "Sid": "ListWorkSecrets",
            "Effect": "Allow",
            "Action": ["secretsmanager:ListSecrets"],
            "Resource": "*",
        },
        {
            "Sid": "DescribeSandboxesInThisCluster",
            "Effect": "Allow",
            "Action": ["ecs:DescribeTasks"],
            "Resource": [scope.cluster_tasks_arn],
            "Condition": in_cluster,
        },
        {
            "Sid": "TagSandboxesAtLaunch",
            "Effect": "Allow",
            "Action": ["ecs:TagResource"],
            "Resource": [scope.cluster_tasks_arn],
            "Condition": {"StringEquals": {"ecs:CreateAction": "RunTask"}},
        },
        {
            "Sid": "PassOnlyTheSandboxRoles",
            "Effect": "Allow",
            "Action": ["iam:PassRole"],
            "Resource": list(sandbox_role_arns),
            "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        },
        {
            "Sid": "ManagePerSessionWorkSecrets",
            "Effect": "Allow",
            "Action": [
                "secretsmanager:CreateSecret",
                "secretsmanager:DeleteSecret",
                "secretsmanager:DescribeSecret",
                "secretsmanager:PutResourcePolicy",
                "secretsmanager:TagResource",
            ],
            "Resource": [scope.work_secrets_arn],
        },
        {
            # CreateSecret under a customer-managed key needs GenerateDataKey and Decrypt, not
            # Encrypt (Secrets Manager user guide, "Permissions for the KMS key").
            "Sid": "EncryptWorkSecretsWithTheStackKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": [kms_key_arn],
            "Condition": scope.via_secrets_manager,
        },
        queue_metrics_statement(),
    ]
    if exec_log_group_arn is not None:
        statements += exec_statements(kms_key_arn=kms_key_arn, log_group_arn=exec_log_group_arn)
    return statements


def sandbox_task_statements(
    scope: FleetScope,
    *,
    kms_key_arn: pulumi.Input[str],
    artifacts_bucket_arn: pulumi.Input[str],
    task_scoped: bool = True,
) -> list[Statement]:
    """A sandbox may read work secrets (its own; the nonce makes others' names unguessable) and
    write, never read, artifacts under its own task's prefix `tasks/<role ID>:<task ID>/`.

    `task_scoped=False` (`sandboxes.taskScopedAccess: false`, a reported weakening) widens the
    write to every task's prefix, for an account where task-role sessions are not named after
    the task."""
    writer = ARTIFACTS_WRITER if task_scoped else "*"
    return [
        {
            "Sid": "ReadItsWorkSecret",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": [scope.work_secrets_arn],
        },
        {
            "Sid": "DecryptItsWorkSecret",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": [kms_key_arn],
            "Condition": scope.via_secrets_manager,
        },
        {
            "Sid": "UploadItsOwnArtifacts",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": [arn_concat(artifacts_bucket_arn, "/", ARTIFACTS_PREFIX, writer, "/*")],
        },
        {
            # Single-request PutObject under SSE-KMS needs only GenerateDataKey (no multipart).
            "Sid": "EncryptArtifactsWithTheStackKey",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey"],
            "Resource": [kms_key_arn],
            "Condition": via_service("s3", scope.region),
        },
    ]


def pool_task_statements(
    *, kms_key_arn: pulumi.Input[str], exec_log_group_arn: pulumi.Input[str] | None
) -> list[Statement]:
    """Pool workers call nothing in AWS themselves; their queue-stats sidecar publishes metrics."""
    statements: list[Statement] = [queue_metrics_statement()]
    if exec_log_group_arn is not None:
        statements += exec_statements(kms_key_arn=kms_key_arn, log_group_arn=exec_log_group_arn)
    return statements
