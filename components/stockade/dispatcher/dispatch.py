"""`stockade-dispatch`: the `--on-work` handler that starts one sandbox task per work item.

`ant beta:worker poll --on-work /usr/local/bin/stockade-dispatch` runs this once per claimed
item, with the item's identifiers in the environment and the item's JSON on stdin. In order:

1. read and check the configuration and the work item (exit 2 on anything malformed);
2. sweep the work secrets of sessions that have stopped (best effort);
3. wait, bounded, for a free slot under STOCKADE_MAX_CONCURRENT_SESSIONS (exit 3 on timeout);
4. store the work secret in its own Secrets Manager secret;
5. RunTask, retried within bounds; on failure delete the secret again (exit 4).

It returns once ECS has accepted the task; it does not wait for the session to finish.
Logs are JSON lines on stderr, scrubbed of the work secret and the environment key.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from stockade.dispatcher import env
from stockade.dispatcher.aws import EcsApi, SecretsApi, ecs_client, error_code, secrets_client
from stockade.dispatcher.launch import (
    TaskTarget,
    client_token_base,
    find_live_task,
    run_task_request,
    start_task,
)
from stockade.dispatcher.logs import Redactor, configure, emit
from stockade.dispatcher.slots import wait_for_slot
from stockade.dispatcher.swept import SweptTasks
from stockade.dispatcher.work_secrets import (
    SecretTarget,
    create_work_secret,
    delete_work_secret,
    new_nonce,
    restrict_work_secret,
    sweep_stopped,
    swept_file,
    task_id_of,
)
from stockade.workqueue.errors import EXIT_FAILED, EXIT_OK, DispatchError
from stockade.workqueue.workitem import WorkItem, parse_work_item

PROGRAM = "stockade-dispatch"
log = logging.getLogger("stockade.dispatcher")


@dataclass(frozen=True)
class DispatchConfig:
    """Everything the dispatcher reads from the poller task's environment."""

    stack: str
    region: str
    task: TaskTarget
    secrets: SecretTarget
    max_concurrent: int
    slot_timeout: float
    slot_poll_interval: float
    run_task_attempts: int
    run_task_backoff: float
    base_url: str | None
    swept_file: Path | None
    sandbox_role_id: str | None = None
    """The sandbox task role's unique ID: set, each work secret is readable by its own task only."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> DispatchConfig:
        cluster = env.matching(environ, "STOCKADE_CLUSTER_ARN", env.CLUSTER_ARN, "an ECS cluster ARN")
        stack = env.matching(environ, "STOCKADE_STACK", env.STACK_NAME, "a stack name")
        return cls(
            stack=stack,
            region=env.region_of(cluster, env.CLUSTER_ARN),
            task=TaskTarget(
                cluster_arn=cluster,
                task_definition_arn=env.matching(
                    environ,
                    "STOCKADE_SESSION_TASK_DEFINITION",
                    env.TASK_DEFINITION_ARN,
                    "a task definition ARN with its revision (...:task-definition/family:N)",
                ),
                container=env.matching(
                    environ, "STOCKADE_SESSION_CONTAINER", env.CONTAINER_NAME, "a container name"
                ),
                subnet_ids=env.id_list(environ, "STOCKADE_SUBNET_IDS", env.SUBNET_ID, "subnet-... IDs"),
                security_group_ids=env.id_list(
                    environ, "STOCKADE_SECURITY_GROUP_IDS", env.SECURITY_GROUP_ID, "sg-... IDs"
                ),
                proxy_container=_optional_container(environ, "STOCKADE_API_PROXY_CONTAINER"),
            ),
            secrets=SecretTarget(
                prefix=env.matching(
                    environ,
                    "STOCKADE_WORK_SECRET_PREFIX",
                    env.SECRET_PREFIX,
                    "a Secrets Manager name prefix ending in '/', '_' or '-' (e.g. stockade/dev/work/)",
                ),
                kms_key_arn=env.matching(environ, "STOCKADE_KMS_KEY_ARN", env.KMS_KEY_ARN, "a KMS key ARN"),
                stack=stack,
            ),
            max_concurrent=env.integer(environ, "STOCKADE_MAX_CONCURRENT_SESSIONS", None, 1, 5000),
            slot_timeout=env.seconds(environ, "STOCKADE_SLOT_TIMEOUT_SECONDS", 300.0, 0.0, 3600.0),
            slot_poll_interval=env.seconds(environ, "STOCKADE_SLOT_POLL_SECONDS", 5.0, 0.01, 300.0),
            run_task_attempts=env.integer(environ, "STOCKADE_RUN_TASK_ATTEMPTS", 4, 1, 20),
            run_task_backoff=env.seconds(environ, "STOCKADE_RUN_TASK_BACKOFF_SECONDS", 2.0, 0.0, 60.0),
            base_url=env.base_url(environ, "ANTHROPIC_BASE_URL"),
            swept_file=swept_file(environ),
            sandbox_role_id=_optional_role_id(environ, "STOCKADE_SANDBOX_ROLE_ID"),
        )


def _optional_role_id(environ: Mapping[str, str], name: str) -> str | None:
    """A role unique ID, or None when unset (the fleet leaves it out when task scoping is off)."""
    if not environ.get(name, "").strip():
        return None
    return env.matching(environ, name, env.ROLE_ID, "an IAM role unique ID (AROA...)")


def _optional_container(environ: Mapping[str, str], name: str) -> str | None:
    """A container name, or None when unset (the fleet leaves it out when the proxy is off)."""
    if not environ.get(name, "").strip():
        return None
    return env.matching(environ, name, env.CONTAINER_NAME, "a container name")


@dataclass(frozen=True)
class Clients:
    ecs: EcsApi
    secrets: SecretsApi


@dataclass(frozen=True)
class Timing:
    """Injectable time, so tests run the waits and backoffs without really sleeping."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


def sweep(config: DispatchConfig, clients: Clients) -> int:
    return sweep_stopped(
        clients.ecs,
        clients.secrets,
        config.task.cluster_arn,
        config.task.container,
        config.secrets.prefix,
        swept=SweptTasks(config.swept_file),
    )


def _sweep_best_effort(config: DispatchConfig, clients: Clients) -> None:
    try:
        sweep(config, clients)
    except Exception as exc:
        # A failed sweep leaves old secrets for the next one; it must not block new sessions.
        emit(log, logging.WARNING, "sweep.failed", error=error_code(exc))


def dispatch(config: DispatchConfig, item: WorkItem, clients: Clients, timing: Timing) -> str:
    """Start the sandbox for one work item, unless one is already live; returns its task ARN."""
    _sweep_best_effort(config, clients)
    existing = find_live_task(clients.ecs, config.task.cluster_arn, item.work_id)
    if existing is not None:
        # A redelivered or reclaimed item: its sandbox holds the lease; a second would race it.
        emit(log, logging.INFO, "task.existing", task_arn=existing, work_id=item.work_id)
        return existing
    live = wait_for_slot(
        clients.ecs,
        config.task.cluster_arn,
        config.max_concurrent,
        timeout=config.slot_timeout,
        poll_interval=config.slot_poll_interval,
        clock=timing.clock,
        sleep=timing.sleep,
    )
    nonce = new_nonce()
    secret_arn = create_work_secret(clients.secrets, config.secrets, item, nonce)
    emit(log, logging.INFO, "secret.created", secret_arn=secret_arn)
    role_id = config.sandbox_role_id
    try:
        if role_id is not None:
            restrict_work_secret(clients.secrets, secret_arn, role_id, None)
        started = start_task(
            clients.ecs,
            run_task_request(config.task, item, secret_arn),
            token_base=client_token_base(config.task.cluster_arn, item.work_id),
            attempts=config.run_task_attempts,
            backoff=config.run_task_backoff,
            sleep=timing.sleep,
        )
        if role_id is not None and not started.adopted:
            restrict_work_secret(clients.secrets, secret_arn, role_id, task_id_of(started.task_arn))
    except BaseException:
        # No task holds this secret, so nothing else would ever delete it.
        deleted = delete_work_secret(clients.secrets, secret_arn)
        emit(
            log,
            logging.INFO if deleted else logging.WARNING,
            "secret.cleanup",
            secret_arn=secret_arn,
            deleted=deleted,
        )
        raise
    if started.adopted:
        # A concurrent dispatch of this item started the task, with its own secret.
        emit(log, logging.INFO, "task.existing", task_arn=started.task_arn, work_id=item.work_id)
        delete_work_secret(clients.secrets, secret_arn)
        return started.task_arn
    emit(
        log,
        logging.INFO,
        "task.started",
        task_arn=started.task_arn,
        # With the task ARN, where to find the session's artifacts (tasks/<role ID>:<task ID>/).
        session_id=item.session_id,
        live_before=live,
        cap=config.max_concurrent,
    )
    return started.task_arn


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Start one isolated sandbox task for the work item on stdin (ant's --on-work hook).",
    )
    parser.add_argument(
        "--sweep-only",
        action="store_true",
        help="only delete the work secrets of stopped sessions; read no work item",
    )
    # `ant` documents no arguments for the hook; should a version pass some, they must not
    # make every dispatch fail, so unknown ones are counted in the log and otherwise ignored.
    arguments, unknown = parser.parse_known_args(argv)
    arguments.ignored = len(unknown)
    return arguments


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    stdin: TextIO | None = None,
    stderr: TextIO | None = None,
    clients: Callable[[str], Clients] | None = None,
    timing: Timing | None = None,
) -> int:
    """Run one dispatch; every parameter after argv exists so tests can inject it."""
    arguments = _arguments(argv)
    environ = os.environ if environ is None else environ
    redactor = Redactor()
    # Registered before anything can fail, so even a config error cannot echo them.
    redactor.add(environ.get("ANTHROPIC_ENVIRONMENT_KEY", ""))
    configure(PROGRAM, redactor, stderr)
    if arguments.ignored:
        emit(log, logging.INFO, "arguments.ignored", count=arguments.ignored)
    make_clients = clients or (lambda region: Clients(ecs_client(region), secrets_client(region)))
    try:
        config = DispatchConfig.from_environ(environ)
        if arguments.sweep_only:
            sweep(config, make_clients(config.region))
            return EXIT_OK
        stdin_text = (stdin or sys.stdin).read()
        # Register the raw secret before parsing: a parse error must not be able to echo it.
        _register_secret_candidates(redactor, stdin_text)
        item = parse_work_item(stdin_text, environ, config.base_url)
        redactor.add(item.secret.reveal())
        emit(
            log,
            logging.INFO,
            "work.received",
            work_id=item.work_id,
            session_id=item.session_id,
            stack=config.stack,
        )
        with _sigterm_unwinds():
            dispatch(config, item, make_clients(config.region), timing or Timing())
        return EXIT_OK
    except DispatchError as exc:
        emit(log, logging.ERROR, exc.event, error=str(exc), exit_code=exc.exit_code)
        return exc.exit_code
    except Exception:
        log.exception("dispatch.crashed")
        return EXIT_FAILED


def _register_secret_candidates(redactor: Redactor, stdin_text: str) -> None:
    """Register `.secret` from the raw stdin, if it parses that far, before any validation."""
    try:
        document = json.loads(stdin_text)
    except ValueError:
        return
    if isinstance(document, dict) and isinstance(document.get("secret"), str):
        redactor.add(document["secret"])


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """Turn SIGTERM into SystemExit(143) while dispatching, so a stopped poller still deletes
    a work secret whose task never started (Python's default SIGTERM action skips `finally`)."""

    def unwind(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    try:
        previous = signal.signal(signal.SIGTERM, unwind)
    except ValueError:  # not the main thread (an embedding test runner): keep the default
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
