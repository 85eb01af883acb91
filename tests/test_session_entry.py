"""The sandbox entrypoint (`stockade-session-entry`): fetch the work secret by ARN, run `ant` as a
child, forward stop signals to it, upload /workspace, exit with `ant`'s code.

Secrets Manager, S3 and KMS are moto's; moto does not enforce IAM, so the AccessDenied cases
use botocore's Stubber. `ant` is a stand-in: a script run by this interpreter that records
what it was started with (the work secret only as a yes/no) and exits as told. One test runs
the entry point as its own process and sends it SIGTERM, so signal forwarding is exercised
for real.
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from stockade.aws.fleet import iam as fleet_iam
from stockade.aws.fleet import tasks as fleet_tasks
from stockade.dispatcher import artifact_upload
from stockade.dispatcher.artifact_upload import Limits, UploadTarget, upload_workspace
from stockade.dispatcher.errors import EXIT_INVALID
from stockade.dispatcher.logs import Redactor, configure
from stockade.dispatcher.session_entry import (
    ANT_COMMAND,
    EXIT_EXEC,
    EXIT_SECRET,
    SecretFetchError,
    fetch_work_secret,
    main,
    upload_artifacts,
)

REGION = "us-east-1"
WORK_SECRET = "wsec_entry-secret-never-in-a-log-91ab"
ENV_KEY = "sk-ant-oat01-entry-env-key-never-logged"
BUCKET = "stockade-dev-artifacts"
SESSION = "session_01abc"
PROJECT = Path(__file__).resolve().parents[1]
BASE_ENV = {
    "ANTHROPIC_ENVIRONMENT_ID": "env_01dev",
    "ANTHROPIC_ENVIRONMENT_KEY": ENV_KEY,
    "ANTHROPIC_SESSION_ID": SESSION,
    "ANTHROPIC_WORK_ID": "work_01abc",
}

# The stand-in `ant`: records argv and a few variables, optionally waits for SIGTERM, exits.
STUB_ANT = f"""#!{sys.executable}
import json, os, signal, sys, time
record = {{
    "argv": sys.argv[1:],
    "secret_ok": os.environ.get("ANTHROPIC_WORK_SECRET") == {WORK_SECRET!r},
    "base_url": os.environ.get("ANTHROPIC_BASE_URL"),
    "session_id": os.environ.get("ANTHROPIC_SESSION_ID"),
}}
with open(os.environ["STUB_RECORD"], "w") as out:
    json.dump(record, out)
if os.environ.get("STUB_WAIT_FOR_TERM"):
    def stop(signum, frame):
        open(os.environ["STUB_RECORD"] + ".term", "w").write(signal.Signals(signum).name)
        sys.exit(42)
    signal.signal(signal.SIGTERM, stop)
    open(os.environ["STUB_RECORD"] + ".ready", "w").close()
    for _ in range(600):
        time.sleep(0.1)
    sys.exit(99)
sys.exit(int(os.environ.get("STUB_EXIT", "0")))
"""


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """main() installs its handler on the root logger and quiets botocore; undo both."""
    loggers = [logging.getLogger(name) for name in ("", "botocore", "boto3", "urllib3", "s3transfer")]
    saved = [(logger, list(logger.handlers), logger.level) for logger in loggers]
    yield
    for logger, handlers, level in saved:
        logger.handlers[:] = handlers
        logger.setLevel(level)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def secrets(aws: None) -> Any:
    return boto3.client("secretsmanager", region_name=REGION)


@pytest.fixture
def ant(tmp_path: Path) -> dict[str, str]:
    """Environment pieces that put the stand-in `ant` on PATH and say where it records."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "ant"
    script.write_text(STUB_ANT)
    script.chmod(0o755)
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "STUB_RECORD": str(tmp_path / "ant.json"),
    }


def recorded(ant: dict[str, str]) -> dict[str, Any] | None:
    path = Path(ant["STUB_RECORD"])
    return json.loads(path.read_text()) if path.exists() else None


def run_entry(
    environ: dict[str, str],
    argv: list[str] | None = None,
    *,
    secrets: Callable[[str], Any] | None = None,
    s3: Callable[[str | None], Any] | None = None,
    workspace: Path | None = None,
    limits: Limits | None = None,
    secret_wait: float = 0.0,
) -> tuple[int, str]:
    stderr = io.StringIO()
    code = main(
        argv or [],
        environ=environ,
        stderr=stderr,
        secrets=secrets or (lambda region: boto3.client("secretsmanager", region_name=region)),
        s3=s3 or (lambda region: boto3.client("s3", region_name=region or REGION)),
        workspace=workspace or Path("/nonexistent-workspace"),
        limits=limits,
        secret_wait=secret_wait,
    )
    return code, stderr.getvalue()


def events(log: str) -> dict[str, dict[str, Any]]:
    return {e["event"]: e for e in (json.loads(line) for line in log.splitlines() if line.strip())}


def test_fetches_the_secret_runs_ant_with_it_and_keeps_its_exit_code(
    secrets: Any, ant: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    arn = secrets.create_secret(Name="stockade/dev/work/work_01abc-" + "0" * 32, SecretString=WORK_SECRET)[
        "ARN"
    ]
    caplog.set_level(logging.DEBUG)  # only now: botocore would log the setup call's value itself

    code, log = run_entry(
        {**BASE_ENV, **ant, "STOCKADE_WORK_SECRET_ARN": arn, "STUB_EXIT": "7"}, argv=["--max-idle", "60s"]
    )

    assert code == 7, log
    record = recorded(ant)
    assert record is not None
    assert record["argv"] == [*ANT_COMMAND[1:], "--max-idle", "60s"]
    assert record["secret_ok"] is True and record["session_id"] == SESSION
    found = events(log)
    assert found["secret.fetched"]["secret_arn"] == arn
    assert found["ant.exited"]["exit_code"] == 7
    assert found["artifacts.skipped"]["reason"] == "STOCKADE_ARTIFACTS_BUCKET is not set"
    for text in (log, caplog.text):
        assert WORK_SECRET not in text
        assert ENV_KEY not in text


def test_a_secret_and_base_url_already_in_the_environment_are_passed_through(
    secrets: Any, ant: dict[str, str]
) -> None:
    code, log = run_entry(
        {**BASE_ENV, **ant, "ANTHROPIC_WORK_SECRET": WORK_SECRET, "ANTHROPIC_BASE_URL": "https://api.example"}
    )

    assert code == 0
    record = recorded(ant)
    assert record is not None and record["secret_ok"] is True
    assert record["base_url"] == "https://api.example"
    assert "secret.passed_in" in events(log)
    assert WORK_SECRET not in log


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (BASE_ENV, "neither STOCKADE_WORK_SECRET_ARN nor ANTHROPIC_WORK_SECRET is set"),
        (
            {**BASE_ENV, "STOCKADE_WORK_SECRET_ARN": "stockade/dev/work/x"},
            "is not a Secrets Manager secret ARN",
        ),
        (
            {k: v for k, v in BASE_ENV.items() if k != "ANTHROPIC_SESSION_ID"},
            "ANTHROPIC_SESSION_ID not set",
        ),
    ],
)
def test_missing_or_malformed_configuration_fails_before_ant_starts(
    secrets: Any, ant: dict[str, str], environ: dict[str, str], expected: str
) -> None:
    code, log = run_entry({**environ, **ant})

    assert code == EXIT_INVALID
    assert expected in events(log)["config.invalid"]["error"]
    assert recorded(ant) is None
    assert ENV_KEY not in log


def test_a_deleted_secret_fails_with_a_hint(secrets: Any, ant: dict[str, str]) -> None:
    arn = secrets.create_secret(Name="stockade/dev/work/gone-" + "1" * 32, SecretString=WORK_SECRET)["ARN"]
    secrets.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)

    code, log = run_entry({**BASE_ENV, **ant, "STOCKADE_WORK_SECRET_ARN": arn})

    assert code == EXIT_SECRET
    error = events(log)["secret.fetch_failed"]["error"]
    assert "ResourceNotFoundException" in error and "swept" in error
    assert recorded(ant) is None


def test_access_denied_names_the_permission_the_task_role_lacks(ant: dict[str, str]) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:stockade/dev/work/w-ab12cd"
    client = boto3.client("secretsmanager", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_client_error(
        "get_secret_value",
        service_error_code="AccessDeniedException",
        service_message=f"not authorized to perform secretsmanager:GetSecretValue on {arn}",
        expected_params={"SecretId": arn},
    )
    regions: list[str] = []

    def factory(region: str) -> Any:
        regions.append(region)
        return client

    with stubber:
        code, log = run_entry({**BASE_ENV, **ant, "STOCKADE_WORK_SECRET_ARN": arn}, secrets=factory)

    assert code == EXIT_SECRET
    assert "secretsmanager:GetSecretValue" in events(log)["secret.fetch_failed"]["error"]
    assert regions == ["us-east-1"]  # the region comes from the secret's ARN


def test_a_secret_not_yet_scoped_to_this_task_is_retried_until_it_is() -> None:
    """The dispatcher creates the secret denied to every sandbox and scopes it to this task
    right after RunTask; until then GetSecretValue answers AccessDenied."""
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:stockade/dev/work/w-ab12cd"
    client = boto3.client("secretsmanager", region_name=REGION)
    stubber = Stubber(client)
    for _ in range(2):
        stubber.add_client_error("get_secret_value", service_error_code="AccessDeniedException")
    stubber.add_response("get_secret_value", {"SecretString": WORK_SECRET}, {"SecretId": arn})
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    with stubber:
        value = fetch_work_secret(client, arn, wait=10, clock=lambda: now[0], sleep=sleep)

    assert value == WORK_SECRET
    assert sleeps == [0.5, 1.0]


def test_a_secret_that_stays_denied_fails_after_the_wait_with_the_reason() -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:stockade/dev/work/w-ab12cd"
    client = boto3.client("secretsmanager", region_name=REGION)
    stubber = Stubber(client)
    for _ in range(5):
        stubber.add_client_error("get_secret_value", service_error_code="AccessDeniedException")
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with stubber, pytest.raises(SecretFetchError) as failed:
        fetch_work_secret(client, arn, wait=4, clock=lambda: now[0], sleep=sleep)

    assert now[0] <= 4  # never sleeps past the wait
    assert "did not scope the secret to this task" in str(failed.value)


def test_a_binary_only_secret_is_refused(secrets: Any, ant: dict[str, str]) -> None:
    arn = secrets.create_secret(Name="stockade/dev/work/bin-" + "2" * 32, SecretBinary=b"\x00\x01")["ARN"]

    code, log = run_entry({**BASE_ENV, **ant, "STOCKADE_WORK_SECRET_ARN": arn})

    assert code == EXIT_SECRET
    assert "has no string value" in events(log)["secret.fetch_failed"]["error"]


def test_a_missing_ant_binary_is_reported(tmp_path: Path) -> None:
    code, log = run_entry({**BASE_ENV, "ANTHROPIC_WORK_SECRET": WORK_SECRET, "PATH": str(tmp_path)})

    assert code == EXIT_EXEC
    assert events(log)["ant.start_failed"]["error"] == "No such file or directory"
    assert WORK_SECRET not in log


# --- artifacts -------------------------------------------------------------------------------


ROLE_ID = "AROA3EXAMPLEROLE12345"
TASK_ID = "0123456789abcdef0123456789abcdef"
PREFIX = f"tasks/{ROLE_ID}:{TASK_ID}/{SESSION}/"


class _MetadataHandler(BaseHTTPRequestHandler):
    answers: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        body = self.answers.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def task_metadata() -> Iterator[tuple[str, dict[str, bytes]]]:
    """A stand-in for ECS's task metadata endpoint (v4) on loopback: (base URL, answers by path)."""
    answers = {
        "/v4/container-1/task": json.dumps(
            {"TaskARN": f"arn:aws:ecs:{REGION}:123456789012:task/stockade-dev/{TASK_ID}"}
        ).encode()
    }
    handler = type("Handler", (_MetadataHandler,), {"answers": answers})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v4/container-1", answers
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def artifacts(aws: None, task_metadata: tuple[str, dict[str, bytes]]) -> dict[str, str]:
    """A bucket and a KMS key in moto, as the fleet names them on the session container, and
    the task metadata endpoint ECS gives every container."""
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    key_arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    return {
        "STOCKADE_ARTIFACTS_BUCKET": BUCKET,
        "STOCKADE_ARTIFACTS_KMS_KEY_ARN": key_arn,
        "STOCKADE_SANDBOX_ROLE_ID": ROLE_ID,
        "ECS_CONTAINER_METADATA_URI_V4": task_metadata[0],
        "AWS_REGION": REGION,
    }


def workspace_with_traps(root: Path, outside: Path) -> None:
    """Two real files, a big one, and things the uploader must never read through."""
    (root / "sub").mkdir(parents=True)
    (root / "report.md").write_text("# result\n")
    (root / "sub" / "data.bin").write_bytes(b"\x00" * 300)
    (root / "big.log").write_bytes(b"x" * 5000)
    outside.mkdir()
    (outside / "secret.txt").write_text("outside the workspace")
    (root / "link-to-file").symlink_to(outside / "secret.txt")
    (root / "link-to-dir").symlink_to(outside, target_is_directory=True)
    os.mkfifo(root / "pipe")


def stored(prefix: str = PREFIX) -> dict[str, dict[str, Any]]:
    s3 = boto3.client("s3", region_name=REGION)
    listing = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {o["Key"][len(prefix) :]: s3.head_object(Bucket=BUCKET, Key=o["Key"]) for o in listing}


def test_the_workspace_is_uploaded_under_its_own_task_and_session_with_the_stack_key(
    artifacts: dict[str, str], ant: dict[str, str], tmp_path: Path
) -> None:
    workspace = tmp_path / "workspace"
    workspace_with_traps(workspace, tmp_path / "outside")

    code, log = run_entry(
        {**BASE_ENV, **ant, **artifacts, "ANTHROPIC_WORK_SECRET": WORK_SECRET, "STUB_EXIT": "3"},
        workspace=workspace,
        limits=Limits(file_bytes=1000),
    )

    assert code == 3, log  # ant's code, not the upload's
    objects = stored()
    assert set(objects) == {"report.md", "sub/data.bin"}
    for head in objects.values():
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == artifacts["STOCKADE_ARTIFACTS_KMS_KEY_ARN"]
    found = events(log)
    summary = found["artifacts.uploaded"]
    assert (summary["files"], summary["bytes"], summary["complete"]) == (2, 309, True)
    assert summary["prefix"] == PREFIX  # tasks/<role ID>:<task ID>/: the role's aws:userid
    assert summary["skipped"] == {"special": 1, "symlink": 2, "too_large": 1}
    assert found["artifacts.files_too_large"]["count"] == 1
    assert "outside the workspace" not in log and WORK_SECRET not in log


@pytest.mark.parametrize(
    ("limits", "cap", "uploaded"),
    [
        (Limits(files=1), "files", 1),
        (Limits(total_bytes=5005), "total_bytes", 1),  # big.log (5000) fits, report.md (9) would not
    ],
)
def test_a_cap_stops_the_upload_with_a_clear_line(
    artifacts: dict[str, str], ant: dict[str, str], tmp_path: Path, limits: Limits, cap: str, uploaded: int
) -> None:
    workspace = tmp_path / "workspace"
    workspace_with_traps(workspace, tmp_path / "outside")

    code, log = run_entry(
        {**BASE_ENV, **ant, **artifacts, "ANTHROPIC_WORK_SECRET": WORK_SECRET},
        workspace=workspace,
        limits=limits,
    )

    assert code == 0
    found = events(log)
    assert found["artifacts.capped"]["cap"] == cap
    assert "not uploaded" in found["artifacts.capped"]["detail"]
    assert found["artifacts.uploaded"]["complete"] is False
    assert len(stored()) == uploaded


def test_the_time_cap_is_checked_before_every_file(tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    for name in ("a", "b", "c"):
        (workspace / name).write_text(name)
    puts: list[str] = []

    class Store:
        def put_object(self, **kwargs: Any) -> dict[str, Any]:
            puts.append(kwargs["Key"])
            return {}

    ticks = iter([0.0, 1.0, 2.0, 99.0, 99.0])
    target = UploadTarget(BUCKET, "arn:aws:kms:us-east-1:123456789012:key/k", SESSION, f"{ROLE_ID}:{TASK_ID}")
    report = upload_workspace(
        Store(), target, workspace, limits=Limits(seconds=10), clock=lambda: next(ticks)
    )

    assert puts == [f"{PREFIX}a", f"{PREFIX}b"]
    assert report.stopped == "seconds"


def test_access_denied_on_upload_stops_at_once_and_keeps_ants_exit_code(
    ant: dict[str, str], tmp_path: Path, task_metadata: tuple[str, dict[str, bytes]]
) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    for name in ("a", "b"):
        (workspace / name).write_text(name)
    client = boto3.client("s3", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_client_error("put_object", service_error_code="AccessDenied", service_message="denied")
    key_arn = "arn:aws:kms:us-east-1:123456789012:key/0d0d0d0d-0000-4000-8000-000000000000"

    with stubber:
        code, log = run_entry(
            {
                **BASE_ENV,
                **ant,
                "ANTHROPIC_WORK_SECRET": WORK_SECRET,
                "STOCKADE_ARTIFACTS_BUCKET": BUCKET,
                "STOCKADE_ARTIFACTS_KMS_KEY_ARN": key_arn,
                "STOCKADE_SANDBOX_ROLE_ID": ROLE_ID,
                "ECS_CONTAINER_METADATA_URI_V4": task_metadata[0],
                "STUB_EXIT": "5",
            },
            s3=lambda region: client,
            workspace=workspace,
        )

    assert code == 5
    failed = events(log)["artifacts.upload_failed"]
    assert "AccessDenied" in failed["error"] and "s3:PutObject" in failed["hint"]
    assert "tasks/${aws:userid}/*" in failed["hint"]
    assert events(log)["artifacts.uploaded"]["failed"] == 1  # one attempt, not one per file


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"STOCKADE_ARTIFACTS_BUCKET": "Not_A_Bucket"}, "not an S3 bucket name"),
        ({"STOCKADE_ARTIFACTS_KMS_KEY_ARN": ""}, "STOCKADE_ARTIFACTS_KMS_KEY_ARN is not set"),
        ({"STOCKADE_SANDBOX_ROLE_ID": "AIDA-user"}, "not an IAM role unique ID"),
        ({"ECS_CONTAINER_METADATA_URI_V4": ""}, "ECS_CONTAINER_METADATA_URI_V4 is not set"),
        ({"ECS_CONTAINER_METADATA_URI_V4": "file:///etc/passwd"}, "is not an http:// URL"),
        ({"ECS_CONTAINER_METADATA_URI_V4": "{metadata}/../nowhere"}, "did not answer with JSON"),
    ],
)
def test_a_malformed_artifacts_setting_is_logged_and_ant_still_decides_the_exit(
    ant: dict[str, str],
    task_metadata: tuple[str, dict[str, bytes]],
    changes: dict[str, str],
    expected: str,
) -> None:
    environ = {
        **BASE_ENV,
        **ant,
        "ANTHROPIC_WORK_SECRET": WORK_SECRET,
        "STOCKADE_ARTIFACTS_BUCKET": BUCKET,
        "STOCKADE_ARTIFACTS_KMS_KEY_ARN": "arn:aws:kms:us-east-1:123456789012:key/k-1",
        "STOCKADE_SANDBOX_ROLE_ID": ROLE_ID,
        **{k: v.format(metadata=task_metadata[0]) for k, v in changes.items()},
    }
    environ.setdefault("ECS_CONTAINER_METADATA_URI_V4", task_metadata[0])

    code, log = run_entry(environ)

    assert code == 0
    assert expected in events(log)["artifacts.config_invalid"]["error"]


@pytest.mark.parametrize(
    "answer",
    [
        {"TaskARN": "arn:aws:ecs:us-east-1:123456789012:task/c/.."},
        {"TaskARN": 7},
        {"Cluster": "no task ARN"},
        ["not", "an", "object"],
    ],
)
def test_a_task_id_the_entry_cannot_trust_uploads_nothing(
    artifacts: dict[str, str],
    task_metadata: tuple[str, dict[str, bytes]],
    ant: dict[str, str],
    tmp_path: Path,
    answer: Any,
) -> None:
    task_metadata[1]["/v4/container-1/task"] = json.dumps(answer).encode()
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "a").write_text("a")

    code, log = run_entry(
        {**BASE_ENV, **ant, **artifacts, "ANTHROPIC_WORK_SECRET": WORK_SECRET}, workspace=workspace
    )

    assert code == 0
    assert "named no task ID" in events(log)["artifacts.config_invalid"]["error"]
    assert boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_the_metadata_endpoint_is_reached_directly_never_through_the_egress_proxy(
    artifacts: dict[str, str], ant: dict[str, str], tmp_path: Path
) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "a").write_text("a")
    # A proxy that does not exist: were the lookup proxied, it would fail.
    proxied = {"HTTP_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"}

    with pytest.MonkeyPatch.context() as patch:
        for name, value in proxied.items():
            patch.setenv(name, value)
        code, log = run_entry(
            {**BASE_ENV, **ant, **artifacts, "ANTHROPIC_WORK_SECRET": WORK_SECRET}, workspace=workspace
        )

    assert code == 0, log
    assert set(stored()) == {"a"}


def test_the_fleet_sets_the_variables_the_entry_reads() -> None:
    assert fleet_tasks.ARTIFACTS_BUCKET_VARIABLE == artifact_upload.ARTIFACTS_BUCKET_VARIABLE
    assert fleet_tasks.ARTIFACTS_KEY_VARIABLE == artifact_upload.ARTIFACTS_KEY_VARIABLE
    assert fleet_tasks.SANDBOX_ROLE_ID_VARIABLE == artifact_upload.ROLE_ID_VARIABLE
    assert fleet_iam.ARTIFACTS_PREFIX == artifact_upload.PREFIX


# --- signals, for real -----------------------------------------------------------------------


def test_sigterm_is_forwarded_to_ant_and_its_exit_code_kept(ant: dict[str, str]) -> None:
    env = {
        **BASE_ENV,
        **ant,
        "ANTHROPIC_WORK_SECRET": WORK_SECRET,
        "STUB_WAIT_FOR_TERM": "1",
        "PYTHONPATH": str(PROJECT / "components"),
    }
    entry = subprocess.Popen(
        [sys.executable, "-m", "stockade.dispatcher.session_entry", "--max-idle", "5s"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ready = Path(ant["STUB_RECORD"] + ".ready")
    try:
        for _ in range(300):  # up to 30 s for the interpreter and the stand-in to start
            if ready.exists():
                break
            time.sleep(0.1)
        assert ready.exists(), "the stand-in ant never started"
        entry.send_signal(signal.SIGTERM)
        _, stderr = entry.communicate(timeout=60)
    finally:
        if entry.poll() is None:
            entry.kill()
            entry.communicate(timeout=10)

    assert entry.returncode == 42, stderr
    assert Path(ant["STUB_RECORD"] + ".term").read_text() == "SIGTERM"
    found = events(stderr)
    assert found["ant.signal_forwarded"]["signal"] == "SIGTERM"
    assert found["ant.exited"]["exit_code"] == 42
    assert WORK_SECRET not in stderr and ENV_KEY not in stderr


def test_after_a_stop_signal_the_upload_gets_only_what_is_left_of_the_window(
    artifacts: dict[str, str], tmp_path: Path
) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "a").write_text("a")
    stderr = io.StringIO()
    configure("test", Redactor(), stderr)
    environ = {**BASE_ENV, **artifacts}
    s3 = lambda region: boto3.client("s3", region_name=region)  # noqa: E731

    # The signal came 116 s ago: the 115 s window is spent, so nothing is sent.
    upload_artifacts(environ, workspace=workspace, limits=Limits(), s3=s3, stopped_at=time.monotonic() - 116)
    assert events(stderr.getvalue())["artifacts.capped"]["cap"] == "seconds"
    assert stored() == {}

    # Just signalled: the file goes up.
    upload_artifacts(environ, workspace=workspace, limits=Limits(), s3=s3, stopped_at=time.monotonic())
    assert set(stored()) == {"a"}


def test_the_upload_window_after_a_full_memory_flush_fits_the_stop_grace(
    artifacts: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Measured: SIGTERM, then ant's documented 30 s final flush, then the upload. What the
    upload is given must be the rest of Fargate's 120 s grace minus the kill margin (85 s),
    and the upload must complete within it."""
    from stockade.aws.shared.containers import Container
    from stockade.dispatcher import session_entry
    from stockade.workqueue import grace

    workspace = tmp_path / "workspace"
    workspace.mkdir()
    for index in range(20):
        (workspace / f"deliverable-{index}.txt").write_text("x" * 1000)
    given: list[float] = []
    real_upload = session_entry.upload_workspace

    def measured(client: Any, target: Any, root: Path, *, limits: Limits) -> Any:
        given.append(limits.seconds)
        started = time.monotonic()
        report = real_upload(client, target, root, limits=limits)
        given.append(time.monotonic() - started)
        return report

    monkeypatch.setattr(session_entry, "upload_workspace", measured)
    stderr = io.StringIO()
    configure("test", Redactor(), stderr)
    s3 = lambda region: boto3.client("s3", region_name=region)  # noqa: E731
    signalled = time.monotonic() - grace.MEMORY_FLUSH_SECONDS  # ant spent the whole flush
    upload_artifacts(
        {**BASE_ENV, **artifacts}, workspace=workspace, limits=Limits(), s3=s3, stopped_at=signalled
    )

    window, took = given
    assert grace.UPLOAD_WINDOW_AFTER_FLUSH_SECONDS - 1 <= window <= grace.UPLOAD_WINDOW_AFTER_FLUSH_SECONDS
    assert grace.UPLOAD_WINDOW_AFTER_FLUSH_SECONDS == 85
    assert took < window and len(stored()) == 20
    # The flush, the window and the margin add up to the container's stop grace, which Fargate allows.
    assert (
        grace.MEMORY_FLUSH_SECONDS + window + grace.KILL_MARGIN_SECONDS <= grace.SESSION_STOP_TIMEOUT_SECONDS
    )
    Container(name="probe", image="x", stop_timeout=grace.SESSION_STOP_TIMEOUT_SECONDS)  # within 30-120 s
