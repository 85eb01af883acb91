"""A small, fully compliant perimeter to mutate, and helpers the policy tests share.

The program below is synthesized through the real offline engine, so its
resources carry the same wire names, dependencies and URNs as a real
component's. Each mutation test weakens one property of it.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable, Iterable
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker

from stockade.engine import SynthResource, SynthResult, synthesize_config
from stockade.guardrails.offline import context_for, evaluate
from stockade.guardrails.pack import policy_config
from stockade.guardrails.report import FindingKind, PolicyReport, Status
from stockade.guardrails.rules import RULES
from stockade.settings.load import validate
from stockade.tunnel.proxy_config import render_proxy_config

ACCOUNT = "123456789012"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/stockade-boundary"
DIGEST = "@sha256:" + "ab" * 32
VPC_CIDR = "10.20.0.0/16"
ROUTE_CIDR = "10.20.100.10/32"
TAGS = {"stockade:stack": "policy-test", "stockade:environment": "prod", "owner": "platform"}

BASE_CONFIG: dict[str, Any] = {
    "aws:region": "us-east-1",
    "stockade:target": "aws",
    "stockade:environment": "prod",
    "stockade:aws": {"accountId": ACCOUNT, "permissionsBoundaryArn": BOUNDARY},
    "stockade:sandboxes": {
        "environmentId": "env_01PolicyTest",
        "environmentKey": {"secure": "v1:3YbY+V7eKIk2g4tq:djE6YTJWNcjx/T0xtpSQ6Iq6JF6cq2w="},
        "sessionImage": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/session{DIGEST}",
        "workerImage": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/poller{DIGEST}",
        "pollerReplicas": 2,
    },
    "stockade:tunnel": {
        "enabled": True,
        "replicas": 2,
        "tunnelDomain": "a1b2c3d4.tunnel.anthropic.com",
        "routes": {"wiki": "http://10.20.100.10:8080"},
        "token": {"secure": "v1:QngG5h65SBkXAwmp:djE6ZEc5clpXND0OjlAL1rWK0NiCE6yig8bs"},
    },
    "stockade:policy": {"requiredTags": ["stockade:stack", "stockade:environment", "owner"]},
    "stockade:tags": {"owner": "platform"},
}


class FleetStandIn(pulumi.ComponentResource):
    """Stands in for the fleet component only by its type token, which the ECS Exec rule keys on."""

    def __init__(self, name: str) -> None:
        super().__init__("stockade:aws:SandboxFleet", name, None, None)


class GatewayStandIn(pulumi.ComponentResource):
    def __init__(self, name: str) -> None:
        super().__init__("stockade:aws:TunnelGateway", name, None, None)


from stockade.workqueue.proxy_contract import PLACEHOLDER_KEY, PROXY_ENTRY  # noqa: E402


def _container(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{name}{DIGEST}",
        "essential": True,
        "user": "65532:65532",
        "readonlyRootFilesystem": True,
        "privileged": False,
        "linuxParameters": {"capabilities": {"drop": ["ALL"]}, "initProcessEnabled": True},
        "stopTimeout": 30,
        **extra,
    }


def compliant_program() -> None:
    """Every rule's subject, built the compliant way."""
    from stockade.program import load_settings

    settings = load_settings()
    child = pulumi.ResourceOptions
    key = aws.kms.Key("key", enable_key_rotation=True, rotation_period_in_days=365, tags=TAGS)

    vpc = aws.ec2.Vpc("vpc", cidr_block=VPC_CIDR, tags=TAGS)
    aws.ec2.FlowLog(
        "vpc-flow", vpc_id=vpc.id, traffic_type="ALL", log_destination="arn:aws:logs:x", tags=TAGS
    )
    subnet = aws.ec2.Subnet("private-a", vpc_id=vpc.id, cidr_block="10.20.1.0/24", tags=TAGS)
    aws.route53.ResolverFirewallRuleGroupAssociation(
        "dns-filter", firewall_rule_group_id="rslvr-frg-1", priority=101, vpc_id=vpc.id, tags=TAGS
    )

    endpoints_sg = aws.ec2.SecurityGroup("endpoints", vpc_id=vpc.id, description="endpoints", tags=TAGS)
    aws.vpc.SecurityGroupIngressRule(
        "endpoints-https",
        security_group_id=endpoints_sg.id,
        ip_protocol="tcp",
        from_port=443,
        to_port=443,
        cidr_ipv4=VPC_CIDR,
        tags=TAGS,
        opts=child(parent=endpoints_sg),
    )
    aws.ec2.VpcEndpoint(
        "secretsmanager",
        vpc_id=vpc.id,
        service_name="com.amazonaws.us-east-1.secretsmanager",
        vpc_endpoint_type="Interface",
        security_group_ids=[endpoints_sg.id],
        tags=TAGS,
    )
    workload_sg = aws.ec2.SecurityGroup("workload", vpc_id=vpc.id, description="workload", tags=TAGS)
    for rule_name, extra in (
        ("endpoints", {"ip_protocol": "tcp", "from_port": 443, "to_port": 443,
                       "referenced_security_group_id": endpoints_sg.id}),
        ("edge", {"ip_protocol": "tcp", "from_port": 7844, "to_port": 7844, "cidr_ipv4": "198.41.192.0/19"}),
        ("https", {"ip_protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_ipv4": "0.0.0.0/0"}),
    ):  # fmt: skip
        aws.vpc.SecurityGroupEgressRule(
            f"workload-egress-{rule_name}",
            security_group_id=workload_sg.id,
            tags=TAGS,
            opts=child(parent=workload_sg),
            **extra,
        )

    bucket = aws.s3.Bucket("artifacts", tags=TAGS)
    aws.s3.BucketServerSideEncryptionConfiguration(
        "artifacts-sse",
        bucket=bucket.id,
        rules=[
            {
                "apply_server_side_encryption_by_default": {
                    "sse_algorithm": "aws:kms",
                    "kms_master_key_id": key.arn,
                },
                "bucket_key_enabled": True,
            }
        ],
    )
    aws.s3.BucketPublicAccessBlock(
        "artifacts-pab",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
    )
    aws.s3.BucketPolicy(
        "artifacts-tls",
        bucket=bucket.id,
        policy=bucket.arn.apply(
            lambda arn: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [arn, f"{arn}/*"],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                }
            )
        ),
    )
    aws.s3.BucketVersioning(
        "artifacts-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"}
    )

    logs = aws.cloudwatch.LogGroup("logs", kms_key_id=key.arn, retention_in_days=365, tags=TAGS)
    secret = aws.secretsmanager.Secret("environment-key", kms_key_id=key.arn, tags=TAGS)

    role = aws.iam.Role(
        "task-role",
        assume_role_policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
        permissions_boundary=BOUNDARY,
        tags=TAGS,
    )
    aws.iam.RolePolicy(
        "task-role-policy",
        role=role.id,
        policy=bucket.arn.apply(
            lambda arn: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Sid": "Artifacts", "Effect": "Allow", "Action": ["s3:PutObject"],
                         "Resource": f"{arn}/tasks/${{aws:userid}}/*"},
                        {"Sid": "Metrics", "Effect": "Allow", "Action": "cloudwatch:PutMetricData",
                         "Resource": "*"},
                    ],
                }
            )
        ),
    )  # fmt: skip

    fleet = FleetStandIn("fleet")
    poller_definitions = pulumi.Output.all(secret.arn, logs.name).apply(
        lambda values: json.dumps(
            [
                _container(
                    "poller",
                    command=["ant", "beta:worker", "poll", "--on-work", "/usr/local/bin/stockade-dispatch"],
                    environment=[{"name": "ANTHROPIC_ENVIRONMENT_ID", "value": "env_01Test"}],
                    secrets=[{"name": "ANTHROPIC_ENVIRONMENT_KEY", "valueFrom": values[0]}],
                    logConfiguration={"logDriver": "awslogs", "options": {"awslogs-group": values[1]}},
                )
            ]
        )
    )
    poller_task = aws.ecs.TaskDefinition(
        "poller",
        family="poller",
        container_definitions=poller_definitions,
        requires_compatibilities=["FARGATE"],
        network_mode="awsvpc",
        cpu="256",
        memory="512",
        task_role_arn=role.arn,
        tags=TAGS,
        opts=child(parent=fleet),
    )
    _service("poller", poller_task, subnet, workload_sg, fleet)
    # The per-session sandbox task: only its api-proxy container receives the environment key.
    session_definitions = pulumi.Output.all(secret.arn, logs.name).apply(
        lambda values: json.dumps(
            [
                _container(
                    "api-proxy",
                    entryPoint=[PROXY_ENTRY],
                    environment=[{"name": "ANTHROPIC_ENVIRONMENT_ID", "value": "env_01Test"}],
                    secrets=[{"name": "ANTHROPIC_ENVIRONMENT_KEY", "valueFrom": values[0]}],
                    logConfiguration={"logDriver": "awslogs", "options": {"awslogs-group": values[1]}},
                ),
                _container(
                    "session",
                    entryPoint=["/usr/local/bin/stockade-session-entry"],
                    environment=[
                        {"name": "ANTHROPIC_ENVIRONMENT_ID", "value": "env_01Test"},
                        {"name": "ANTHROPIC_BASE_URL", "value": "http://127.0.0.1:8790"},
                        {"name": "ANTHROPIC_ENVIRONMENT_KEY", "value": PLACEHOLDER_KEY},
                    ],
                    secrets=[],
                    stopTimeout=120,
                    dependsOn=[{"containerName": "api-proxy", "condition": "HEALTHY"}],
                    logConfiguration={"logDriver": "awslogs", "options": {"awslogs-group": values[1]}},
                ),
            ]
        )
    )
    aws.ecs.TaskDefinition(
        "session-task",
        family="session",
        container_definitions=session_definitions,
        requires_compatibilities=["FARGATE"],
        network_mode="awsvpc",
        cpu="256",
        memory="512",
        task_role_arn=role.arn,
        tags=TAGS,
        opts=child(parent=fleet),
    )

    gateway = GatewayStandIn("gateway")
    aws.ssm.Parameter(
        "gateway-proxy-config",
        type="String",
        # insecure_value: the config holds no secret, and `value` is always wrapped as one.
        insecure_value=render_proxy_config(settings.tunnel),
        tags=TAGS,
        opts=child(parent=gateway),
    )
    gateway_task = aws.ecs.TaskDefinition(
        "gateway-task",
        family="gateway",
        container_definitions=json.dumps([_container("mcp-proxy"), _container("cloudflared")]),
        requires_compatibilities=["FARGATE"],
        network_mode="awsvpc",
        cpu="256",
        memory="512",
        tags=TAGS,
        opts=child(parent=gateway),
    )
    _service("gateway", gateway_task, subnet, workload_sg, gateway)

    image = docker.RemoteImage("local-proxy-image", name=f"ghcr.io/example/mcp-proxy{DIGEST}")
    docker.Container(
        "local-proxy",
        image=image.name,
        user="65532:65532",
        read_only=True,
        privileged=False,
        capabilities={"drops": ["ALL"]},
        security_opts=["no-new-privileges:true"],
        stop_timeout=30,
        command=["--config", "/etc/mcp-gateway/config.yaml"],
    )


def _service(
    name: str,
    task: aws.ecs.TaskDefinition,
    subnet: aws.ec2.Subnet,
    group: aws.ec2.SecurityGroup,
    parent: pulumi.Resource,
) -> None:
    aws.ecs.Service(
        f"{name}-service",
        cluster="stockade",
        task_definition=task.arn,
        desired_count=2,
        enable_execute_command=False,
        network_configuration={
            "subnets": [subnet.id],
            "security_groups": [group.id],
            "assign_public_ip": False,
        },
        deployment_circuit_breaker={"enable": True, "rollback": True},
        tags=TAGS,
        opts=pulumi.ResourceOptions(parent=parent),
    )


_BASELINE: dict[str, SynthResult] = {}


def baseline() -> SynthResult:
    """The compliant program's synth (cached: results are immutable)."""
    if "result" not in _BASELINE:
        _BASELINE["result"] = synthesize_config("policy-test", BASE_CONFIG, compliant_program)
    return _BASELINE["result"]


def config_with(**sections: Any) -> dict[str, Any]:
    """BASE_CONFIG with some `stockade:` sections replaced (keys without the namespace)."""
    config = copy.deepcopy(BASE_CONFIG)
    for key, value in sections.items():
        config[f"stockade:{key}"] = value
    return config


def run_rules(
    resources: Iterable[SynthResource], config: dict[str, Any] | None = None, stack: str = "policy-test"
) -> PolicyReport:
    """Evaluate the pack with the policy config that `config`'s settings imply."""
    settings = validate(stack, config or BASE_CONFIG)
    return evaluate(
        list(resources), policy_config(settings), stack=stack, context=context_for(settings, stack)
    )


def failing(report: PolicyReport) -> set[str]:
    return {o.rule for o in report.outcomes if o.status in (Status.FAIL, Status.WARN)}


def edit(
    resources: Iterable[SynthResource], name: str, change: Callable[[dict[str, Any]], None]
) -> list[SynthResource]:
    """A copy of `resources` where the resource named `name` had `change` applied to its inputs."""
    out: list[SynthResource] = []
    hits = 0
    for resource in resources:
        if resource.name == name:
            inputs = copy.deepcopy(resource.inputs)
            change(inputs)
            resource = dataclasses.replace(resource, inputs=inputs)
            hits += 1
        out.append(resource)
    assert hits == 1, f"expected one resource named {name}, found {hits}"
    return out


def without(resources: Iterable[SynthResource], name: str) -> list[SynthResource]:
    """A copy of `resources` with the resource named `name` removed."""
    before = list(resources)
    kept = [r for r in before if r.name != name]
    assert len(kept) == len(before) - 1, f"expected one resource named {name}"
    return kept


def edit_containers(
    resources: Iterable[SynthResource], task: str, change: Callable[[list[dict[str, Any]]], None]
) -> list[SynthResource]:
    """Edit the JSON `containerDefinitions` string of task definition `task`."""

    def apply(inputs: dict[str, Any]) -> None:
        definitions = json.loads(inputs["containerDefinitions"])
        change(definitions)
        inputs["containerDefinitions"] = json.dumps(definitions)

    return edit(resources, task, apply)


def test_the_baseline_is_compliant_with_every_rule() -> None:
    report = run_rules(baseline().resources)
    assert report.passed
    assert failing(report) == set()
    assert not report.of_kind(FindingKind.NOT_CHECKED)
    assert not report.of_kind(FindingKind.ALLOWED)
    statuses = {o.rule: o.status for o in report.outcomes}
    # Every rule had something to look at: none is vacuously "n/a" on the baseline.
    assert {rule for rule, status in statuses.items() if status is Status.NOT_APPLICABLE} == set()
    assert set(statuses) == {rule.name for rule in RULES}


def test_the_baseline_exercises_every_rule_subject() -> None:
    types = {r.type for r in baseline().resources}
    for token in (
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        "aws:ecs/taskDefinition:TaskDefinition",
        "aws:ecs/service:Service",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:iam/rolePolicy:RolePolicy",
        "docker:index/container:Container",
        "stockade:aws:TunnelGateway",
    ):
        assert token in types


def base_resources() -> list[SynthResource]:
    """A fresh list of the baseline's resources, for one test to mutate."""
    return list(baseline().resources)
