"""The sandbox entrypoint (`stockade-session-entry`): fetch the work secret by ARN, exec `ant`.

Secrets Manager is moto's. moto does not enforce IAM, so the AccessDenied case uses
botocore's Stubber. One test really execs: a stand-in `ant` script on PATH, run in a
subprocess, so os.execvpe and the argument list are exercised for real.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from stockade.dispatcher.errors import EXIT_INVALID
from stockade.dispatcher.session_entry import ANT_COMMAND, EXIT_EXEC, EXIT_SECRET, main

REGION = "us-east-1"
WORK_SECRET = "wsec_entry-secret-never-in-a-log-91ab"
ENV_KEY = "sk-ant-oat01-entry-env-key-never-logged"
PROJECT = Path(__file__).resolve().parents[1]
BASE_ENV = {
    "ANTHROPIC_ENVIRONMENT_ID": "env_01dev",
    "ANTHROPIC_ENVIRONMENT_KEY": ENV_KEY,
    "ANTHROPIC_SESSION_ID": "session_01abc",
    "ANTHROPIC_WORK_ID": "work_01abc",
}


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
def secrets() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)


class Exec:
    """Records the exec call instead of replacing the test process."""

    def __init__(self, error: OSError | None = None) -> None:
        self.calls: list[tuple[str, list[str], dict[str, str]]] = []
        self.error = error

    def __call__(self, file: str, args: list[str], env: dict[str, str]) -> None:
        self.calls.append((file, args, env))
        if self.error:
            raise self.error


def run_entry(
    environ: dict[str, str],
    argv: list[str] | None = None,
    exec_fn: Exec | None = None,
    secrets: Callable[[str], Any] | None = None,
) -> tuple[int, str, Exec]:
    stderr = io.StringIO()
    recorder = exec_fn or Exec()
    code = main(
        argv or [],
        environ=environ,
        stderr=stderr,
        secrets=secrets or (lambda region: boto3.client("secretsmanager", region_name=region)),
        exec_fn=recorder,
    )
    return code, stderr.getvalue(), recorder


def events(log: str) -> dict[str, dict[str, Any]]:
    return {e["event"]: e for e in (json.loads(line) for line in log.splitlines() if line.strip())}


def test_fetches_the_secret_by_arn_and_execs_ant_with_it(
    secrets: Any, caplog: pytest.LogCaptureFixture
) -> None:
    name = "stockade/dev/work/work_01abc-" + "0" * 32
    arn = secrets.create_secret(Name=name, SecretString=WORK_SECRET)["ARN"]
    caplog.set_level(logging.DEBUG)  # only now: botocore would log the setup call's value itself

    code, log, recorder = run_entry({**BASE_ENV, "STOCKADE_WORK_SECRET_ARN": arn}, argv=["--max-idle", "60s"])

    assert code == 0, log
    [(file, args, env)] = recorder.calls
    assert file == "ant"
    assert args == ["ant", "beta:worker", "run", "--workdir", "/workspace", "--max-idle", "60s"]
    assert env["ANTHROPIC_WORK_SECRET"] == WORK_SECRET
    assert env["ANTHROPIC_SESSION_ID"] == "session_01abc"
    assert env["ANTHROPIC_ENVIRONMENT_KEY"] == ENV_KEY  # ant needs it; it just must not be logged
    assert events(log)["secret.fetched"]["secret_arn"] == arn
    for text in (log, caplog.text):
        assert WORK_SECRET not in text
        assert ENV_KEY not in text


def test_a_secret_already_in_the_environment_is_passed_through(secrets: Any) -> None:
    code, log, recorder = run_entry({**BASE_ENV, "ANTHROPIC_WORK_SECRET": WORK_SECRET})

    assert code == 0
    assert recorder.calls[0][2]["ANTHROPIC_WORK_SECRET"] == WORK_SECRET
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
def test_missing_or_malformed_configuration_fails_before_any_exec(
    secrets: Any, environ: dict[str, str], expected: str
) -> None:
    code, log, recorder = run_entry(environ)

    assert code == EXIT_INVALID
    assert expected in events(log)["config.invalid"]["error"]
    assert recorder.calls == []
    assert ENV_KEY not in log


def test_a_deleted_secret_fails_with_a_hint(secrets: Any) -> None:
    arn = secrets.create_secret(Name="stockade/dev/work/gone-" + "1" * 32, SecretString=WORK_SECRET)["ARN"]
    secrets.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)

    code, log, recorder = run_entry({**BASE_ENV, "STOCKADE_WORK_SECRET_ARN": arn})

    assert code == EXIT_SECRET
    error = events(log)["secret.fetch_failed"]["error"]
    assert "ResourceNotFoundException" in error and "swept" in error
    assert recorder.calls == []


def test_access_denied_names_the_permission_the_task_role_lacks() -> None:
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
        code, log, _ = run_entry({**BASE_ENV, "STOCKADE_WORK_SECRET_ARN": arn}, secrets=factory)

    assert code == EXIT_SECRET
    assert "secretsmanager:GetSecretValue" in events(log)["secret.fetch_failed"]["error"]
    assert regions == ["us-east-1"]  # the region comes from the secret's ARN


def test_a_binary_only_secret_is_refused(secrets: Any) -> None:
    arn = secrets.create_secret(Name="stockade/dev/work/bin-" + "2" * 32, SecretBinary=b"\x00\x01")["ARN"]

    code, log, _ = run_entry({**BASE_ENV, "STOCKADE_WORK_SECRET_ARN": arn})

    assert code == EXIT_SECRET
    assert "has no string value" in events(log)["secret.fetch_failed"]["error"]


def test_a_missing_ant_binary_is_reported(secrets: Any) -> None:
    code, log, _ = run_entry(
        {**BASE_ENV, "ANTHROPIC_WORK_SECRET": WORK_SECRET},
        exec_fn=Exec(FileNotFoundError(2, "No such file or directory")),
    )

    assert code == EXIT_EXEC
    assert events(log)["exec.failed"]["error"] == "No such file or directory"
    assert WORK_SECRET not in log


def test_the_real_exec_replaces_the_process_with_ant(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_ant = bin_dir / "ant"
    # Prints what it was started with; the secret only as a yes/no.
    fake_ant.write_text(
        '#!/bin/sh\nprintf \'%s\\n\' "$@"\n[ "$ANTHROPIC_WORK_SECRET" = "'
        + WORK_SECRET
        + '" ] && echo secret-ok\n'
    )
    fake_ant.chmod(0o755)
    env = {
        **BASE_ENV,
        "ANTHROPIC_WORK_SECRET": WORK_SECRET,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(PROJECT / "components"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "stockade.dispatcher.session_entry", "--max-idle", "5s"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [*ANT_COMMAND[1:], "--max-idle", "5s", "secret-ok"]
    assert WORK_SECRET not in done.stderr
    assert ENV_KEY not in done.stderr
