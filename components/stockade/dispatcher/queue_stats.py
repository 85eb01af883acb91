"""`python3 -m stockade.dispatcher.queue_stats`: publish the work queue's statistics to CloudWatch.

Runs as the "queue-stats" container of the poller task. Every STOCKADE_STATS_INTERVAL_SECONDS
it reads `GET {base}/v1/environments/{env}/work/stats` with the environment key and puts
QueueDepth (`depth`), PendingItems (`pending`) and WorkersPolling (`workers_polling`) into
namespace STOCKADE_METRICS_NAMESPACE with dimension Stack=<stack>, for the fleet's alarms.

A failed read or put is logged and the loop goes on: an alarm on missing data is the signal
that publishing stopped, not a crash loop. The environment key is sent only in the
Authorization header and is scrubbed from every log line.

When the container also has the dispatcher's STOCKADE_CLUSTER_ARN, STOCKADE_SESSION_CONTAINER
and STOCKADE_WORK_SECRET_PREFIX, the loop sweeps work secrets every
STOCKADE_SWEEP_INTERVAL_SECONDS (default 300): the stopped-task sweep the dispatcher runs,
plus the deletion of secrets older than STOCKADE_WORK_SECRET_MAX_AGE_SECONDS (default 24 h)
that no listed task names. Without those variables (a pool worker) it only publishes. A
sweep failure is logged by error code, like a failed put; secret values are never read.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from stockade.dispatcher import env
from stockade.dispatcher.aws import (
    EcsApi,
    MetricsApi,
    client,
    ecs_client,
    error_code,
    error_message,
    metrics_client,
)
from stockade.dispatcher.logs import Redactor, configure, emit
from stockade.dispatcher.swept import SweptTasks
from stockade.dispatcher.work_secrets import (
    SecretListingApi,
    SweepScope,
    sweep_expired,
    sweep_stopped,
    swept_file,
)
from stockade.workqueue.errors import EXIT_OK, DispatchError

PROGRAM = "stockade-queue-stats"
DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_NAMESPACE = "Stockade/Sandboxes"
# docs/vendor-interface.md §1.2: API version and the managed-agents beta header.
API_VERSION = "2023-06-01"
API_BETA = "managed-agents-2026-04-01"
# Stats field -> metric name (the dispatcher contract fixes these names).
METRICS = {"depth": "QueueDepth", "pending": "PendingItems", "workers_polling": "WorkersPolling"}
MAX_BODY_BYTES = 64 * 1024

log = logging.getLogger("stockade.dispatcher.queue_stats")
_NOT_INSTALLED = object()


class StatsError(Exception):
    """One failed read of the stats endpoint; the message never includes the key."""


@dataclass(frozen=True)
class SweepConfig:
    """The work secret sweep this loop runs besides publishing (docs/dispatcher.md)."""

    scope: SweepScope
    interval: float
    max_age: timedelta
    swept_file: Path | None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], stack: str) -> SweepConfig | None:
        """None when the container was not given the dispatcher's cluster (no sweep to run)."""
        if not environ.get("STOCKADE_CLUSTER_ARN", "").strip():
            return None
        scope = SweepScope(
            cluster=env.matching(environ, "STOCKADE_CLUSTER_ARN", env.CLUSTER_ARN, "an ECS cluster ARN"),
            container=env.matching(
                environ, "STOCKADE_SESSION_CONTAINER", env.CONTAINER_NAME, "a container name"
            ),
            prefix=env.matching(
                environ,
                "STOCKADE_WORK_SECRET_PREFIX",
                env.SECRET_PREFIX,
                "a Secrets Manager name prefix ending in '/', '-' or '_'",
            ),
            stack=stack,
        )
        return cls(
            scope=scope,
            interval=env.seconds(environ, "STOCKADE_SWEEP_INTERVAL_SECONDS", 300.0, 60.0, 86400.0),
            # At least an hour: ECS lists a stopped task for about that long, and the
            # stopped-task sweep is the precise one; the age limit is the backstop.
            max_age=timedelta(
                seconds=env.seconds(
                    environ, "STOCKADE_WORK_SECRET_MAX_AGE_SECONDS", 86400.0, 3600.0, 30 * 86400.0
                )
            ),
            swept_file=swept_file(environ),
        )


@dataclass(frozen=True)
class SweepClients:
    ecs: EcsApi
    secrets: SecretListingApi


def sweep_once(config: SweepConfig, clients: SweepClients, now: datetime) -> int:
    """Both sweeps, each best effort; returns how many secrets were deleted."""
    scope = config.scope
    deleted = 0
    try:
        deleted += sweep_stopped(
            clients.ecs,
            clients.secrets,
            scope.cluster,
            scope.container,
            scope.prefix,
            swept=SweptTasks(config.swept_file),
        )
    except Exception as exc:
        emit(log, logging.WARNING, "sweep.failed", sweep="stopped", error=error_code(exc))
    try:
        deleted += sweep_expired(clients.ecs, clients.secrets, scope, now=now, max_age=config.max_age)
    except Exception as exc:
        # AccessDeniedException here means the role lacks secretsmanager:ListSecrets.
        emit(log, logging.WARNING, "sweep.failed", sweep="expired", error=error_code(exc))
    return deleted


@dataclass(frozen=True)
class StatsConfig:
    stack: str
    environment_id: str
    environment_key: str
    base_url: str
    namespace: str
    interval: float
    http_timeout: float
    region: str | None
    sweep: SweepConfig | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> StatsConfig:
        stack = env.matching(environ, "STOCKADE_STACK", env.STACK_NAME, "a stack name")
        return cls(
            stack=stack,
            environment_id=env.matching(
                environ, "ANTHROPIC_ENVIRONMENT_ID", env.ENVIRONMENT_ID, "an environment ID (env_...)"
            ),
            environment_key=env.required(environ, "ANTHROPIC_ENVIRONMENT_KEY"),
            base_url=env.base_url(environ, "ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL,
            namespace=environ.get("STOCKADE_METRICS_NAMESPACE", "").strip() or DEFAULT_NAMESPACE,
            interval=env.seconds(environ, "STOCKADE_STATS_INTERVAL_SECONDS", 60.0, 1.0, 3600.0),
            http_timeout=env.seconds(environ, "STOCKADE_STATS_HTTP_TIMEOUT_SECONDS", 10.0, 0.1, 120.0),
            region=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or None,
            sweep=SweepConfig.from_environ(environ, stack),
        )

    def __repr__(self) -> str:  # the dataclass default would print the key
        return f"StatsConfig(stack={self.stack!r}, environment_id={self.environment_id!r}, key=[redacted])"

    @property
    def stats_url(self) -> str:
        return f"{self.base_url}/v1/environments/{self.environment_id}/work/stats"


def fetch_stats(config: StatsConfig) -> dict[str, Any]:
    """GET the stats endpoint once; raises StatsError with a key-free message on any failure."""
    request = urllib.request.Request(  # noqa: S310 - env.base_url allows only https or loopback http
        config.stats_url,
        headers={
            # The SDK passes the environment key as `auth_token`, i.e. a bearer token.
            "Authorization": f"Bearer {config.environment_key}",
            "anthropic-version": API_VERSION,
            "anthropic-beta": API_BETA,
            "Accept": "application/json",
            "User-Agent": PROGRAM,
        },
        method="GET",
    )
    try:
        with urllib.request.urlopen(request, timeout=config.http_timeout) as response:  # noqa: S310
            body = response.read(MAX_BODY_BYTES + 1)
    except urllib.error.HTTPError as exc:
        hint = " (the environment key was rejected: revoked or rotated?)" if exc.code in (401, 403) else ""
        raise StatsError(f"stats endpoint answered HTTP {exc.code}{hint}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise StatsError(f"stats endpoint unreachable: {reason}") from None
    if len(body) > MAX_BODY_BYTES:
        raise StatsError(f"stats response is larger than {MAX_BODY_BYTES} bytes")
    try:
        document = json.loads(body)
    except ValueError:
        raise StatsError("stats response is not JSON") from None
    if not isinstance(document, dict):
        raise StatsError("stats response is not a JSON object")
    return document


def metric_data(stats: Mapping[str, Any], stack: str, timestamp: datetime) -> list[dict[str, Any]]:
    """CloudWatch datums for the stats fields that are present and numeric; others are skipped."""
    data = []
    for field, metric in METRICS.items():
        value = stats.get(field)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            continue
        data.append(
            {
                "MetricName": metric,
                "Dimensions": [{"Name": "Stack", "Value": stack}],
                "Timestamp": timestamp,
                "Value": float(value),
                "Unit": "Count",
            }
        )
    return data


def publish_once(config: StatsConfig, metrics: MetricsApi, now: Callable[[], datetime]) -> bool:
    """One read-and-put cycle; True when every expected metric was published."""
    try:
        stats = fetch_stats(config)
    except StatsError as exc:
        emit(log, logging.WARNING, "stats.fetch_failed", error=str(exc))
        return False
    data = metric_data(stats, config.stack, now())
    missing = sorted(set(METRICS.values()) - {d["MetricName"] for d in data})
    if missing:
        emit(log, logging.WARNING, "stats.fields_missing", missing=missing)
    if not data:
        return False
    try:
        metrics.put_metric_data(Namespace=config.namespace, MetricData=data)
    except Exception as exc:
        emit(log, logging.WARNING, "metrics.put_failed", error=error_code(exc), message=error_message(exc))
        return False
    emit(log, logging.DEBUG, "metrics.published", **{d["MetricName"]: d["Value"] for d in data})
    return not missing


def run(
    config: StatsConfig,
    metrics: MetricsApi,
    *,
    clock: Callable[[], float] = time.monotonic,
    wait: Callable[[float], bool] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    max_iterations: int | None = None,
    sweep_clients: SweepClients | None = None,
) -> int:
    """Publish every `config.interval` seconds until `wait` reports a stop (or the iteration cap).

    `wait(seconds)` sleeps and returns True when the loop should end (SIGTERM in production);
    cycles are scheduled from a fixed start so a slow read does not make the interval drift.
    With `config.sweep` and `sweep_clients`, the first cycle and then the first cycle at or
    after each sweep interval also sweep work secrets (so the sweep runs at most once a cycle).
    Returns the number of cycles run.
    """
    stop = threading.Event()
    wait = wait or stop.wait
    started = clock()
    sweep_due = started
    iteration = 0
    while max_iterations is None or iteration < max_iterations:
        publish_once(config, metrics, now)
        if config.sweep is not None and sweep_clients is not None and clock() >= sweep_due:
            sweep_once(config.sweep, sweep_clients, now())
            sweep_due = clock() + config.sweep.interval
        iteration += 1
        if max_iterations is not None and iteration >= max_iterations:
            break
        next_due = started + iteration * config.interval
        if wait(max(0.0, next_due - clock())):
            break
    return iteration


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    stderr: TextIO | None = None,
    metrics: MetricsApi | None = None,
    sweep_clients: SweepClients | None = None,
    max_iterations: int | None = None,
) -> int:
    environ = os.environ if environ is None else environ
    redactor = Redactor()
    redactor.add(environ.get("ANTHROPIC_ENVIRONMENT_KEY", ""))
    configure(PROGRAM, redactor, stderr)
    try:
        config = StatsConfig.from_environ(environ)
    except DispatchError as exc:
        emit(log, logging.ERROR, exc.event, error=str(exc), exit_code=exc.exit_code)
        return exc.exit_code
    stop = threading.Event()
    previous: Any = _NOT_INSTALLED
    # Outside the main thread signal() raises ValueError; callers there use max_iterations.
    with contextlib.suppress(ValueError):
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    emit(
        log,
        logging.INFO,
        "stats.start",
        url=config.stats_url,
        namespace=config.namespace,
        interval_seconds=config.interval,
        stack=config.stack,
        sweep_interval_seconds=config.sweep.interval if config.sweep else None,
    )
    if config.sweep is not None and sweep_clients is None:
        # The cluster ARN names the region the fleet (and its secrets) live in.
        region = env.region_of(config.sweep.scope.cluster, env.CLUSTER_ARN)
        sweep_clients = SweepClients(ecs_client(region), client("secretsmanager", region))
    try:
        cycles = run(
            config,
            metrics or metrics_client(config.region),
            wait=stop.wait,
            max_iterations=max_iterations,
            sweep_clients=sweep_clients,
        )
    finally:
        if previous is not _NOT_INSTALLED:
            signal.signal(signal.SIGTERM, previous)
    emit(log, logging.INFO, "stats.stop", cycles=cycles)
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
