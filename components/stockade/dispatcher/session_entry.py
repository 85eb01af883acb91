"""`stockade-session-entry`: the sandbox's entrypoint (`python3 -m stockade.dispatcher.session_entry`).

The dispatcher passes each sandbox only the ARN of its work secret (STOCKADE_WORK_SECRET_ARN).
This wrapper fetches the secret with the task role, puts it in ANTHROPIC_WORK_SECRET and
replaces itself with `ant beta:worker run --workdir /workspace` (plus any arguments it was
given), so `ant` is the process ECS signals on stop. The value is never logged.

Without STOCKADE_WORK_SECRET_ARN but with ANTHROPIC_WORK_SECRET already set (a spawner that
passes the secret directly, as on a Docker host), it execs `ant` unchanged.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TextIO

from stockade.dispatcher import env
from stockade.dispatcher.aws import SecretsApi, error_code, error_message, secrets_client
from stockade.dispatcher.errors import EXIT_FAILED, EXIT_OK, ConfigError, DispatchError
from stockade.dispatcher.logs import Redactor, configure, emit

PROGRAM = "stockade-session-entry"
ANT_COMMAND = ("ant", "beta:worker", "run", "--workdir", "/workspace")
EXIT_SECRET = 3
EXIT_EXEC = 127
# What `ant beta:worker run` needs besides the work secret; checked here to fail with a clear line.
REQUIRED = (
    "ANTHROPIC_ENVIRONMENT_ID",
    "ANTHROPIC_ENVIRONMENT_KEY",
    "ANTHROPIC_SESSION_ID",
    "ANTHROPIC_WORK_ID",
)

log = logging.getLogger("stockade.dispatcher.session_entry")
ExecFn = Callable[[str, list[str], dict[str, str]], object]


class SecretFetchError(DispatchError):
    exit_code = EXIT_SECRET
    event = "secret.fetch_failed"


_FETCH_HINTS = {
    "AccessDeniedException": "the sandbox task role needs secretsmanager:GetSecretValue on the work "
    "secret prefix and kms:Decrypt on the stack key",
    "ResourceNotFoundException": "the secret is gone: its session already ended and was swept, or the "
    "dispatcher deleted it after a failed launch",
}


def fetch_work_secret(client: SecretsApi, arn: str) -> str:
    try:
        response = client.get_secret_value(SecretId=arn)
    except Exception as exc:
        code = error_code(exc)
        hint = _FETCH_HINTS.get(code, error_message(exc))
        raise SecretFetchError(f"could not read the work secret {arn}: {code}: {hint}") from None
    value = response.get("SecretString")
    if not isinstance(value, str) or not value:
        raise SecretFetchError(f"the work secret {arn} has no string value")
    return value


def child_environment(
    environ: Mapping[str, str], redactor: Redactor, secrets: Callable[[str], SecretsApi]
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
        value = fetch_work_secret(secrets(env.region_of(arn, env.SECRET_ARN)), arn)
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


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    stderr: TextIO | None = None,
    secrets: Callable[[str], SecretsApi] | None = None,
    exec_fn: ExecFn | None = None,
) -> int:
    """Exec `ant`; returns only on failure (or when a test's `exec_fn` returns)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    environ = os.environ if environ is None else environ
    redactor = Redactor()
    redactor.add(environ.get("ANTHROPIC_ENVIRONMENT_KEY", ""))
    redactor.add(environ.get("ANTHROPIC_WORK_SECRET", ""))
    handler = configure(PROGRAM, redactor, stderr)
    try:
        child = child_environment(environ, redactor, secrets or secrets_client)
    except DispatchError as exc:
        emit(log, logging.ERROR, exc.event, error=str(exc), exit_code=exc.exit_code)
        return exc.exit_code
    except Exception:
        log.exception("session_entry.crashed")
        return EXIT_FAILED
    command = [*ANT_COMMAND, *arguments]
    emit(log, logging.INFO, "exec", command=command)
    handler.flush()
    try:
        (exec_fn or os.execvpe)(command[0], command, child)
    except OSError as exc:
        emit(log, logging.ERROR, "exec.failed", command=command[0], error=exc.strerror or type(exc).__name__)
        return EXIT_EXEC
    # Reached only when an injected exec_fn returns (tests); os.execvpe never does.
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
