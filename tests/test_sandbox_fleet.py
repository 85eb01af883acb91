"""stockade:aws:SandboxFleet on the example stacks: the must-show properties and the dispatcher contract."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any
from unittest.mock import ANY

import pytest

from stockade.emulators import stable_suffix
from stockade.engine import SynthResource, SynthResult
from stockade.engine.synth import PLACEHOLDER_PREFIX
from stockade.workqueue.proxy_contract import PLACEHOLDER_KEY

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SERVICE = "aws:ecs/service:Service"
MUST_SHOW_STACKS = ("dev", "prod-use1")
REQUIRED_VOLUMES = {"/workspace", "/mnt/memory", "/tmp"}


# --------------------------------------------------------------------------- helpers


def in_fleet(resource: SynthResource) -> bool:
    return "stockade:aws:SandboxFleet" in resource.urn.split("::")[2]


def fleet(result: SynthResult, type_token: str) -> list[SynthResource]:
    return [r for r in result.by_type(type_token) if in_fleet(r)]


def named(result: SynthResult, type_token: str, name: str) -> SynthResource:
    (found,) = [r for r in result.by_type(type_token) if r.name == name]
    return found


def containers(task: SynthResource) -> list[dict[str, Any]]:
    return json.loads(task.inputs["containerDefinitions"])


def container(result: SynthResult, task_name: str, name: str) -> dict[str, Any]:
    (found,) = [c for c in containers(named(result, TASK_DEFINITION, task_name)) if c["name"] == name]
    return found


def environment(definition: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in definition.get("environment", [])}


def secrets(definition: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["valueFrom"] for s in definition.get("secrets", [])}


def policy_documents(value: Any) -> Iterator[dict[str, Any]]:
    """Every IAM-style document anywhere in a resource's inputs (policies travel as JSON strings)."""
    if isinstance(value, dict):
        if "Statement" in value:
            yield value
        for item in value.values():
            yield from policy_documents(item)
    elif isinstance(value, list):
        for item in value:
            yield from policy_documents(item)
    elif isinstance(value, str) and value.lstrip().startswith("{") and '"Statement"' in value:
        yield from policy_documents(json.loads(value))  # a document that is not JSON fails here


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --------------------------------------------------------------------------- must show


@pytest.mark.parametrize("stack", MUST_SHOW_STACKS)
def test_every_fleet_security_group_has_zero_ingress(synth_stack, stack: str) -> None:
    result = synth_stack(stack)
    groups = fleet(result, SECURITY_GROUP)
    assert {g.name for g in groups} == {"stockade-sandboxes-sandbox-sg", "stockade-sandboxes-poller-sg"}
    ids = {f"sg-{stable_suffix(g.name, length=17)}" for g in groups}
    for group in groups:
        assert not group.inputs.get("ingress"), group.name
        assert group.inputs["tags"]["stockade:component"] == "sandbox-fleet"
    ingress_rules = result.by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    legacy_rules = [
        r
        for r in result.by_type("aws:ec2/securityGroupRule:SecurityGroupRule")
        if r.inputs.get("type") == "ingress"
    ]
    assert ingress_rules, "the endpoints' rule exists, so this check can see ingress rules at all"
    for rule in [*ingress_rules, *legacy_rules]:
        assert rule.inputs["securityGroupId"] not in ids, rule.name
    for rule in fleet(result, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"):
        assert (
            rule.inputs["fromPort"] == 443
            and rule.inputs["toPort"] == 443
            and rule.inputs["ipProtocol"] == "tcp"
        )


@pytest.mark.parametrize("stack", MUST_SHOW_STACKS)
def test_no_task_service_or_subnet_assigns_a_public_ip(synth_stack, stack: str) -> None:
    result = synth_stack(stack)
    services = result.by_type(SERVICE)
    assert services
    for service in services:
        assert service.inputs["networkConfiguration"]["assignPublicIp"] is False, service.name
    subnets = result.by_type("aws:ec2/subnet:Subnet")
    assert subnets
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in subnets)
    text = json.dumps([r.as_json() for r in result.resources])
    assert '"associatePublicIpAddress": true' not in text
    assert not result.by_type("aws:ec2/instance:Instance")


@pytest.mark.parametrize("stack", MUST_SHOW_STACKS)
def test_every_task_definition_is_read_only_non_root_and_has_its_writable_volumes(
    synth_stack, stack: str
) -> None:
    result = synth_stack(stack)
    tasks = result.by_type(TASK_DEFINITION)
    assert {t.name for t in fleet(result, TASK_DEFINITION)} == {
        "stockade-sandboxes-session-task",
        "stockade-sandboxes-poller-task",
    }
    for task in tasks:
        volumes = {v["name"] for v in task.inputs.get("volumes", [])}
        for definition in containers(task):
            where = f"{task.name}/{definition['name']}"
            assert definition["readonlyRootFilesystem"] is True, where
            assert definition["privileged"] is False, where
            assert definition["linuxParameters"]["capabilities"]["drop"] == ["ALL"], where
            assert definition["stopTimeout"] >= 30, where
            assert {m["sourceVolume"] for m in definition.get("mountPoints", [])} <= volumes, where
            # Non-root is asserted for the fleet's containers; another component's root init
            # container (reported by the container-root-init guardrail) is its own decision.
            if in_fleet(task):
                user = definition.get("user", "")
                assert user and user.split(":")[0] not in ("0", "root"), where
    session = container(result, "stockade-sandboxes-session-task", "session")
    assert {m["containerPath"] for m in session["mountPoints"] if not m["readOnly"]} == REQUIRED_VOLUMES
    for task in fleet(result, TASK_DEFINITION):
        for definition in containers(task):
            paths = {m["containerPath"] for m in definition["mountPoints"]}
            # The API proxy writes nothing and shares no volume with the sandbox beside it.
            assert paths == set() if definition["name"] == "api-proxy" else "/tmp" in paths


@pytest.mark.parametrize("stack", MUST_SHOW_STACKS)
def test_the_environment_key_appears_only_as_a_secrets_manager_reference(synth_stack, stack: str) -> None:
    result = synth_stack(stack)
    secret_arn = result.outputs["sandboxEnvironmentKeySecretArn"]
    assert secret_arn.startswith("arn:aws:secretsmanager:")
    holders = []
    for task in fleet(result, TASK_DEFINITION):
        for definition in containers(task):
            if definition["name"] == "session":
                # The sandbox gets a placeholder and its proxy's loopback address, never the key.
                assert "ANTHROPIC_ENVIRONMENT_KEY" not in secrets(definition)
                assert environment(definition)["ANTHROPIC_ENVIRONMENT_KEY"] == PLACEHOLDER_KEY
                assert environment(definition)["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:8790"
                continue
            assert "ANTHROPIC_ENVIRONMENT_KEY" not in environment(definition)
            assert secrets(definition)["ANTHROPIC_ENVIRONMENT_KEY"] == secret_arn
            holders.append((task.name, definition["name"]))
    assert sorted(holders) == [
        ("stockade-sandboxes-poller-task", "poller"),
        ("stockade-sandboxes-poller-task", "queue-stats"),
        ("stockade-sandboxes-session-task", "api-proxy"),
    ]
    (stored,) = fleet(result, "aws:secretsmanager/secretVersion:SecretVersion")
    assert stored.inputs["secretString"] == "[secret]"
    assert PLACEHOLDER_PREFIX not in result.to_json()


@pytest.mark.parametrize("stack", MUST_SHOW_STACKS)
def test_no_container_gets_the_organization_api_key(synth_stack, stack: str) -> None:
    for task in fleet(synth_stack(stack), TASK_DEFINITION):
        for definition in containers(task):
            names = set(environment(definition)) | set(secrets(definition))
            assert "ANTHROPIC_API_KEY" not in names
            assert not any(v.startswith("sk-ant-api") for v in environment(definition).values())


@pytest.mark.parametrize("stack", MUST_SHOW_STACKS)
def test_every_policy_document_is_json_without_a_star_action(synth_stack, stack: str) -> None:
    result = synth_stack(stack)
    documents = 0
    for resource in result.resources:
        for document in policy_documents(resource.inputs):
            documents += 1
            for statement in as_list(document["Statement"]):
                actions = as_list(statement.get("Action", []))
                assert "*" not in actions, resource.name
                assert "NotAction" not in statement or statement["Effect"] == "Deny", resource.name
    # Roles, role policies, endpoint policies, key, bucket and topic policies at least.
    assert documents >= 20


@pytest.mark.parametrize("stack", MUST_SHOW_STACKS)
def test_every_fleet_role_carries_the_boundary_when_configured(synth_stack, stack: str) -> None:
    result = synth_stack(stack)
    roles = fleet(result, "aws:iam/role:Role")
    assert len(roles) == 4
    # Every example AWS stack sets the boundary `stockade bootstrap` creates in its own account
    # (tests/component_programs.py covers a fleet without one).
    account = "111111111111" if stack == "dev" else "333333333333"
    expected = f"arn:aws:iam::{account}:policy/stockade-boundary"
    assert all(r.inputs.get("permissionsBoundary") == expected for r in roles)


# --------------------------------------------------------------------------- the dispatcher contract


def test_poller_runs_the_contract_command_with_exactly_the_contract_environment(synth_stack) -> None:
    result = synth_stack("prod-use1")
    poller = container(result, "stockade-sandboxes-poller-task", "poller")
    assert poller["entryPoint"] == [
        "ant", "beta:worker", "poll", "--workdir", "/workspace", "--log-format", "json",
        "--on-work", "/usr/local/bin/stockade-dispatch",
    ]  # fmt: skip
    env = environment(poller)
    assert set(env) == {
        "STOCKADE_STACK", "STOCKADE_CLUSTER_ARN", "STOCKADE_SESSION_TASK_DEFINITION",
        "STOCKADE_SESSION_CONTAINER", "STOCKADE_SUBNET_IDS", "STOCKADE_SECURITY_GROUP_IDS",
        "STOCKADE_MAX_CONCURRENT_SESSIONS", "STOCKADE_WORK_SECRET_PREFIX", "STOCKADE_KMS_KEY_ARN",
        "STOCKADE_API_PROXY_CONTAINER", "STOCKADE_SANDBOX_ROLE_ID", "ANTHROPIC_ENVIRONMENT_ID",
    }  # fmt: skip
    assert env["STOCKADE_STACK"] == "prod-use1"
    # The sandbox task role's ID, to scope each work secret to its own task's role session.
    session = container(result, "stockade-sandboxes-session-task", "session")
    assert env["STOCKADE_SANDBOX_ROLE_ID"] == environment(session)["STOCKADE_SANDBOX_ROLE_ID"]
    assert env["STOCKADE_CLUSTER_ARN"] == result.outputs["sandboxClusterArn"]
    assert env["STOCKADE_SESSION_TASK_DEFINITION"] == result.outputs["sandboxSessionTaskDefinitionArn"]
    assert env["STOCKADE_SESSION_TASK_DEFINITION"].endswith(":1")  # with revision
    assert env["STOCKADE_SESSION_CONTAINER"] == "session"
    assert env["STOCKADE_SUBNET_IDS"].split(",") == result.outputs["privateSubnetIds"]
    assert env["STOCKADE_SECURITY_GROUP_IDS"] == result.outputs["sandboxSecurityGroupId"]
    assert env["STOCKADE_MAX_CONCURRENT_SESSIONS"] == "100"
    assert env["STOCKADE_WORK_SECRET_PREFIX"] == "stockade/prod-use1/work/"
    assert env["STOCKADE_KMS_KEY_ARN"] == result.outputs["kmsKeyArn"]
    assert env["ANTHROPIC_ENVIRONMENT_ID"] == "env_01ProdUSE1Example"
    assert set(secrets(poller)) == {"ANTHROPIC_ENVIRONMENT_KEY"}


def test_queue_stats_runs_beside_the_poller_with_its_namespace(synth_stack) -> None:
    stats = container(synth_stack("prod-use1"), "stockade-sandboxes-poller-task", "queue-stats")
    assert stats["entryPoint"] == ["python3", "-m", "stockade.dispatcher.queue_stats"]
    assert environment(stats) == {
        "STOCKADE_STACK": "prod-use1",
        "ANTHROPIC_ENVIRONMENT_ID": "env_01ProdUSE1Example",
        "STOCKADE_METRICS_NAMESPACE": "Stockade/Sandboxes",
        "STOCKADE_STATS_INTERVAL_SECONDS": "60",
        # It also sweeps finished sessions' work secrets on a timer.
        "STOCKADE_CLUSTER_ARN": "arn:aws:ecs:us-east-1:333333333333:cluster/stockade-prod-use1",
        "STOCKADE_SESSION_CONTAINER": "session",
        "STOCKADE_WORK_SECRET_PREFIX": "stockade/prod-use1/work/",
    }
    assert stats["essential"] is False


def test_the_sandbox_task_runs_the_session_entry_with_its_size_from_settings(synth_stack) -> None:
    result = synth_stack("prod-use1")
    task = named(result, TASK_DEFINITION, "stockade-sandboxes-session-task").inputs
    assert (task["cpu"], task["memory"], task["ephemeralStorage"]) == ("2048", "8192", {"sizeInGib": 50})
    assert task["family"] == result.outputs["sandboxSessionTaskFamily"] == "stockade-prod-use1-session"
    assert task["requiresCompatibilities"] == ["FARGATE"] and task["networkMode"] == "awsvpc"
    assert task["executionRoleArn"] != task["taskRoleArn"]
    session = container(result, "stockade-sandboxes-session-task", "session")
    assert session["entryPoint"] == ["/usr/local/bin/stockade-session-entry"]
    assert environment(session) == {
        "ANTHROPIC_ENVIRONMENT_ID": "env_01ProdUSE1Example",
        # Where the entry point uploads /workspace when ant exits, and the key it encrypts with.
        "STOCKADE_ARTIFACTS_BUCKET": result.outputs["sandboxArtifactsBucketName"],
        "STOCKADE_ARTIFACTS_KMS_KEY_ARN": result.outputs["kmsKeyArn"],
        # The task role's unique ID: with the task ID, the only prefix the role may write to.
        "STOCKADE_SANDBOX_ROLE_ID": ANY,
        # The API proxy beside it, on the task's loopback, and the placeholder it strips.
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:8790",
        "ANTHROPIC_ENVIRONMENT_KEY": PLACEHOLDER_KEY,
    }
    assert re.fullmatch(r"AROA[A-Z0-9]{17}", environment(session)["STOCKADE_SANDBOX_ROLE_ID"])
    assert session["image"].endswith("@sha256:" + "5" * 64)
    # The memory flush (30 s) and the artifact upload fit Fargate's longest grace.
    assert session["stopTimeout"] == 120
    assert session["dependsOn"] == [{"containerName": "api-proxy", "condition": "HEALTHY"}]
    proxy = container(result, "stockade-sandboxes-session-task", "api-proxy")
    assert proxy["entryPoint"] == ["/usr/local/bin/stockade-api-proxy"]
    assert proxy["image"] == session["image"] and proxy["essential"] is True
    assert proxy["healthCheck"]["command"][:2] == ["CMD", "python3"]
    assert environment(proxy) == {
        "ANTHROPIC_ENVIRONMENT_ID": "env_01ProdUSE1Example",
        "STOCKADE_STACK": "prod-use1",
        "STOCKADE_API_PROXY_PORT": "8790",
    }
    poller = container(result, "stockade-sandboxes-poller-task", "poller")
    assert environment(poller)["STOCKADE_API_PROXY_CONTAINER"] == "api-proxy"


def _statements(result: SynthResult, role_policy: str) -> dict[str, dict[str, Any]]:
    document = json.loads(named(result, "aws:iam/rolePolicy:RolePolicy", role_policy).inputs["policy"])
    return {s["Sid"]: s for s in document["Statement"]}


def test_the_poller_may_run_only_the_sandbox_family_and_pass_only_its_roles(synth_stack) -> None:
    result = synth_stack("prod-use1")
    outputs = result.outputs
    statements = _statements(result, "stockade-sandboxes-poller-task-role-policy")
    run = statements["RunOnlySandboxTasksInThisCluster"]
    assert run["Action"] == ["ecs:RunTask"]
    assert run["Resource"] == [
        "arn:aws:ecs:us-east-1:333333333333:task-definition/stockade-prod-use1-session:*"
    ]
    # A compromised poller can start sandboxes only in the fleet's subnets, without a public IP
    # and without ECS Exec (ECS has no condition key for security groups).
    assert run["Condition"] == {
        "ArnEquals": {"ecs:cluster": outputs["sandboxClusterArn"]},
        "ForAllValues:StringEquals": {"ecs:subnet": result.outputs["privateSubnetIds"]},
        "Null": {"ecs:subnet": "false"},
        "StringEquals": {"ecs:auto-assign-public-ip": "false", "ecs:enable-execute-command": "false"},
    }
    assert len(run["Condition"]["ForAllValues:StringEquals"]["ecs:subnet"]) == 3
    for sid in ("CountSandboxesInThisCluster", "DescribeSandboxesInThisCluster"):
        assert statements[sid]["Condition"] == {"ArnEquals": {"ecs:cluster": outputs["sandboxClusterArn"]}}
    pass_role = statements["PassOnlyTheSandboxRoles"]
    assert sorted(pass_role["Resource"]) == sorted(
        [outputs["sandboxExecutionRoleArn"], outputs["sandboxTaskRoleArn"]]
    )
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    work = statements["ManagePerSessionWorkSecrets"]
    assert work["Resource"] == [
        "arn:aws:secretsmanager:us-east-1:333333333333:secret:stockade/prod-use1/work/*"
    ]
    assert sorted(work["Action"]) == [
        "secretsmanager:CreateSecret", "secretsmanager:DeleteSecret",
        "secretsmanager:DescribeSecret", "secretsmanager:PutResourcePolicy", "secretsmanager:TagResource",
    ]  # fmt: skip
    encrypt = statements["EncryptWorkSecretsWithTheStackKey"]
    assert encrypt["Resource"] == [outputs["kmsKeyArn"]]
    # CreateSecret under a customer-managed key needs GenerateDataKey and Decrypt (not Encrypt),
    # and only through Secrets Manager.
    assert encrypt["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert encrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}
    }
    assert statements["PublishQueueMetrics"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "Stockade/Sandboxes"}
    }
    assert statements["TagSandboxesAtLaunch"]["Condition"] == {
        "StringEquals": {"ecs:CreateAction": "RunTask"}
    }
    # The age sweep lists secret metadata; reading values stays out of the poller's reach.
    assert statements["ListWorkSecrets"]["Action"] == ["secretsmanager:ListSecrets"]
    assert not any("secretsmanager:GetSecretValue" in s["Action"] for s in statements.values())
    assert len(statements) == 9


def test_a_sandbox_may_read_only_work_secrets_and_write_only_session_artifacts(synth_stack) -> None:
    result = synth_stack("prod-use1")
    statements = _statements(result, "stockade-sandboxes-sandbox-task-role-policy")
    assert set(statements) == {
        "ReadItsWorkSecret",
        "DecryptItsWorkSecret",
        "UploadItsOwnArtifacts",
        "EncryptArtifactsWithTheStackKey",
    }
    assert statements["ReadItsWorkSecret"]["Action"] == ["secretsmanager:GetSecretValue"]
    assert statements["ReadItsWorkSecret"]["Resource"] == [
        "arn:aws:secretsmanager:us-east-1:333333333333:secret:stockade/prod-use1/work/*"
    ]
    decrypt = statements["DecryptItsWorkSecret"]
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}
    }
    # Write, never read or list: exactly PutObject under the caller's own task prefix, which
    # IAM resolves per task-role session ("<role ID>:<task ID>").
    upload = statements["UploadItsOwnArtifacts"]
    assert upload["Action"] == ["s3:PutObject"]
    bucket = result.outputs["sandboxArtifactsBucketName"]
    assert upload["Resource"] == [f"arn:aws:s3:::{bucket}/tasks/${{aws:userid}}/*"]
    encrypt = statements["EncryptArtifactsWithTheStackKey"]
    assert encrypt["Action"] == ["kms:GenerateDataKey"]
    assert encrypt["Resource"] == [result.outputs["kmsKeyArn"]]
    assert encrypt["Condition"] == {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}


def test_execution_roles_read_only_the_environment_key_and_their_own_log_group_and_repository(
    synth_stack,
) -> None:
    result = synth_stack("prod-use1")
    for role, repository in (("sandbox", "stockade-session"), ("poller", "stockade-poller")):
        statements = _statements(result, f"stockade-sandboxes-{role}-execution-role-policy")
        assert statements["ReadTaskSecrets"]["Resource"] == [result.outputs["sandboxEnvironmentKeySecretArn"]]
        assert statements["PullTheImage"]["Resource"] == [
            f"arn:aws:ecr:us-east-1:333333333333:repository/{repository}"
        ]
        assert statements["DecryptTaskSecrets"]["Condition"] == {
            "StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}
        }
        (log_arn,) = statements["WriteTaskLogs"]["Resource"]
        assert f"stockade-sandboxes-{role}-logs" in log_arn


def test_the_poller_service_is_replicated_with_a_rolling_back_circuit_breaker(synth_stack) -> None:
    result = synth_stack("prod-use1")
    service = named(result, SERVICE, "stockade-sandboxes-poller-service").inputs
    assert service["desiredCount"] == 2
    assert service["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert service["enableExecuteCommand"] is False
    assert service["launchType"] == "FARGATE"
    (cluster,) = [c.inputs for c in fleet(result, "aws:ecs/cluster:Cluster")]
    assert {"name": "containerInsights", "value": "enabled"} in cluster["settings"]


def test_sandbox_egress_is_https_to_endpoints_public_internet_and_listed_cidrs_only(synth_stack) -> None:
    result = synth_stack("prod-use1")
    rules = {
        r.name.rsplit("-egress-", 1)[1]: r.inputs
        for r in fleet(result, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
        if r.name.startswith("stockade-sandboxes-sandbox-sg")
    }
    assert set(rules) == {"aws-endpoints", "s3-gateway", "internet-https", "allowed-10-50-200-0-24"}
    assert rules["internet-https"]["prefixListId"] == result.outputs["publicInternetPrefixListId"]
    assert rules["allowed-10-50-200-0-24"]["cidrIpv4"] == "10.50.200.0/24"
    assert rules["aws-endpoints"]["referencedSecurityGroupId"] == result.outputs["endpointsSecurityGroupId"]
    poller_rules = {
        r.name.rsplit("-egress-", 1)[1]
        for r in fleet(result, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
        if r.name.startswith("stockade-sandboxes-poller-sg")
    }
    assert poller_rules == {"aws-endpoints", "s3-gateway", "internet-https"}  # no customer networks


# --------------------------------------------------------------------------- scaling


def _shape(result: SynthResult) -> Counter[tuple[str, str]]:
    return Counter((r.type, r.name) for r in result.resources)


def test_resource_count_does_not_grow_with_the_fleet_size(synth_config, example_config) -> None:
    results = []
    for size in (1, 500):
        config = example_config("dev")
        config["stockade:sandboxes"]["maxConcurrentSessions"] = size
        results.append(synth_config("dev", config))
    small, large = results
    assert _shape(small) == _shape(large)
    assert len(small.resources) == len(large.resources) > 50
    sizes = [
        environment(container(r, "stockade-sandboxes-poller-task", "poller"))[
            "STOCKADE_MAX_CONCURRENT_SESSIONS"
        ]
        for r in results
    ]
    assert sizes == ["1", "500"]


def test_outputs_name_what_a_caller_needs(synth_stack) -> None:
    outputs = synth_stack("prod-use1").outputs
    for key in (
        "sandboxClusterArn", "pollerServiceName", "sandboxSessionTaskFamily", "pollerTaskFamily",
        "sandboxSecurityGroupId", "pollerSecurityGroupId", "sandboxExecutionRoleArn", "sandboxTaskRoleArn",
        "pollerExecutionRoleArn", "pollerTaskRoleArn", "sandboxArtifactsBucketName", "sandboxLogGroupName",
        "pollerLogGroupName", "sandboxEnvironmentKeySecretArn", "sandboxAlarmTopicArn",
        "sandboxWorkSecretPrefix",
    ):  # fmt: skip
        assert outputs.get(key), key


def test_the_pollers_queue_stats_container_can_sweep_work_secrets(synth_stack) -> None:
    """The timed sweep needs the dispatcher's cluster and prefix, and ListSecrets in IAM and the endpoint."""
    import json as _json

    from stockade.aws.fleet.tasks import SWEEP_VARIABLES

    result = synth_stack("prod-use1")
    pollers = [
        r
        for r in result.by_type("aws:ecs/taskDefinition:TaskDefinition")
        if any(c["name"] == "poller" for c in _json.loads(r.inputs["containerDefinitions"]))
    ]
    assert len(pollers) == 1
    containers = {c["name"]: c for c in _json.loads(pollers[0].inputs["containerDefinitions"])}
    poller_env = {e["name"]: e["value"] for e in containers["poller"]["environment"]}
    stats_env = {e["name"]: e["value"] for e in containers["queue-stats"]["environment"]}
    for variable in SWEEP_VARIABLES:
        assert stats_env[variable] == poller_env[variable]
    policies = " ".join(str(r.inputs.get("policy", "")) for r in result.resources)
    assert policies.count("secretsmanager:ListSecrets") >= 2  # the poller role and the endpoint policy


def test_requests_the_api_proxy_refuses_become_a_metric(synth_stack) -> None:
    result = synth_stack("prod-use1")
    (denied,) = [
        r for r in result.by_type("aws:cloudwatch/logMetricFilter:LogMetricFilter") if "api-proxy" in r.name
    ]
    assert denied.inputs["pattern"] == '{ $.event = "proxy.denied" }'
    transformation = denied.inputs["metricTransformation"]
    assert (transformation["name"], transformation["namespace"]) == ("ApiProxyDenied", "Stockade/Sandboxes")
    assert denied.inputs["logGroupName"] == result.outputs["sandboxLogGroupName"]
