"""`stockade-session-entry`: the sandbox's entrypoint (`python3 -m stockade.dispatcher.session_entry`).

The dispatcher passes each sandbox only the ARN of its work secret (STOCKADE_WORK_SECRET_ARN).
This wrapper fetches the secret with the task role, puts it in ANTHROPIC_WORK_SECRET and runs
`ant beta:worker run --workdir /workspace` (plus any arguments it was given) as its child. It
forwards SIGTERM and SIGINT to `ant` (ECS stops the task with SIGTERM), waits for it, then
uploads /workspace to the artifacts bucket (artifact_upload.py) and exits with `ant`'s exit
code (128+N when `ant` died of signal N). The secret's value is never logged.

Without STOCKADE_WORK_SECRET_ARN but with ANTHROPIC_WORK_SECRET already set (a spawner that
passes the secret directly, as on a Docker host), it runs `ant` unchanged; without
STOCKADE_ARTIFACTS_BUCKET it uploads nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TextIO, cast

from stockade.dispatcher import env
from stockade.dispatcher.artifact_upload import Limits, ObjectStoreApi, upload_target, upload_workspace
from stockade.dispatcher.aws import SecretsApi, client, error_code, error_message, secrets_client
from stockade.dispatcher.errors import EXIT_FAILED, ConfigError, DispatchError
from stockade.dispatcher.logs import Redactor, configure, emit
from stockade.dispatcher.task_metadata import ecs_task_id
from stockade.workqueue.grace import UPLOAD_DEADLINE_SECONDS

PROGRAM = "stockade-session-entry"
ANT_COMMAND = ("ant", "beta:worker", "run", "--workdir", "/workspace")
WORKSPACE = Path("/workspace")
EXIT_SECRET = 3
EXIT_EXEC = 127
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# ECS kills the container 120 s after SIGTERM (the task definition's stopTimeout, Fargate's
# maximum); after a stop, the upload gets whatever is left of 115 s from the signal, so it ends
# before the kill: 85 s even when ant's final memory flush takes its documented 30 s.
STOP_UPLOAD_WINDOW_SECONDS = float(UPLOAD_DEADLINE_SECONDS)
# What `ant beta:worker run` needs besides the work secret; checked here to fail with a clear line.
REQUIRED = (
    "ANTHROPIC_ENVIRONMENT_ID",
    "ANTHROPIC_ENVIRONMENT_KEY",
    "ANTHROPIC_SESSION_ID",
    "ANTHROPIC_WORK_ID",
)

log = logging.getLogger("stockade.dispatcher.session_entry")


class SecretFetchError(DispatchError):
    exit_code = EXIT_SECRET
    event = "secret.fetch_failed"


_FETCH_HINTS = {
    "AccessDeniedException": "the sandbox task role needs secretsmanager:GetSecretValue on the work "
    "secret prefix and kms:Decrypt on the stack key; if it has both, the dispatcher did not scope the "
    "secret to this task (its log says why), or this account's ECS does not name task-role sessions "
    "after the task (docs/sandbox-fleet.md, Work secrets)",
    "ResourceNotFoundException": "the secret is gone: its session already ended and was swept, or the "
    "dispatcher deleted it after a failed launch",
}
# The dispatcher scopes the secret to this task right after RunTask returns; until then the
# secret's policy denies every sandbox, so AccessDenied is retried for this long.
SECRET_WAIT_SECONDS = 60.0
_SECRET_RETRY_CAP_SECONDS = 5.0


def fetch_work_secret(
    client: SecretsApi,
    arn: str,
    *,
    wait: float = SECRET_WAIT_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    deadline = clock() + wait
    delay = 0.5
    while True:
        try:
            response = client.get_secret_value(SecretId=arn)
            break
        except Exception as exc:
            code = error_code(exc)
            if code == "AccessDeniedException" and clock() + delay <= deadline:
                emit(log, logging.INFO, "secret.not_yet_readable", retry_in=delay)
                sleep(delay)
                delay = min(delay * 2, _SECRET_RETRY_CAP_SECONDS)
                continue
            hint = _FETCH_HINTS.get(code, error_message(exc))
            raise SecretFetchError(f"could not read the work secret {arn}: {code}: {hint}") from None
    value = response.get("SecretString")
    if not isinstance(value, str) or not value:
        raise SecretFetchError(f"the work secret {arn} has no string value")
    return value


def child_environment(
    environ: Mapping[str, str],
    redactor: Redactor,
    secrets: Callable[[str], SecretsApi],
    *,
    secret_wait: float = SECRET_WAIT_SECONDS,
) -> dict[str, str]:
    """The environment `ant` runs with: ours, plus ANTHROPIC_WORK_SECRET."""
    missing = [name for name in REQUIRED if not environ.get(name)]
    if missing:
        raise ConfigError(f"{', '.join(missing)} not set; the sandbox task definition provides them")
    child = dict(environ)
    arn = environ.get("STOCKADE_WORK_SECRET_ARN", "").strip()
    if arn:
        if not env.SECRET_ARN.fullmatch(arn):
            raise ConfigError("STOCKADE_WORK_SECRET_ARN is not a Secrets Manager secret ARN")
        value = fetch_work_secret(secrets(env.region_of(arn, env.SECRET_ARN)), arn, wait=secret_wait)
        redactor.add(value)
        child["ANTHROPIC_WORK_SECRET"] = value
        emit(
            log,
            logging.INFO,
            "secret.fetched",
            secret_arn=arn,
            session_id=environ.get("ANTHROPIC_SESSION_ID"),
        )
    elif environ.get("ANTHROPIC_WORK_SECRET"):
        emit(log, logging.INFO, "secret.passed_in", session_id=environ.get("ANTHROPIC_SESSION_ID"))
    else:
        raise ConfigError("neither STOCKADE_WORK_SECRET_ARN nor ANTHROPIC_WORK_SECRET is set")
    return child


class AntRun:
    """`ant` as a child process, with SIGTERM and SIGINT forwarded to it.

    A signal that arrives before the child exists is delivered as soon as it does, so a stop
    during start-up is never lost.
    """

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.first_signal_at: float | None = None
        self._pending: list[int] = []

    def _forward(self, signum: int, _frame: FrameType | None) -> None:
        if self.first_signal_at is None:
            self.first_signal_at = time.monotonic()
        if self.process is None:
            self._pending.append(signum)
            return
        if self.process.poll() is None:
            self.process.send_signal(signum)
        emit(log, logging.INFO, "ant.signal_forwarded", signal=signal.Signals(signum).name)

    def run(self, command: list[str], environment: dict[str, str]) -> int:
        """Start `ant`, wait for it, return its exit status; raises OSError if it cannot start."""
        previous: dict[int, Any] = {}
        # Signal handlers can be set only from the main thread (the program's, or a test's).
        if threading.current_thread() is threading.main_thread():
            previous = {s: signal.signal(s, self._forward) for s in FORWARDED_SIGNALS}
        try:
            self.process = subprocess.Popen(command, env=environment)
            for signum in self._pending:
                self._forward(signum, None)
            returncode = self.process.wait()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return 128 - returncode if returncode < 0 else returncode


def upload_artifacts(
    environ: Mapping[str, str],
    *,
    workspace: Path,
    limits: Limits,
    s3: Callable[[str | None], ObjectStoreApi],
    stopped_at: float | None,
    task_id: Callable[[Mapping[str, str]], str] = ecs_task_id,
) -> None:
    """Upload the workspace when the task names a bucket; failures are logged, never raised."""
    try:
        target = upload_target(environ, lambda: task_id(environ))
    except DispatchError as exc:
        emit(log, logging.ERROR, "artifacts.config_invalid", error=str(exc))
        return
    if target is None:
        emit(log, logging.INFO, "artifacts.skipped", reason="STOCKADE_ARTIFACTS_BUCKET is not set")
        return
    if stopped_at is not None:
        remaining = stopped_at + STOP_UPLOAD_WINDOW_SECONDS - time.monotonic()
        limits = dataclasses.replace(limits, seconds=max(0.0, min(limits.seconds, remaining)))
    try:
        upload_workspace(s3(environ.get("AWS_REGION") or None), target, workspace, limits=limits)
    except Exception:
        log.exception("artifacts.crashed")


def _s3_client(region: str | None) -> ObjectStoreApi:
    return cast(ObjectStoreApi, client("s3", region))


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    stderr: TextIO | None = None,
    secrets: Callable[[str], SecretsApi] | None = None,
    s3: Callable[[str | None], ObjectStoreApi] | None = None,
    workspace: Path = WORKSPACE,
    limits: Limits | None = None,
    secret_wait: float = SECRET_WAIT_SECONDS,
) -> int:
    """Run `ant`, upload the workspace, return `ant`'s exit code (or this program's failure code)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    environ = os.environ if environ is None else environ
    redactor = Redactor()
    redactor.add(environ.get("ANTHROPIC_ENVIRONMENT_KEY", ""))
    redactor.add(environ.get("ANTHROPIC_WORK_SECRET", ""))
    configure(PROGRAM, redactor, stderr)
    try:
        child = child_environment(environ, redactor, secrets or secrets_client, secret_wait=secret_wait)
    except DispatchError as exc:
        emit(log, logging.ERROR, exc.event, error=str(exc), exit_code=exc.exit_code)
        return exc.exit_code
    except Exception:
        log.exception("session_entry.crashed")
        return EXIT_FAILED
    command = [*ANT_COMMAND, *arguments]
    emit(log, logging.INFO, "ant.starting", command=command)
    ant = AntRun()
    try:
        exit_code = ant.run(command, child)
    except OSError as exc:
        emit(
            log,
            logging.ERROR,
            "ant.start_failed",
            command=command[0],
            error=exc.strerror or type(exc).__name__,
        )
        return EXIT_EXEC
    emit(log, logging.INFO, "ant.exited", exit_code=exit_code)
    upload_artifacts(
        environ,
        workspace=workspace,
        limits=limits or Limits(),
        s3=s3 or _s3_client,
        stopped_at=ant.first_signal_at,
    )
    return exit_code


if __name__ == "__main__":
    raise SystemExit(main())
