"""The vendor's `setup` on Fargate: `setup init` on demand, `setup renew-cert` on a schedule.

Setup keeps its state in its output directory (`data/`: tunnel ID, CA, server
certificate and key, token, domain) and re-uses it on the next run; given an
empty directory it creates a new CA and registers it (docs/vendor-interface.md §2.4). A Fargate
volume is empty at every start, so each task brackets the vendor's binary:

1. `prepare` (busybox, uid 0, no capabilities) opens the task's volumes to the
   non-root containers (they are root-owned 0755 on Fargate);
2. `restore` (AWS CLI) fetches the WIF token with `sts:GetWebIdentityToken`
   and restores `data/` from a Secrets Manager secret (the state, under the CMK);
3. `setup` (the mcp-proxy image's `/setup`) runs with `--output dir:/setup/data`;
4. `publish` (AWS CLI) saves `data/` back, publishes the token, certificate and
   key into the secrets the gateway reads, and, when they changed, forces a new
   deployment of the gateway so its tasks pick them up.

Files in `data/` are saved flat (name and base64 per line); setup is assumed not
to write sub-directories (its file names are partly undocumented, docs/vendor-interface.md, unknown 8).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from stockade.aws.gateway.images import ImageSources
from stockade.aws.shared.containers import Container, Mount
from stockade.aws.shared.ecs_iam import execution_statements
from stockade.aws.shared.fargate import TaskRuntime, TaskSpec, task_definition
from stockade.aws.shared.iam import ecs_tasks_trust_policy, role_with_policy, service_trust_policy
from stockade.aws.shared.naming import Naming
from stockade.aws.shared.secrets import stored_secret
from stockade.aws.shared.security_groups import EgressRule, aws_service_egress, egress_only_security_group
from stockade.settings.tunnel import TunnelSettings

API_URL = "https://api.anthropic.com"
WORK, DATA, TMP = "setup-work", "setup-data", "setup-tmp"
_PATHS = {WORK: "/setup/work", DATA: "/setup/data", TMP: "/tmp"}  # noqa: S108 - a private task volume
STATE_PLACEHOLDER = "empty"
ROOT_REASON = "opens the setup task's root-owned Fargate volumes to its non-root containers; exits first"

_PREPARE = "chmod 1777 /setup/work /setup/data /tmp\n"

_RESTORE = """set -eu
umask 077
if [ -n "${WIF_AUDIENCE:-}" ]; then
  aws sts get-web-identity-token --audience "$WIF_AUDIENCE" --signing-algorithm RS256 \\
    --duration-seconds 900 --query WebIdentityToken --output text > /setup/work/identity-token
fi
aws secretsmanager get-secret-value --secret-id "$STATE_SECRET" --query SecretString --output text \\
  > /setup/work/state
if [ "$(head -n 1 /setup/work/state)" = "files:v1" ]; then
  tail -n +2 /setup/work/state | while read -r file body; do
    case "$file" in */*|.*|"") echo "stockade: refusing state entry '$file'" >&2; exit 1 ;; esac
    printf '%s' "$body" | base64 -d > "/setup/data/$file"
  done
fi
if [ -f /setup/data/tls.crt ]; then sha256sum /setup/data/tls.crt > /setup/work/tls.crt.before; fi
echo "stockade: setup state restored"
"""

_PUBLISH = """set -eu
umask 077
{ echo "files:v1"
  for path in /setup/data/*; do
    [ -f "$path" ] || continue
    printf '%s %s\\n' "$(basename "$path")" "$(base64 -w0 "$path")"
  done; } > /setup/work/state.new
aws secretsmanager put-secret-value --secret-id "$STATE_SECRET" \\
  --secret-string file:///setup/work/state.new > /dev/null
changed=0
if [ ! -f /setup/work/tls.crt.before ] || ! sha256sum -c --status /setup/work/tls.crt.before; then
  changed=1
fi
if [ "$PUBLISH_TOKEN" = "1" ] && [ -f /setup/data/tunnel-token ]; then
  tr -d '\\r\\n' < /setup/data/tunnel-token > /setup/work/token
  aws secretsmanager put-secret-value --secret-id "$TOKEN_SECRET" \\
    --secret-string file:///setup/work/token > /dev/null
  changed=1
fi
if [ "$changed" = "1" ]; then
  aws secretsmanager put-secret-value --secret-id "$CERT_SECRET" \\
    --secret-string file:///setup/data/tls.crt > /dev/null
  aws secretsmanager put-secret-value --secret-id "$KEY_SECRET" \\
    --secret-string file:///setup/data/tls.key > /dev/null
  aws ecs update-service --cluster "$CLUSTER" --service "$SERVICE" --force-new-deployment \\
    --query service.serviceName --output text
  echo "stockade: published the setup output and rolled the gateway"
else
  echo "stockade: nothing renewed; the gateway keeps running as it is"
fi
if [ -f /setup/data/tunnel-domain ]; then echo "stockade: tunnel domain $(cat /setup/data/tunnel-domain)"; fi
"""


@dataclass(frozen=True)
class SetupContext:
    """What the setup tasks need from the gateway and the stack."""

    tunnel: TunnelSettings
    images: ImageSources
    cluster_arn: pulumi.Output[str]
    gateway_service_arn: pulumi.Output[str]
    gateway_service_name: pulumi.Output[str]
    published: Mapping[str, pulumi.Output[str]]
    """TLS_CERT, TLS_KEY, TUNNEL_TOKEN -> the secrets the gateway reads."""
    log_group_name: pulumi.Output[str]
    log_group_arn: pulumi.Output[str]
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    endpoints_security_group_id: pulumi.Input[str] | None
    s3_prefix_list_id: pulumi.Input[str] | None
    internet_prefix_list_id: pulumi.Input[str] | None
    kms_key_arn: pulumi.Input[str]
    account_id: str
    region: str
    partition: str
    permissions_boundary_arn: str | None
    tags: dict[str, str]
    naming: Naming
    protect: bool
    """Protect the setup state secret (aws/shared/lifecycle.py)."""


@dataclass(frozen=True)
class SetupTasks:
    run_task_command: pulumi.Output[str]
    """The `aws ecs run-task` line that runs `setup init` once."""
    role_arn: pulumi.Output[str]
    """The init task's role: the `sub` of the WIF federation rule."""
    security_group_id: pulumi.Output[str]


def setup_egress_rules(ctx: SetupContext) -> list[EgressRule]:
    """HTTPS to the Anthropic API and the AWS APIs; nothing else."""
    rules = aws_service_egress(ctx.endpoints_security_group_id, ctx.s3_prefix_list_id)
    for cidr in ctx.tunnel.setup.api_cidrs:
        slug = "".join(c if c.isalnum() else "-" for c in str(cidr))
        rules.append(
            EgressRule(
                key=f"anthropic-api-{slug}",
                description="setup to api.anthropic.com (HTTPS)",
                protocol="tcp",
                from_port=443,
                to_port=443,
                cidr_ipv4=str(cidr),
            )
        )
    if ctx.endpoints_security_group_id is None or ctx.images.needs_internet:
        from stockade.aws.gateway.tunnel_gateway import https_to_internet_rule

        rules.append(https_to_internet_rule(ctx.internet_prefix_list_id))
    return rules


def _setup_command(ctx: SetupContext, renew: bool) -> list[str]:
    certificates = ctx.tunnel.certificates
    duration = f"{certificates.validity_hours}h"
    if renew:
        return [
            "renew-cert",
            "--output",
            "dir:/setup/data",
            "--cert-duration",
            duration,
            "--renew-before",
            f"{certificates.renew_before_hours}h",
        ]
    return [
        "init",
        "--output",
        "dir:/setup/data",
        "--cert-duration",
        duration,
        "--token-version",
        str(ctx.tunnel.token_version),
    ]


def _containers(ctx: SetupContext, state_arn: pulumi.Output[str], renew: bool) -> list[Container]:
    setup = ctx.tunnel.setup
    cli = ctx.images.by_role["aws_cli"].pull_ref
    work, data, tmp = (Mount(v, _PATHS[v]) for v in (WORK, DATA, TMP))
    restore_env: dict[str, pulumi.Input[str]] = {"STATE_SECRET": state_arn, "HOME": "/setup/work"}
    setup_env: dict[str, pulumi.Input[str]] = {"API_URL": API_URL}
    if not renew:
        restore_env["WIF_AUDIENCE"] = setup.audience
        setup_env |= {
            "ANTHROPIC_FEDERATION_RULE_ID": setup.federation_rule_id or "",
            "ANTHROPIC_ORGANIZATION_ID": setup.organization_id or "",
            "ANTHROPIC_IDENTITY_TOKEN_FILE": "/setup/work/identity-token",
        }
        if setup.workspace_id:
            setup_env["ANTHROPIC_WORKSPACE_ID"] = setup.workspace_id
        if setup.tunnel_id:
            setup_env["TUNNEL_ID"] = setup.tunnel_id
    publish_env: dict[str, pulumi.Input[str]] = {
        "STATE_SECRET": state_arn,
        "HOME": "/setup/work",
        "PUBLISH_TOKEN": "0" if renew else "1",
        "TOKEN_SECRET": ctx.published["TUNNEL_TOKEN"],
        "CERT_SECRET": ctx.published["TLS_CERT"],
        "KEY_SECRET": ctx.published["TLS_KEY"],
        "CLUSTER": ctx.cluster_arn,
        "SERVICE": ctx.gateway_service_name,
    }
    return [
        Container(
            name="prepare",
            image=ctx.images.by_role["init"].pull_ref,
            entry_point=["/bin/sh", "-c"],
            command=[_PREPARE],
            mounts=(work, data, tmp),
            essential=False,
            user="0:0",
            root_reason=ROOT_REASON,
        ),
        Container(
            name="restore",
            image=cli,
            entry_point=["/bin/sh", "-c"],
            command=[_RESTORE],
            environment=restore_env,
            mounts=(work, data),
            essential=False,
            depends_on={"prepare": "SUCCESS"},
        ),
        Container(
            name="setup",
            image=ctx.images.by_role["proxy"].pull_ref,
            entry_point=["/setup"],
            command=_setup_command(ctx, renew),
            environment=setup_env,
            mounts=(Mount(WORK, _PATHS[WORK], read_only=True), data, tmp),
            essential=False,
            depends_on={"restore": "SUCCESS"},
        ),
        Container(
            name="publish",
            image=cli,
            entry_point=["/bin/sh", "-c"],
            command=[_PUBLISH],
            environment=publish_env,
            mounts=(work, Mount(DATA, _PATHS[DATA], read_only=True)),
            depends_on={"setup": "SUCCESS"},
        ),
    ]


def _task_statements(ctx: SetupContext, state_arn: pulumi.Output[str], renew: bool) -> list[dict[str, Any]]:
    written = [state_arn, ctx.published["TLS_CERT"], ctx.published["TLS_KEY"]]
    if not renew:
        written.append(ctx.published["TUNNEL_TOKEN"])
    statements: list[dict[str, Any]] = [
        {
            "Sid": "SetupStateAndOutputs",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"],
            "Resource": written,
        },
        {
            "Sid": "SetupSecretsKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": ctx.kms_key_arn,
        },
        {
            "Sid": "RollTheGateway",
            "Effect": "Allow",
            "Action": "ecs:UpdateService",
            "Resource": ctx.gateway_service_arn,
        },
    ]
    if not renew:
        # The token is a JWT about this role, for Anthropic's federation; it grants nothing in AWS.
        statements.append(
            {
                "Sid": "WorkloadIdentity",
                "Effect": "Allow",
                "Action": "sts:GetWebIdentityToken",
                "Resource": "*",
            }
        )
    return statements


def setup_tasks(name: str, ctx: SetupContext, *, parent: pulumi.Resource) -> SetupTasks:
    state_arn = stored_secret(
        f"{name}-state",
        STATE_PLACEHOLDER,
        description="The vendor setup's data/ directory (tunnel ID, CA, certificates, token)",
        kms_key_arn=ctx.kms_key_arn,
        tags=ctx.tags,
        parent=parent,
        # The setup task owns the value from its first run on.
        initial_only=True,
        # The tunnel's identity (ID, CA, credentials): losing it means a new tunnel and a new CA.
        protect=ctx.protect,
    )
    group = egress_only_security_group(
        f"{name}-sg",
        vpc_id=ctx.vpc_id,
        description="MCP tunnel setup: no ingress; egress to the Anthropic API and AWS APIs",
        rules=setup_egress_rules(ctx),
        tags=ctx.tags,
        parent=parent,
    )
    trust = ecs_tasks_trust_policy(ctx.account_id, ctx.partition, ctx.region)
    execution = role_with_policy(
        f"{name}-execution",
        trust_policy=trust,
        statements=execution_statements(
            region=ctx.region, log_group_arn=ctx.log_group_arn, repository_arns=ctx.images.repository_arns
        ),
        permissions_boundary_arn=ctx.permissions_boundary_arn,
        tags=ctx.tags,
        parent=parent,
        description="Pulls the setup task's images and writes its logs",
    )
    definitions: dict[str, aws.ecs.TaskDefinition] = {}
    roles: dict[str, aws.iam.Role] = {}
    for kind, renew in (("init", False), ("renew", True)):
        roles[kind] = role_with_policy(
            f"{name}-{kind}-role",
            trust_policy=trust,
            statements=_task_statements(ctx, state_arn, renew),
            permissions_boundary_arn=ctx.permissions_boundary_arn,
            tags=ctx.tags,
            parent=parent,
            description=f"The tunnel setup task ({kind}): state, outputs, rolling the gateway",
        )
        definitions[kind] = task_definition(
            f"{name}-{kind}",
            TaskSpec(
                family=ctx.naming.name("tunnel", "setup", kind),
                cpu=256,
                memory_mib=512,
                containers=_containers(ctx, state_arn, renew),
                volumes=[WORK, DATA, TMP],
            ),
            TaskRuntime(
                execution_role_arn=execution.arn,
                task_role_arn=roles[kind].arn,
                log_group_name=ctx.log_group_name,
                region=ctx.region,
            ),
            tags=ctx.tags,
            parent=parent,
        )
    _renew_schedule(name, ctx, definitions["renew"], [execution, roles["renew"]], group, parent)
    return SetupTasks(
        run_task_command=_run_task_command(ctx, definitions["init"], group),
        role_arn=roles["init"].arn,
        security_group_id=group.id,
    )


def _renew_schedule(
    name: str,
    ctx: SetupContext,
    task: aws.ecs.TaskDefinition,
    passed_roles: list[aws.iam.Role],
    group: aws.ec2.SecurityGroup,
    parent: pulumi.Resource,
) -> None:
    trust = service_trust_policy("scheduler.amazonaws.com", ctx.account_id)
    role = role_with_policy(
        f"{name}-scheduler",
        trust_policy=trust,
        statements=[
            {
                "Sid": "RunRenewTask",
                "Effect": "Allow",
                "Action": "ecs:RunTask",
                "Resource": task.arn_without_revision.apply(lambda arn: f"{arn}:*"),
            },
            {
                "Sid": "PassRenewRoles",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": [r.arn for r in passed_roles],
                "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            },
            {
                # The schedule stays under the stack CMK like everything else, so Scheduler needs
                # this role to decrypt it (EventBridge Scheduler guide, "Encryption at rest"). The
                # encryption context names the schedule, so this grant opens no other data under
                # the key; the name is Pulumi's auto-name: the logical name plus a random suffix.
                "Sid": "DecryptTheRenewSchedule",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": ctx.kms_key_arn,
                "Condition": {
                    "ArnLike": {
                        "kms:EncryptionContext:aws:scheduler:schedule:arn": (
                            f"arn:{ctx.partition}:scheduler:{ctx.region}:{ctx.account_id}"
                            f":schedule/default/{name}-renew-schedule-*"
                        )
                    }
                },
            },
        ],
        permissions_boundary_arn=ctx.permissions_boundary_arn,
        tags=ctx.tags,
        parent=parent,
        description="Lets EventBridge Scheduler start the tunnel's renew-cert task",
    )
    aws.scheduler.Schedule(
        f"{name}-renew-schedule",
        description="Tunnel server certificate: setup renew-cert (a no-op until renewal is due)",
        schedule_expression=ctx.tunnel.setup.renew_schedule,
        flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(
            mode="FLEXIBLE", maximum_window_in_minutes=60
        ),
        kms_key_arn=ctx.kms_key_arn,
        target=aws.scheduler.ScheduleTargetArgs(
            arn=ctx.cluster_arn,
            role_arn=role.arn,
            ecs_parameters=aws.scheduler.ScheduleTargetEcsParametersArgs(
                task_definition_arn=task.arn,
                launch_type="FARGATE",
                platform_version="LATEST",
                task_count=1,
                enable_execute_command=False,
                network_configuration=aws.scheduler.ScheduleTargetEcsParametersNetworkConfigurationArgs(
                    subnets=ctx.subnet_ids, security_groups=[group.id], assign_public_ip=False
                ),
            ),
            retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(maximum_retry_attempts=2),
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def _run_task_command(
    ctx: SetupContext, task: aws.ecs.TaskDefinition, group: aws.ec2.SecurityGroup
) -> pulumi.Output[str]:
    def render(values: list[Any]) -> str:
        cluster, family, subnets, group_id = values
        return (
            f"aws ecs run-task --region {ctx.region} --cluster {cluster} --launch-type FARGATE "
            f"--task-definition {family} --network-configuration "
            f"'awsvpcConfiguration={{subnets=[{','.join(subnets)}],securityGroups=[{group_id}],"
            "assignPublicIp=DISABLED}'"
        )

    return pulumi.Output.all(ctx.cluster_arn, task.family, ctx.subnet_ids, group.id).apply(render)
