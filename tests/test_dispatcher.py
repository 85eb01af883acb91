"""The per-session dispatcher (`stockade-dispatch`) against moto's ECS, Secrets Manager and EC2.

moto covers RunTask/ListTasks/DescribeTasks/TagResource and the secret calls. Two things it
cannot produce are covered with botocore's Stubber instead: RunTask answering with
`failures` (moto always places a Fargate task) and RunTask error codes such as throttling.
moto also ignores RunTask's clientToken, so the tests assert on the token the dispatcher
sent, not on ECS de-duplicating it.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import ANY, Stubber
from moto import mock_aws

from stockade.dispatcher.dispatch import Clients, DispatchConfig, Timing, main
from stockade.dispatcher.launch import client_token_base
from stockade.dispatcher.logs import REDACTED, Redactor, configure, emit
from stockade.dispatcher.queue_stats import StatsConfig, SweepClients
from stockade.dispatcher.queue_stats import main as stats_main
from stockade.dispatcher.queue_stats import run as run_stats
from stockade.dispatcher.slots import STARTED_BY
from stockade.dispatcher.work_secrets import SWEPT_TAG, SweepScope, sweep_expired, sweep_stopped
from stockade.workqueue.errors import EXIT_INVALID, EXIT_LAUNCH, EXIT_NO_SLOT, EXIT_OK

from .dispatch_support import PROJECT, image_layout, loaded_modules, logging_restored, run, unexpected_modules

REGION = "us-east-1"
PREFIX = "stockade/dev/work/"
WORK_SECRET = "wsec_Zq9X-top-secret-value-do-not-log-4f1c2b"
ENV_KEY = "sk-ant-oat01-environment-key-never-logged-77aa"
SESSION_ID = "session_01ABCdef"
WORK_ID = "work_01XYZabc"
NO_RETRY = Config(retries={"mode": "standard", "max_attempts": 1})
# The poller task's environment; the `fleet` fixture swaps in the IDs moto generated.
STATIC_ENV = {
    "STOCKADE_STACK": "dev",
    "STOCKADE_CLUSTER_ARN": "arn:aws:ecs:us-east-1:123456789012:cluster/stockade-dev",
    "STOCKADE_SESSION_TASK_DEFINITION": "arn:aws:ecs:us-east-1:123456789012:task-definition/sandbox:3",
    "STOCKADE_SESSION_CONTAINER": "session",
    "STOCKADE_SUBNET_IDS": "subnet-0a1b2c3d4e5f60718,subnet-0a1b2c3d4e5f60719",
    "STOCKADE_SECURITY_GROUP_IDS": "sg-0123456789abcdef0",
    "STOCKADE_MAX_CONCURRENT_SESSIONS": "3",
    "STOCKADE_WORK_SECRET_PREFIX": PREFIX,
    "STOCKADE_KMS_KEY_ARN": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "ANTHROPIC_ENVIRONMENT_ID": "env_01dev",
    "ANTHROPIC_ENVIRONMENT_KEY": ENV_KEY,
    "ANTHROPIC_SESSION_ID": SESSION_ID,
    "ANTHROPIC_WORK_ID": WORK_ID,
    "STOCKADE_SLOT_POLL_SECONDS": "0.01",
    "STOCKADE_RUN_TASK_BACKOFF_SECONDS": "0",
    "STOCKADE_SWEPT_FILE": "",  # no record on disk unless a test asks for one
}


@dataclass
class Recorder:
    """Every request body the clients put on the wire, by operation (what CloudTrail would see)."""

    sent: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, request: Any, event_name: str, **_: Any) -> None:
        body = request.body
        text = body.decode("utf-8") if isinstance(body, bytes) else str(body or "")
        self.sent.append((event_name.split(".")[-1], text))

    def bodies(self, operation: str) -> list[dict[str, Any]]:
        return [json.loads(text) for op, text in self.sent if op == operation]


@dataclass
class Fleet:
    """A moto-backed cluster, task definition and network shaped like the fleet component's."""

    environ: dict[str, str]
    ecs: Any
    sm: Any
    cluster: str
    task_definition: str
    subnets: list[str]
    security_groups: list[str]
    kms_key: str
    recorder: Recorder

    def clients(self, region: str) -> Clients:
        assert region == REGION
        return Clients(ecs=self.ecs, secrets=self.sm)

    def network(self) -> dict[str, Any]:
        return {"awsvpcConfiguration": {"subnets": self.subnets, "securityGroups": self.security_groups}}

    def start_task(self, started_by: str = STARTED_BY, **extra: Any) -> str:
        """Start one task of the sandbox task definition directly (not through the dispatcher)."""
        response = self.ecs.run_task(
            cluster=self.cluster,
            taskDefinition=self.task_definition,
            launchType="FARGATE",
            startedBy=started_by,
            networkConfiguration=self.network(),
            **extra,
        )
        return str(response["tasks"][0]["taskArn"])

    def occupy(self, count: int) -> list[str]:
        """Start `count` sandboxes as if an earlier dispatch had."""
        arns = [self.start_task() for _ in range(count)]
        self.recorder.sent.clear()  # the test asserts on what the dispatcher sends, not on this
        return arns

    def live_tasks(self) -> list[str]:
        return self.ecs.list_tasks(cluster=self.cluster, startedBy=STARTED_BY, desiredStatus="RUNNING")[
            "taskArns"
        ]

    def work_secret_names(self) -> list[str]:
        return sorted(s["Name"] for s in self.sm.list_secrets()["SecretList"] if "DeletedDate" not in s)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    with logging_restored():
        yield


def _client(service: str, recorder: Recorder) -> Any:
    client = boto3.client(service, region_name=REGION, config=NO_RETRY)
    client.meta.events.register("before-send", recorder)
    return client


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    with mock_aws():
        recorder = Recorder()
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
        # moto's awsvpc tasks need DNS hostnames on the VPC (it names the task's ENI).
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{n}.0/24")["Subnet"]["SubnetId"] for n in (1, 2)
        ]
        group = ec2.create_security_group(GroupName="sandbox", Description="sandboxes", VpcId=vpc)["GroupId"]
        kms_key = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
        ecs = _client("ecs", recorder)
        cluster = ecs.create_cluster(clusterName="stockade-dev")["cluster"]["clusterArn"]
        task_definition = ecs.register_task_definition(
            family="stockade-dev-session",
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="1024",
            memory="4096",
            containerDefinitions=[{"name": "session", "image": "session:1", "cpu": 1024, "memory": 4096}],
        )["taskDefinition"]["taskDefinitionArn"]
        environ = {
            **STATIC_ENV,
            "STOCKADE_CLUSTER_ARN": cluster,
            "STOCKADE_SESSION_TASK_DEFINITION": task_definition,
            "STOCKADE_SUBNET_IDS": ",".join(subnets),
            "STOCKADE_SECURITY_GROUP_IDS": group,
            "STOCKADE_KMS_KEY_ARN": kms_key,
            "STOCKADE_SWEPT_FILE": str(tmp_path / "swept/tasks.json"),
        }
        yield Fleet(
            environ=environ,
            ecs=ecs,
            sm=_client("secretsmanager", recorder),
            cluster=cluster,
            task_definition=task_definition,
            subnets=subnets,
            security_groups=[group],
            kms_key=kms_key,
            recorder=recorder,
        )


def work_item(work_id: str = WORK_ID, session_id: str = SESSION_ID, secret: str = WORK_SECRET) -> str:
    return json.dumps(
        {
            "id": work_id,
            "state": "starting",
            "data": {"id": session_id, "type": "session"},
            "secret": secret,
            "metadata": {},
        }
    )


@dataclass
class Run:
    code: int
    log: str

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.splitlines() if line.strip()]

    def event(self, name: str) -> dict[str, Any]:
        found = [e for e in self.events() if e["event"] == name]
        assert found, f"no {name!r} event in {self.log}"
        return found[-1]


def run_main(
    environ: dict[str, str],
    stdin: str | None,
    clients: Callable[[str], Clients],
    *,
    timing: Timing | None = None,
    argv: list[str] | None = None,
) -> Run:
    stderr = io.StringIO()
    code = main(
        argv or [],
        environ=environ,
        stdin=io.StringIO(work_item() if stdin is None else stdin),
        stderr=stderr,
        clients=clients,
        timing=timing or Timing(sleep=lambda _s: None),
    )
    return Run(code, stderr.getvalue())


def run_dispatch(
    fleet: Fleet,
    stdin: str | None = None,
    *,
    env: dict[str, str] | None = None,
    timing: Timing | None = None,
    clients: Callable[[str], Clients] | None = None,
    argv: list[str] | None = None,
) -> Run:
    return run_main(
        {**fleet.environ, **(env or {})}, stdin, clients or fleet.clients, timing=timing, argv=argv
    )


def no_aws(region: str) -> Clients:
    raise AssertionError("this input must be refused before any AWS client exists")


def assert_no_secrets(*texts: str) -> None:
    for text in texts:
        assert WORK_SECRET not in text
        assert ENV_KEY not in text


# --- one work item, one task -------------------------------------------------------------------


def test_one_work_item_starts_exactly_one_task_with_the_contract_overrides(fleet: Fleet) -> None:
    result = run_dispatch(fleet)

    assert result.code == EXIT_OK, result.log
    runs = fleet.recorder.bodies("RunTask")
    assert len(runs) == 1
    sent = runs[0]
    secret_arn = result.event("secret.created")["secret_arn"]
    assert sent["cluster"] == fleet.cluster
    assert sent["taskDefinition"] == fleet.task_definition
    assert sent["count"] == 1
    assert sent["launchType"] == "FARGATE"
    assert sent["networkConfiguration"] == {
        "awsvpcConfiguration": {
            "subnets": fleet.subnets,
            "securityGroups": fleet.security_groups,
            "assignPublicIp": "DISABLED",
        }
    }
    assert sent["overrides"] == {
        "containerOverrides": [
            {
                "name": "session",
                "environment": [
                    {"name": "STOCKADE_WORK_SECRET_ARN", "value": secret_arn},
                    {"name": "ANTHROPIC_SESSION_ID", "value": SESSION_ID},
                    {"name": "ANTHROPIC_WORK_ID", "value": WORK_ID},
                ],
            }
        ]
    }
    assert sent["startedBy"] == "stockade-dispatch"
    assert sent["tags"] == [
        {"key": "stockade:work-id", "value": WORK_ID},
        {"key": "stockade:session-id", "value": SESSION_ID},
    ]
    assert sent["enableExecuteCommand"] is False
    # Derived from the work item, so every dispatch of the same item sends the same token.
    assert sent["clientToken"] == f"stockade-{client_token_base(fleet.cluster, WORK_ID)}-1"
    assert re.fullmatch(r"stockade-[0-9a-f]{40}-1", sent["clientToken"])

    live = fleet.live_tasks()
    assert live == [result.event("task.started")["task_arn"]]
    assert result.event("task.started")["session_id"] == SESSION_ID
    task = fleet.ecs.describe_tasks(cluster=fleet.cluster, tasks=live, include=["TAGS"])["tasks"][0]
    assert {t["key"]: t["value"] for t in task["tags"]} == {
        "stockade:work-id": WORK_ID,
        "stockade:session-id": SESSION_ID,
    }


def test_the_work_secret_lives_in_its_own_kms_encrypted_tagged_secret(fleet: Fleet) -> None:
    result = run_dispatch(fleet)

    assert result.code == EXIT_OK, result.log
    arn = result.event("secret.created")["secret_arn"]
    described = fleet.sm.describe_secret(SecretId=arn)
    assert re.fullmatch(re.escape(f"{PREFIX}{WORK_ID}-") + r"[0-9a-f]{32}", described["Name"])
    assert described["KmsKeyId"] == fleet.kms_key
    assert {t["Key"]: t["Value"] for t in described["Tags"]} == {
        "stockade:work-id": WORK_ID,
        "stockade:stack": "dev",
    }
    assert fleet.sm.get_secret_value(SecretId=arn)["SecretString"] == WORK_SECRET


def test_nonces_differ_between_dispatches_of_the_same_work_item(fleet: Fleet) -> None:
    first = run_dispatch(fleet)
    assert first.code == EXIT_OK
    # A second dispatch launches only once the first sandbox is gone (one sandbox per item).
    fleet.ecs.stop_task(cluster=fleet.cluster, task=first.event("task.started")["task_arn"], reason="test")
    second = run_dispatch(fleet)
    assert second.code == EXIT_OK
    names = [run.event("secret.created")["secret_arn"] for run in (first, second)]
    assert len(set(names)) == 2


def test_unexpected_hook_arguments_do_not_stop_the_dispatch(fleet: Fleet) -> None:
    result = run_dispatch(fleet, argv=["--from-ant", "value"])

    assert result.code == EXIT_OK, result.log
    assert result.event("arguments.ignored")["count"] == 2
    assert len(fleet.live_tasks()) == 1


def test_base_url_is_passed_to_the_sandbox_when_set(fleet: Fleet) -> None:
    result = run_dispatch(fleet, env={"ANTHROPIC_BASE_URL": "https://proxy.example.internal/"})

    assert result.code == EXIT_OK, result.log
    environment = fleet.recorder.bodies("RunTask")[0]["overrides"]["containerOverrides"][0]["environment"]
    assert {"name": "ANTHROPIC_BASE_URL", "value": "https://proxy.example.internal"} in environment


def test_behind_the_api_proxy_the_ids_and_base_url_go_to_the_proxy_container(fleet: Fleet) -> None:
    result = run_dispatch(
        fleet,
        env={"STOCKADE_API_PROXY_CONTAINER": "api-proxy", "ANTHROPIC_BASE_URL": "https://vendor.example/"},
    )

    assert result.code == EXIT_OK, result.log
    proxy, session = fleet.recorder.bodies("RunTask")[0]["overrides"]["containerOverrides"]
    assert proxy == {
        "name": "api-proxy",
        "environment": [
            {"name": "ANTHROPIC_SESSION_ID", "value": SESSION_ID},
            {"name": "ANTHROPIC_WORK_ID", "value": WORK_ID},
            {"name": "STOCKADE_API_PROXY_UPSTREAM", "value": "https://vendor.example"},
        ],
    }
    # The sandbox's own base URL is its proxy (in the task definition): none comes from the item.
    assert session["name"] == "session"
    assert [e["name"] for e in session["environment"]] == [
        "STOCKADE_WORK_SECRET_ARN",
        "ANTHROPIC_SESSION_ID",
        "ANTHROPIC_WORK_ID",
    ]


def test_a_bad_proxy_container_name_is_refused(fleet: Fleet) -> None:
    result = run_dispatch(fleet, env={"STOCKADE_API_PROXY_CONTAINER": "api proxy!"})
    assert result.code == EXIT_INVALID
    assert "STOCKADE_API_PROXY_CONTAINER is not a container name" in result.event("config.invalid")["error"]


# --- one sandbox per work item --------------------------------------------------------------------


def test_a_redelivered_work_item_with_a_live_sandbox_starts_no_second_one(fleet: Fleet) -> None:
    first = run_dispatch(fleet)
    assert first.code == EXIT_OK, first.log
    secrets_after_first = fleet.work_secret_names()

    again = run_dispatch(fleet)  # the same item, redelivered or reclaimed

    assert again.code == EXIT_OK, again.log
    assert again.event("task.existing")["task_arn"] == first.event("task.started")["task_arn"]
    assert len(fleet.recorder.bodies("RunTask")) == 1
    assert len(fleet.live_tasks()) == 1
    assert fleet.work_secret_names() == secrets_after_first  # no orphan secret for the duplicate


def test_another_work_item_still_gets_its_own_sandbox(fleet: Fleet) -> None:
    assert run_dispatch(fleet).code == EXIT_OK
    other = run_dispatch(
        fleet,
        work_item(work_id="work_02other", session_id="session_02other"),
        env={"ANTHROPIC_WORK_ID": "work_02other", "ANTHROPIC_SESSION_ID": "session_02other"},
    )
    assert other.code == EXIT_OK, other.log
    tokens = [body["clientToken"] for body in fleet.recorder.bodies("RunTask")]
    assert len(tokens) == 2 and tokens[0] != tokens[1]
    assert len(fleet.live_tasks()) == 2


def test_a_stopped_sandbox_does_not_block_its_work_item_s_next_dispatch(fleet: Fleet) -> None:
    first = run_dispatch(fleet)
    fleet.ecs.stop_task(cluster=fleet.cluster, task=first.event("task.started")["task_arn"], reason="test")

    again = run_dispatch(fleet)

    assert again.code == EXIT_OK, again.log
    assert len(fleet.recorder.bodies("RunTask")) == 2
    # Same item, same token stem: within ECS's idempotency window ECS itself dedupes.
    tokens = {body["clientToken"] for body in fleet.recorder.bodies("RunTask")}
    assert tokens == {f"stockade-{client_token_base(fleet.cluster, WORK_ID)}-1"}


# --- each work secret is readable by its own task only ----------------------------------------------

ROLE_ID = "AROA3EXAMPLESANDBOX12"


def _policy_statement(document: str) -> dict[str, Any]:
    (statement,) = json.loads(document)["Statement"]
    return dict(statement)


def test_each_work_secret_is_locked_then_opened_to_its_own_task_only(fleet: Fleet) -> None:
    result = run_dispatch(fleet, env={"STOCKADE_SANDBOX_ROLE_ID": ROLE_ID})

    assert result.code == EXIT_OK, result.log
    order = [op for op, _ in fleet.recorder.sent if op in {"CreateSecret", "PutResourcePolicy", "RunTask"}]
    assert order == ["CreateSecret", "PutResourcePolicy", "RunTask", "PutResourcePolicy"]
    locked, opened = (
        _policy_statement(b["ResourcePolicy"]) for b in fleet.recorder.bodies("PutResourcePolicy")
    )
    # Before RunTask: denied to every session of the sandbox task role.
    assert locked["Effect"] == "Deny" and locked["Action"] == "secretsmanager:GetSecretValue"
    assert locked["Condition"] == {"StringLike": {"aws:userid": f"{ROLE_ID}:*"}}
    # After: denied to every session but the one ECS names after the started task.
    task_id = result.event("task.started")["task_arn"].rsplit("/", 1)[-1]
    assert opened["Condition"] == {
        "StringLike": {"aws:userid": f"{ROLE_ID}:*"},
        "StringNotEquals": {"aws:userid": f"{ROLE_ID}:{task_id}"},
    }
    assert all(b["BlockPublicPolicy"] is True for b in fleet.recorder.bodies("PutResourcePolicy"))
    (name,) = fleet.work_secret_names()
    stored = fleet.sm.get_resource_policy(SecretId=name)["ResourcePolicy"]
    assert _policy_statement(stored) == opened


def test_without_the_sandbox_role_id_secrets_keep_only_their_unguessable_names(fleet: Fleet) -> None:
    # sandboxes.taskScopedAccess: false - the fleet leaves STOCKADE_SANDBOX_ROLE_ID out.
    result = run_dispatch(fleet)

    assert result.code == EXIT_OK, result.log
    assert fleet.recorder.bodies("PutResourcePolicy") == []


def test_a_refused_secret_policy_fails_the_launch_before_any_task_starts(fleet: Fleet) -> None:
    def refuse(**_: Any) -> dict[str, Any]:
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "no PutResourcePolicy"}},
            "PutResourcePolicy",
        )

    fleet.sm.put_resource_policy = refuse
    result = run_dispatch(fleet, env={"STOCKADE_SANDBOX_ROLE_ID": ROLE_ID})

    assert result.code == EXIT_LAUNCH
    assert "could not scope the work secret to its task" in result.event("launch.failed")["error"]
    assert fleet.recorder.bodies("RunTask") == []
    assert fleet.work_secret_names() == []  # the unscoped secret is not left behind


def test_a_malformed_sandbox_role_id_is_refused(fleet: Fleet) -> None:
    result = run_dispatch(fleet, env={"STOCKADE_SANDBOX_ROLE_ID": "arn:aws:iam::1:role/x"})
    assert result.code == EXIT_INVALID
    assert "STOCKADE_SANDBOX_ROLE_ID is not an IAM role unique ID" in result.event("config.invalid")["error"]


# --- the work secret and the environment key stay out of logs and RunTask ------------------------


def test_secrets_reach_no_log_output_and_no_ecs_request(
    fleet: Fleet, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    result = run_dispatch(fleet)

    assert result.code == EXIT_OK, result.log
    out, err = capfd.readouterr()
    records = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert caplog.records, "the capture saw no records, so it proves nothing"
    assert_no_secrets(result.log, out, err, caplog.text, records)
    # The work secret goes to Secrets Manager (so the recorder does see it) ...
    assert any(WORK_SECRET in text for op, text in fleet.recorder.sent if op == "CreateSecret")
    # ... and into no ECS request: CloudTrail records RunTask's overrides.
    ecs_calls = [
        (op, text) for op, text in fleet.recorder.sent if op in {"RunTask", "ListTasks", "DescribeTasks"}
    ]
    assert any(op == "RunTask" for op, _ in ecs_calls)
    for _op, text in ecs_calls:
        assert WORK_SECRET not in text
        assert ENV_KEY not in text


def test_a_failed_launch_logs_no_secret_and_deletes_the_secret_it_created(
    fleet: Fleet, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    missing = fleet.task_definition.rsplit(":", 1)[0] + ":99"
    result = run_dispatch(fleet, env={"STOCKADE_SESSION_TASK_DEFINITION": missing})

    assert result.code == EXIT_LAUNCH, result.log
    assert "RunTask refused" in result.event("launch.failed")["error"]
    assert result.event("secret.cleanup")["deleted"] is True
    assert fleet.work_secret_names() == []
    assert fleet.live_tasks() == []
    assert_no_secrets(result.log, caplog.text)


def test_the_redacting_handler_scrubs_message_args_fields_and_exceptions() -> None:
    redactor = Redactor()
    redactor.add(WORK_SECRET)
    tricky = 'pa"ss\\word\u00e9'
    redactor.add(tricky)
    stream = io.StringIO()
    later = io.StringIO()
    configure("test", redactor, stream)
    root = logging.getLogger()
    # A handler installed after ours sees the record only after our filter rewrote it.
    other = logging.StreamHandler(later)
    root.addHandler(other)
    try:
        log = logging.getLogger("stockade.dispatcher.test")
        log.warning("in message %s", WORK_SECRET)
        log.warning("args %r", {"secret": WORK_SECRET})
        emit(log, logging.WARNING, "in fields", nested={"list": [WORK_SECRET]}, escaped=tricky)
        try:
            raise RuntimeError(f"boom {WORK_SECRET}")
        except RuntimeError:
            log.exception("in exception")
        log.warning("bad format %s %s", WORK_SECRET)  # arguments that do not fit the template
    finally:
        root.removeHandler(other)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 5
    parsed = [json.loads(line) for line in lines]
    assert REDACTED in parsed[0]["event"]
    assert parsed[2]["nested"] == {"list": [REDACTED]}
    assert parsed[2]["escaped"] == REDACTED
    assert "RuntimeError" in parsed[3]["exception"]
    for text in (stream.getvalue(), later.getvalue()):
        assert WORK_SECRET not in text
        assert tricky not in text and json.dumps(tricky)[1:-1] not in text


def test_botocore_debug_logging_cannot_leak_the_create_secret_call(fleet: Fleet) -> None:
    logging.getLogger("botocore").setLevel(logging.DEBUG)
    result = run_dispatch(fleet)

    assert result.code == EXIT_OK
    assert logging.getLogger("botocore").getEffectiveLevel() == logging.WARNING
    assert_no_secrets(result.log)


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stdin", "env", "expected"),
    [
        ("", {}, "no work item on stdin"),
        ('{"secret": "' + WORK_SECRET + '", "id": }', {}, "not JSON"),
        ('["' + WORK_SECRET + '"]', {}, "not a JSON object"),
        (json.dumps({"id": WORK_ID, "data": {"id": SESSION_ID}}), {}, "no .secret"),
        (json.dumps({"id": WORK_ID, "secret": ""}), {}, "no .secret"),
        (work_item(work_id="work_other"), {}, "ANTHROPIC_WORK_ID and the work item's id name different"),
        (work_item(session_id="session_other"), {}, "different session IDs"),
        (work_item(work_id="work/../x"), {"ANTHROPIC_WORK_ID": "work/../x"}, "characters outside"),
        (
            json.dumps({"id": WORK_ID, "secret": WORK_SECRET, "data": {"id": SESSION_ID, "type": "other"}}),
            {},
            "data.type is not 'session'",
        ),
        (json.dumps({"secret": WORK_SECRET}), {"ANTHROPIC_WORK_ID": ""}, "no work ID"),
        (json.dumps({"id": WORK_ID, "secret": WORK_SECRET + "\n"}), {}, "control characters"),
    ],
)
def test_a_malformed_work_item_fails_clearly_without_echoing_the_secret(
    stdin: str, env: dict[str, str], expected: str
) -> None:
    result = run_main({**STATIC_ENV, **env}, stdin, no_aws)

    assert result.code == EXIT_INVALID, result.log
    assert expected in result.event("work_item.invalid")["error"]
    assert_no_secrets(result.log)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"STOCKADE_CLUSTER_ARN": ""}, "STOCKADE_CLUSTER_ARN is not set"),
        ({"STOCKADE_SUBNET_IDS": "subnet-12345678,vpc-1"}, "STOCKADE_SUBNET_IDS: item 2 is not subnet-"),
        ({"STOCKADE_SECURITY_GROUP_IDS": ","}, "STOCKADE_SECURITY_GROUP_IDS lists no IDs"),
        ({"STOCKADE_MAX_CONCURRENT_SESSIONS": "0"}, "STOCKADE_MAX_CONCURRENT_SESSIONS is 0"),
        ({"STOCKADE_MAX_CONCURRENT_SESSIONS": "many"}, "is not an integer"),
        ({"STOCKADE_WORK_SECRET_PREFIX": "stockade/dev/work"}, "ending in '/', '_' or '-'"),
        ({"STOCKADE_SESSION_TASK_DEFINITION": "stockade-dev-session"}, "with its revision"),
        ({"ANTHROPIC_BASE_URL": "http://api.example.com"}, "must be an https:// URL"),
        ({"STOCKADE_SLOT_TIMEOUT_SECONDS": "-1"}, "STOCKADE_SLOT_TIMEOUT_SECONDS is -1"),
    ],
)
def test_bad_configuration_names_the_variable_and_starts_nothing(env: dict[str, str], expected: str) -> None:
    result = run_main({**STATIC_ENV, **env}, None, no_aws)

    assert result.code == EXIT_INVALID, result.log
    assert expected in result.event("config.invalid")["error"]
    assert_no_secrets(result.log)


def test_config_reads_the_region_from_the_cluster_arn() -> None:
    cluster = STATIC_ENV["STOCKADE_CLUSTER_ARN"].replace(REGION, "eu-west-1")
    config = DispatchConfig.from_environ({**STATIC_ENV, "STOCKADE_CLUSTER_ARN": cluster})
    assert config.region == "eu-west-1"
    assert config.task.subnet_ids == ("subnet-0a1b2c3d4e5f60718", "subnet-0a1b2c3d4e5f60719")


# --- the concurrency cap ----------------------------------------------------------------------


def test_at_the_cap_the_dispatcher_waits_then_gives_up_within_the_timeout(fleet: Fleet) -> None:
    fleet.occupy(3)
    started = time.monotonic()
    result = run_dispatch(
        fleet,
        env={"STOCKADE_SLOT_TIMEOUT_SECONDS": "0.5", "STOCKADE_SLOT_POLL_SECONDS": "0.05"},
        timing=Timing(),  # the real clock and sleep
    )
    elapsed = time.monotonic() - started

    assert result.code == EXIT_NO_SLOT, result.log
    assert "all 3 sandbox slots stayed busy for 0.5s" in result.event("slot.timeout")["error"]
    assert 0.5 <= elapsed < 15  # generous: a loaded CI machine is slow, but the wait must end
    assert result.event("slot.wait")["live"] == 3
    assert len(fleet.live_tasks()) == 3
    assert fleet.recorder.bodies("RunTask") == []
    assert fleet.work_secret_names() == [], "no secret may be created before a slot is free"
    # It kept re-counting while it waited (about timeout / poll interval times), not once.
    polls = [b for b in fleet.recorder.bodies("ListTasks") if b.get("desiredStatus") == "RUNNING"]
    assert 2 <= len(polls) <= 20


def test_the_wait_is_bounded_by_the_clock_not_by_luck(fleet: Fleet) -> None:
    fleet.occupy(3)
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    result = run_dispatch(
        fleet,
        env={"STOCKADE_SLOT_TIMEOUT_SECONDS": "300", "STOCKADE_SLOT_POLL_SECONDS": "7"},
        timing=Timing(clock=lambda: now[0], sleep=sleep),
    )

    assert result.code == EXIT_NO_SLOT
    assert sum(sleeps) == pytest.approx(300)
    assert max(sleeps) <= 7
    assert len(sleeps) == 43  # 42 full intervals of 7 s and the 6 s remainder


def test_a_slot_that_frees_up_during_the_wait_is_taken_and_the_cap_holds(fleet: Fleet) -> None:
    running = fleet.occupy(3)

    def sleep(_seconds: float) -> None:
        # One session ends while the dispatcher waits.
        if len(fleet.live_tasks()) == 3:
            fleet.ecs.stop_task(cluster=fleet.cluster, task=running[0])

    result = run_dispatch(fleet, timing=Timing(sleep=sleep))

    assert result.code == EXIT_OK, result.log
    assert result.event("slot.free")["live"] == 2
    assert len(fleet.live_tasks()) == 3
    assert len(fleet.recorder.bodies("RunTask")) == 1


def test_only_dispatcher_started_tasks_count_against_the_cap(fleet: Fleet) -> None:
    for _ in range(3):
        fleet.start_task(started_by="someone-else")
    assert run_dispatch(fleet).code == EXIT_OK


# --- sweeping the secrets of stopped sessions ---------------------------------------------------


def test_secrets_of_stopped_sessions_are_deleted_by_the_next_dispatch(fleet: Fleet) -> None:
    first = run_dispatch(fleet)
    first_task = first.event("task.started")["task_arn"]
    first_secret = first.event("secret.created")["secret_arn"]
    fleet.ecs.stop_task(cluster=fleet.cluster, task=first_task)

    second = run_dispatch(
        fleet,
        work_item(work_id="work_02second", session_id="session_02second"),
        env={"ANTHROPIC_WORK_ID": "work_02second", "ANTHROPIC_SESSION_ID": "session_02second"},
    )

    assert second.code == EXIT_OK, second.log
    assert second.event("sweep.deleted")["count"] == 1
    with pytest.raises(ClientError) as gone:
        fleet.sm.get_secret_value(SecretId=first_secret)
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"
    deletes = fleet.recorder.bodies("DeleteSecret")
    assert deletes == [{"SecretId": first_secret, "ForceDeleteWithoutRecovery": True}]
    # The running session's secret is untouched.
    second_secret = second.event("secret.created")["secret_arn"]
    assert fleet.sm.get_secret_value(SecretId=second_secret)["SecretString"] == WORK_SECRET
    # The stopped task is marked, so later sweeps do not delete again.
    tags = fleet.ecs.describe_tasks(cluster=fleet.cluster, tasks=[first_task], include=["TAGS"])["tasks"][0][
        "tags"
    ]
    assert {"key": SWEPT_TAG, "value": "true"} in tags
    assert sweep_stopped(fleet.ecs, fleet.sm, fleet.cluster, "session", PREFIX) == 0
    assert len(fleet.recorder.bodies("DeleteSecret")) == 1


def _refuse_tagging_after_launch(fleet: Fleet) -> list[str]:
    """What IAM does when ecs:TagResource is allowed only with ecs:CreateAction = RunTask."""
    refused: list[str] = []

    def refuse(params: dict[str, Any], **_: Any) -> None:
        refused.append(params["resourceArn"])
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "denied"}}, "TagResource")

    fleet.ecs.meta.events.register_first("before-parameter-build.ecs.TagResource", refuse)
    return refused


@pytest.mark.parametrize("recorded", [True, False])
def test_without_the_tag_marker_the_replica_record_prevents_repeated_deletes(
    fleet: Fleet, recorded: bool
) -> None:
    env = {} if recorded else {"STOCKADE_SWEPT_FILE": ""}
    first = run_dispatch(fleet, env=env)
    fleet.ecs.stop_task(cluster=fleet.cluster, task=first.event("task.started")["task_arn"])
    refused = _refuse_tagging_after_launch(fleet)

    for _ in range(3):
        assert run_dispatch(fleet, env=env).code == EXIT_OK

    assert len(fleet.recorder.bodies("DeleteSecret")) == (1 if recorded else 3)
    assert len(refused) == (1 if recorded else 3)


def test_an_unwritable_record_never_fails_a_dispatch(fleet: Fleet, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    env = {"STOCKADE_SWEPT_FILE": str(blocker / "tasks.json")}
    first = run_dispatch(fleet, env=env)
    fleet.ecs.stop_task(cluster=fleet.cluster, task=first.event("task.started")["task_arn"])

    result = run_dispatch(fleet, env=env)

    assert result.code == EXIT_OK, result.log
    assert result.event("sweep.deleted")["count"] == 1


def test_the_sweep_never_deletes_a_secret_outside_the_prefix(fleet: Fleet) -> None:
    foreign = fleet.sm.create_secret(Name="prod/database/password", SecretString="hunter2")["ARN"]
    task = fleet.start_task(
        overrides={
            "containerOverrides": [
                {"name": "session", "environment": [{"name": "STOCKADE_WORK_SECRET_ARN", "value": foreign}]}
            ]
        },
    )
    fleet.ecs.stop_task(cluster=fleet.cluster, task=task)

    assert sweep_stopped(fleet.ecs, fleet.sm, fleet.cluster, "session", PREFIX) == 0
    assert fleet.sm.get_secret_value(SecretId=foreign)["SecretString"] == "hunter2"


def test_sweep_only_mode_reads_no_work_item(fleet: Fleet) -> None:
    first = run_dispatch(fleet)
    fleet.ecs.stop_task(cluster=fleet.cluster, task=first.event("task.started")["task_arn"])

    result = run_dispatch(fleet, stdin="not read", argv=["--sweep-only"])

    assert result.code == EXIT_OK, result.log
    assert result.event("sweep.deleted")["count"] == 1
    assert fleet.work_secret_names() == []


def test_a_failing_sweep_does_not_block_the_dispatch(fleet: Fleet) -> None:
    def refuse_describe(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeTasks")

    first = run_dispatch(fleet)
    fleet.ecs.stop_task(cluster=fleet.cluster, task=first.event("task.started")["task_arn"])
    fleet.ecs.meta.events.register_first("before-call.ecs.DescribeTasks", refuse_describe)

    result = run_dispatch(fleet)

    assert result.code == EXIT_OK, result.log
    assert result.event("sweep.failed")["error"] == "AccessDeniedException"


# --- the queue-stats loop's sweep: stopped tasks on a schedule, and secrets past their age ------


def _orphan(fleet: Fleet, name: str, stack: str = "dev") -> str:
    """A work secret whose task never started or aged out of ECS's list (dispatcher's tags)."""
    return str(
        fleet.sm.create_secret(
            Name=name,
            SecretString=WORK_SECRET,
            Tags=[{"Key": "stockade:work-id", "Value": "work_x"}, {"Key": "stockade:stack", "Value": stack}],
        )["ARN"]
    )


def _scope(fleet: Fleet) -> SweepScope:
    return SweepScope(cluster=fleet.cluster, container="session", prefix=PREFIX, stack="dev")


def test_expired_secrets_no_task_names_are_deleted_and_nothing_else(fleet: Fleet) -> None:
    running = run_dispatch(fleet)
    running_secret = running.event("secret.created")["secret_arn"]
    orphan = _orphan(fleet, f"{PREFIX}work_orphan-0123")
    other_stack = _orphan(fleet, f"{PREFIX}work_other-0123", stack="prod")
    foreign = fleet.sm.create_secret(Name="prod/database/password", SecretString="hunter2")["ARN"]
    untagged = fleet.sm.create_secret(Name=f"{PREFIX}handmade", SecretString="x")["ARN"]
    now = datetime.now(UTC)

    # Young secrets are left alone whatever names them.
    assert sweep_expired(fleet.ecs, fleet.sm, _scope(fleet), now=now, max_age=timedelta(hours=24)) == 0
    later = now + timedelta(days=2)
    assert sweep_expired(fleet.ecs, fleet.sm, _scope(fleet), now=later, max_age=timedelta(hours=24)) == 1

    assert fleet.recorder.bodies("DeleteSecret") == [{"SecretId": orphan, "ForceDeleteWithoutRecovery": True}]
    for kept in (running_secret, other_stack, foreign, untagged):
        assert fleet.sm.describe_secret(SecretId=kept)["ARN"] == kept
    # The running session's secret survives because its task names it, not because of its age.
    assert fleet.sm.get_secret_value(SecretId=running_secret)["SecretString"] == WORK_SECRET


def test_an_incomplete_task_listing_deletes_nothing_by_age(fleet: Fleet) -> None:
    run_dispatch(fleet)
    run_dispatch(
        fleet,
        work_item(work_id="work_02other", session_id="session_02other"),
        env={"ANTHROPIC_WORK_ID": "work_02other", "ANTHROPIC_SESSION_ID": "session_02other"},
    )
    _orphan(fleet, f"{PREFIX}work_orphan-0123")
    later = datetime.now(UTC) + timedelta(days=2)

    deleted = sweep_expired(
        fleet.ecs, fleet.sm, _scope(fleet), now=later, max_age=timedelta(hours=24), max_tasks=1
    )

    assert deleted == 0
    assert fleet.recorder.bodies("DeleteSecret") == []


def _stats_environ(fleet: Fleet, **extra: str) -> dict[str, str]:
    return {
        **fleet.environ,
        # Nothing listens on port 1: the stats read fails fast and the loop goes on to sweep.
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:1",
        "STOCKADE_STATS_INTERVAL_SECONDS": "60",
        "STOCKADE_STATS_HTTP_TIMEOUT_SECONDS": "1",
        **extra,
    }


def test_the_queue_stats_loop_sweeps_at_start_and_then_every_sweep_interval(fleet: Fleet) -> None:
    first = run_dispatch(fleet)
    stopped_secret = first.event("secret.created")["secret_arn"]
    fleet.ecs.stop_task(cluster=fleet.cluster, task=first.event("task.started")["task_arn"])
    config = StatsConfig.from_environ(_stats_environ(fleet, STOCKADE_SWEEP_INTERVAL_SECONDS="300"))
    assert config.sweep is not None and config.sweep.interval == 300.0
    fake_time = [0.0]

    def wait(seconds: float) -> bool:
        fake_time[0] += seconds
        return False

    cycles = run_stats(
        config,
        boto3.client("cloudwatch", region_name=REGION),
        clock=lambda: fake_time[0],
        wait=wait,
        max_iterations=11,
        sweep_clients=SweepClients(fleet.ecs, fleet.sm),
    )

    assert cycles == 11
    # Cycles at t=0, 60, ..., 600: sweeps at 0, 300 and 600.
    assert len(fleet.recorder.bodies("ListSecrets")) == 3
    assert fleet.recorder.bodies("DeleteSecret") == [
        {"SecretId": stopped_secret, "ForceDeleteWithoutRecovery": True}
    ]


def test_a_denied_list_secrets_is_logged_and_the_stopped_task_sweep_still_runs(fleet: Fleet) -> None:
    first = run_dispatch(fleet)
    fleet.ecs.stop_task(cluster=fleet.cluster, task=first.event("task.started")["task_arn"])

    def refuse_list(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "ListSecrets")

    fleet.sm.meta.events.register_first("before-call.secrets-manager.ListSecrets", refuse_list)
    stderr = io.StringIO()

    code = stats_main(
        [],
        environ=_stats_environ(fleet),
        stderr=stderr,
        metrics=boto3.client("cloudwatch", region_name=REGION),
        sweep_clients=SweepClients(fleet.ecs, fleet.sm),
        max_iterations=1,
    )

    assert code == EXIT_OK
    log = Run(code, stderr.getvalue())
    assert log.event("sweep.deleted")["count"] == 1
    failed = log.event("sweep.failed")
    assert failed == {**failed, "sweep": "expired", "error": "AccessDeniedException"}
    assert len(fleet.recorder.bodies("DeleteSecret")) == 1
    assert_no_secrets(stderr.getvalue())


def test_without_the_cluster_the_queue_stats_loop_does_not_sweep(fleet: Fleet) -> None:
    environ = {k: v for k, v in _stats_environ(fleet).items() if k != "STOCKADE_CLUSTER_ARN"}
    assert StatsConfig.from_environ(environ).sweep is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"STOCKADE_SWEEP_INTERVAL_SECONDS": "5"}, "STOCKADE_SWEEP_INTERVAL_SECONDS"),
        ({"STOCKADE_SWEEP_INTERVAL_SECONDS": "soon"}, "STOCKADE_SWEEP_INTERVAL_SECONDS"),
        ({"STOCKADE_WORK_SECRET_MAX_AGE_SECONDS": "60"}, "STOCKADE_WORK_SECRET_MAX_AGE_SECONDS"),
        ({"STOCKADE_WORK_SECRET_PREFIX": "stockade/dev/work"}, "STOCKADE_WORK_SECRET_PREFIX"),
        ({"STOCKADE_SESSION_CONTAINER": ""}, "STOCKADE_SESSION_CONTAINER"),
    ],
)
def test_bad_sweep_settings_stop_the_queue_stats_container_with_a_clear_error(
    fleet: Fleet, change: dict[str, str], expected: str
) -> None:
    stderr = io.StringIO()

    code = stats_main([], environ=_stats_environ(fleet, **change), stderr=stderr, max_iterations=1)

    assert code == EXIT_INVALID
    assert expected in Run(code, stderr.getvalue()).events()[-1]["error"]
    assert fleet.recorder.bodies("ListSecrets") == []


def test_sweep_defaults_are_five_minutes_and_a_day(fleet: Fleet) -> None:
    sweep = StatsConfig.from_environ(_stats_environ(fleet)).sweep
    assert sweep is not None
    assert (sweep.interval, sweep.max_age) == (300.0, timedelta(hours=24))


# --- RunTask failures (botocore Stubber: moto always places a Fargate task) ----------------------


@pytest.fixture
def stubbed(fleet: Fleet) -> Iterator[tuple[Stubber, list[dict[str, Any]], Callable[[str], Clients]]]:
    """An ECS client answered by a Stubber, with real (moto) Secrets Manager next to it."""
    ecs = boto3.client("ecs", region_name=REGION, config=NO_RETRY)
    sent: list[dict[str, Any]] = []
    ecs.meta.events.register(
        "before-parameter-build.ecs.RunTask", lambda params, **_: sent.append(dict(params))
    )
    stubber = Stubber(ecs)
    stubber.add_response(
        "list_tasks",
        {"taskArns": []},
        {"cluster": fleet.cluster, "startedBy": STARTED_BY, "desiredStatus": "STOPPED", "maxResults": 100},
    )
    for _lookup in ("a live task for this work item", "a free slot"):
        stubber.add_response(
            "list_tasks",
            {"taskArns": []},
            {
                "cluster": fleet.cluster,
                "startedBy": STARTED_BY,
                "desiredStatus": "RUNNING",
                "maxResults": 100,
            },
        )
    with stubber:
        yield stubber, sent, lambda _region: Clients(ecs=ecs, secrets=fleet.sm)
    stubber.assert_no_pending_responses()


CAPACITY = {"reason": "Capacity is unavailable at this time. Please try again later or in a different AZ"}
STARTED = {
    "tasks": [{"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/stockade-dev/0123456789abcdef"}],
    "failures": [],
}


def _expected_run_task(fleet: Fleet) -> dict[str, Any]:
    return {
        "cluster": fleet.cluster,
        "taskDefinition": fleet.task_definition,
        "count": 1,
        "launchType": "FARGATE",
        "networkConfiguration": ANY,
        "overrides": ANY,
        "startedBy": STARTED_BY,
        "tags": ANY,
        "enableExecuteCommand": False,
        "clientToken": ANY,
    }


def test_capacity_failures_are_retried_with_a_fresh_token_until_a_task_starts(
    fleet: Fleet, stubbed: Any
) -> None:
    stubber, sent, clients = stubbed
    stubber.add_response("run_task", {"tasks": [], "failures": [CAPACITY]}, _expected_run_task(fleet))
    stubber.add_response("run_task", {"tasks": [], "failures": [CAPACITY]}, _expected_run_task(fleet))
    stubber.add_response("run_task", STARTED, _expected_run_task(fleet))
    sleeps: list[float] = []

    result = run_dispatch(
        fleet,
        env={"STOCKADE_RUN_TASK_BACKOFF_SECONDS": "1"},
        clients=clients,
        timing=Timing(sleep=sleeps.append),
    )

    assert result.code == EXIT_OK, result.log
    assert len(sent) == 3
    assert len({p["clientToken"] for p in sent}) == 3
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] <= 1 and 1 <= sleeps[1] <= 2
    assert "Capacity is unavailable" in result.event("launch.retry")["problem"]
    assert len(fleet.work_secret_names()) == 1  # the started task keeps its secret


def test_run_task_gives_up_after_the_attempt_limit_and_removes_the_secret(fleet: Fleet, stubbed: Any) -> None:
    stubber, sent, clients = stubbed
    for _ in range(3):
        stubber.add_response("run_task", {"tasks": [], "failures": [CAPACITY]}, _expected_run_task(fleet))

    result = run_dispatch(fleet, env={"STOCKADE_RUN_TASK_ATTEMPTS": "3"}, clients=clients)

    assert result.code == EXIT_LAUNCH
    assert "no sandbox task started after 3 RunTask attempts" in result.event("launch.failed")["error"]
    assert len(sent) == 3
    assert fleet.work_secret_names() == []
    assert_no_secrets(result.log)


def test_throttling_is_retried_but_access_denied_is_not(fleet: Fleet, stubbed: Any) -> None:
    stubber, sent, clients = stubbed
    stubber.add_client_error(
        "run_task", service_error_code="ThrottlingException", service_message="Rate exceeded"
    )
    stubber.add_client_error(
        "run_task",
        service_error_code="AccessDeniedException",
        service_message="not authorized to perform: ecs:RunTask",
    )

    result = run_dispatch(fleet, clients=clients)

    assert result.code == EXIT_LAUNCH
    assert len(sent) == 2
    assert "AccessDeniedException" in result.event("launch.failed")["error"]
    assert fleet.work_secret_names() == []


def test_a_lost_response_is_retried_with_the_same_client_token(fleet: Fleet) -> None:
    calls = []

    def lose_first(request: Any, **_: Any) -> None:
        calls.append(json.loads(request.body)["clientToken"])
        if len(calls) == 1:
            raise EndpointConnectionError(endpoint_url="https://ecs.us-east-1.amazonaws.com")

    # Registered first, so it runs before moto's handler: the first call never reaches moto.
    fleet.ecs.meta.events.register_first("before-send.ecs.RunTask", lose_first)
    result = run_dispatch(fleet)

    assert result.code == EXIT_OK, result.log
    assert len(calls) == 2 and calls[0] == calls[1]
    assert len(fleet.live_tasks()) == 1


def test_sigterm_during_launch_still_deletes_the_secret(fleet: Fleet, stubbed: Any) -> None:
    stubber, _sent, clients = stubbed
    stubber.add_response("run_task", {"tasks": [], "failures": [CAPACITY]}, _expected_run_task(fleet))

    reached_fallback: list[int] = []

    def fallback(signum: int, _frame: object) -> None:
        # Only runs if the dispatcher did not install its own handler; keeps pytest alive.
        reached_fallback.append(signum)

    def terminated(_seconds: float) -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, fallback)
    try:
        with pytest.raises(SystemExit) as stopped:
            run_dispatch(fleet, clients=clients, timing=Timing(sleep=terminated))
        assert signal.getsignal(signal.SIGTERM) is fallback, (
            "the dispatcher must restore the previous handler"
        )
    finally:
        signal.signal(signal.SIGTERM, previous)

    assert reached_fallback == []
    assert stopped.value.code == 128 + signal.SIGTERM
    assert fleet.work_secret_names() == []


# --- packaging: stdlib, boto3 and stockade.workqueue only, runnable as the images lay it out -------

# boto3 and its dependencies; certifi is optional for botocore (it falls back to its own CA
# bundle), and requirements-entry.txt leaves it out of the images.
ALLOWED_THIRD_PARTY = {"boto3", "botocore", "jmespath", "s3transfer", "urllib3", "dateutil", "six", "certifi"}
# What the images copy for this package: itself and the stdlib-only code it shares.
IMAGE_PACKAGES = ("dispatcher", "workqueue")


def test_the_package_imports_only_the_stdlib_and_boto3_from_the_image_layout(tmp_path: Path) -> None:
    root = image_layout(tmp_path / "opt-stockade", IMAGE_PACKAGES)
    # Building the clients loads the parts of botocore that a bare import leaves out.
    clients = (
        "from stockade.dispatcher.aws import client\n"
        "for service in ('ecs', 'secretsmanager', 'cloudwatch'):\n"
        "    client(service, 'us-east-1')\n"
    )
    env = {"HOME": str(tmp_path), "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}

    modules = loaded_modules(root, ["dispatcher"], clients, env=env)

    assert {"stockade.dispatcher.dispatch", "stockade.dispatcher.session_entry", "botocore.client"} <= modules
    assert unexpected_modules(modules, IMAGE_PACKAGES, ALLOWED_THIRD_PARTY) == set()
    assert not {"pulumi", "pydantic"} & {m.split(".")[0] for m in modules}


def test_python_dash_m_runs_the_dispatcher_and_fails_cleanly_without_config(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(PROJECT / "components"),
        "ANTHROPIC_ENVIRONMENT_KEY": ENV_KEY,
    }
    done = run([sys.executable, "-m", "stockade.dispatcher"], env=env, cwd=tmp_path, stdin="")

    assert done.returncode == EXIT_INVALID
    assert done.stdout == ""
    line = json.loads(done.stderr.strip().splitlines()[-1])
    assert line["event"] == "config.invalid" and "STOCKADE_CLUSTER_ARN is not set" in line["error"]
    assert ENV_KEY not in done.stderr


# --- a derived token replays: ECS answers a repeated token with its first task -------------------

EARLIER_TASK = {
    "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/stockade-dev/earlier0000000000",
    "overrides": {
        "containerOverrides": [
            {
                "name": "session",
                "environment": [
                    {
                        "name": "STOCKADE_WORK_SECRET_ARN",
                        "value": "arn:aws:secretsmanager:us-east-1:123456789012:secret:stockade/work/earlier",
                    }
                ],
            }
        ]
    },
}


def _describe(status: str) -> dict[str, Any]:
    return {"tasks": [{**EARLIER_TASK, "lastStatus": status, "desiredStatus": status}], "failures": []}


def test_a_replayed_stopped_task_is_not_taken_for_a_new_sandbox(fleet: Fleet, stubbed: Any) -> None:
    stubber, sent, clients = stubbed
    stubber.add_response("run_task", {"tasks": [EARLIER_TASK], "failures": []}, _expected_run_task(fleet))
    stubber.add_response(
        "describe_tasks", _describe("STOPPED"), {"cluster": fleet.cluster, "tasks": [EARLIER_TASK["taskArn"]]}
    )
    stubber.add_response("run_task", STARTED, _expected_run_task(fleet))

    result = run_dispatch(fleet, clients=clients, timing=Timing(sleep=lambda _s: None))

    assert result.code == EXIT_OK, result.log
    assert result.event("launch.token_replayed")["task_arn"] == EARLIER_TASK["taskArn"]
    assert result.event("task.started")["task_arn"] == STARTED["tasks"][0]["taskArn"]
    base = client_token_base(fleet.cluster, WORK_ID)
    assert [p["clientToken"] for p in sent] == [f"stockade-{base}-1", f"stockade-{base}-2"]
    assert len(fleet.work_secret_names()) == 1  # the new task holds this dispatch's secret


def test_a_concurrent_dispatch_s_live_task_is_adopted_and_the_spare_secret_removed(
    fleet: Fleet, stubbed: Any
) -> None:
    stubber, sent, clients = stubbed
    stubber.add_response("run_task", {"tasks": [EARLIER_TASK], "failures": []}, _expected_run_task(fleet))
    stubber.add_response(
        "describe_tasks", _describe("RUNNING"), {"cluster": fleet.cluster, "tasks": [EARLIER_TASK["taskArn"]]}
    )

    result = run_dispatch(fleet, clients=clients)

    assert result.code == EXIT_OK, result.log
    assert result.event("task.existing")["task_arn"] == EARLIER_TASK["taskArn"]
    assert len(sent) == 1
    assert fleet.work_secret_names() == []  # no task will ever read this dispatch's secret


def test_the_redactor_keeps_permanent_secrets_and_only_the_recent_work_secrets() -> None:
    redactor = Redactor(recent_limit=3)
    redactor.add("environment-key-0123456789")
    for index in range(10):
        redactor.add_recent(f"work-secret-{index:02d}-abcdef")
    text = " ".join(["environment-key-0123456789", *(f"work-secret-{i:02d}-abcdef" for i in range(10))])
    scrubbed = redactor.scrub(text).split()
    assert scrubbed[0] == "[redacted]"  # the environment key never expires
    assert scrubbed[-3:] == ["[redacted]"] * 3  # the three most recent work secrets
    assert scrubbed[1:8] == [f"work-secret-{i:02d}-abcdef" for i in range(7)]  # older ones dropped
    redactor.add_recent("work-secret-07-abcdef")  # seen again: the most recent now
    redactor.limit_recent(1)
    assert redactor.scrub("work-secret-07-abcdef work-secret-09-abcdef") == "[redacted] work-secret-09-abcdef"
