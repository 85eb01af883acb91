"""The queue-stats publisher against a small HTTP server on 127.0.0.1 and moto's CloudWatch.

The server stands in for the vendor's stats endpoint: it answers with whatever each test
queues up and records the requests it got. A CloudWatch put failure uses botocore's
Stubber, since moto accepts every PutMetricData.
"""

from __future__ import annotations

import io
import json
import logging
import signal
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from stockade.dispatcher.logs import Redactor, configure
from stockade.dispatcher.queue_stats import StatsConfig, main, metric_data, publish_once, run
from stockade.workqueue.errors import EXIT_INVALID, EXIT_OK

from .dispatch_support import logging_restored

ENV_KEY = "sk-ant-oat01-stats-key-never-logged-5e5e"
REGION = "us-east-1"
NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


@dataclass
class StatsServer:
    """Answers GETs from a queue of (status, body); records path and headers of each request."""

    answers: list[tuple[int, bytes]] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    url: str = ""

    def answer(self, status: int, body: Any) -> None:
        self.answers.append((status, body if isinstance(body, bytes) else json.dumps(body).encode()))


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    with logging_restored():
        yield


@pytest.fixture
def server() -> Iterator[StatsServer]:
    state = StatsServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            status, body = state.answers.pop(0) if state.answers else (503, b"{}")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def cloudwatch() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("cloudwatch", region_name=REGION)


def environ(server: StatsServer, **extra: str) -> dict[str, str]:
    return {
        "STOCKADE_STACK": "dev",
        "ANTHROPIC_ENVIRONMENT_ID": "env_01dev",
        "ANTHROPIC_ENVIRONMENT_KEY": ENV_KEY,
        "ANTHROPIC_BASE_URL": server.url,
        "STOCKADE_METRICS_NAMESPACE": "Stockade/Sandboxes",
        "STOCKADE_STATS_INTERVAL_SECONDS": "60",
        "STOCKADE_STATS_HTTP_TIMEOUT_SECONDS": "5",
        **extra,
    }


def published(cloudwatch: Any) -> dict[str, float]:
    """The latest value of each metric in the namespace (moto keeps every datum)."""
    values = {}
    for metric in cloudwatch.list_metrics(Namespace="Stockade/Sandboxes")["Metrics"]:
        assert metric["Dimensions"] == [{"Name": "Stack", "Value": "dev"}]
        stats = cloudwatch.get_metric_statistics(
            Namespace="Stockade/Sandboxes",
            MetricName=metric["MetricName"],
            Dimensions=metric["Dimensions"],
            StartTime=datetime(2020, 1, 1, tzinfo=UTC),
            EndTime=datetime(2030, 1, 1, tzinfo=UTC),
            Period=60,
            Statistics=["Maximum"],
        )["Datapoints"]
        values[metric["MetricName"]] = max(point["Maximum"] for point in stats)
    return values


def test_one_cycle_reads_the_stats_endpoint_and_puts_the_three_metrics(
    server: StatsServer, cloudwatch: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.answer(
        200, {"depth": 7, "pending": 1, "workers_polling": 2, "oldest_queued_at": "2026-09-01T11:59:00Z"}
    )
    stderr = io.StringIO()

    before = signal.getsignal(signal.SIGTERM)
    code = main([], environ=environ(server), stderr=stderr, metrics=cloudwatch, max_iterations=1)

    assert code == EXIT_OK, stderr.getvalue()
    assert signal.getsignal(signal.SIGTERM) is before
    assert published(cloudwatch) == {"QueueDepth": 7.0, "PendingItems": 1.0, "WorkersPolling": 2.0}
    [(path, headers)] = server.requests
    assert path == "/v1/environments/env_01dev/work/stats"
    assert headers["authorization"] == f"Bearer {ENV_KEY}"
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["anthropic-beta"] == "managed-agents-2026-04-01"
    assert ENV_KEY not in stderr.getvalue()
    assert ENV_KEY not in caplog.text


def test_the_loop_survives_http_errors_bad_bodies_and_an_unreachable_server(
    server: StatsServer, cloudwatch: Any
) -> None:
    server.answer(500, {"error": "internal"})
    server.answer(401, {"error": "unauthorized"})
    server.answer(200, b"<html>not json</html>")
    server.answer(200, {"depth": 3, "pending": 0})  # workers_polling missing
    server.answer(200, {"depth": 4, "pending": 0, "workers_polling": 1})
    stderr = io.StringIO()
    redactor = Redactor()
    redactor.add(ENV_KEY)
    configure("test", redactor, stderr)
    config = StatsConfig.from_environ(environ(server))
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        return False

    cycles = run(config, cloudwatch, clock=lambda: 0.0, wait=wait, now=lambda: NOW, max_iterations=5)

    assert cycles == 5
    assert len(server.requests) == 5
    assert len(waits) == 4
    log = [json.loads(line) for line in stderr.getvalue().splitlines()]
    failures = [e["error"] for e in log if e["event"] == "stats.fetch_failed"]
    assert failures == [
        "stats endpoint answered HTTP 500",
        "stats endpoint answered HTTP 401 (the environment key was rejected: revoked or rotated?)",
        "stats response is not JSON",
    ]
    assert [e["missing"] for e in log if e["event"] == "stats.fields_missing"] == [["WorkersPolling"]]
    assert published(cloudwatch) == {"QueueDepth": 4.0, "PendingItems": 0.0, "WorkersPolling": 1.0}
    assert ENV_KEY not in stderr.getvalue()


def test_an_unreachable_endpoint_is_logged_and_the_loop_goes_on(cloudwatch: Any) -> None:
    # A port that was just free: nothing listens on it.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = StatsConfig.from_environ(
        {
            "STOCKADE_STACK": "dev",
            "ANTHROPIC_ENVIRONMENT_ID": "env_01dev",
            "ANTHROPIC_ENVIRONMENT_KEY": ENV_KEY,
            "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}",
            "STOCKADE_STATS_HTTP_TIMEOUT_SECONDS": "2",
        }
    )

    assert run(config, cloudwatch, wait=lambda _s: False, max_iterations=2) == 2
    assert cloudwatch.list_metrics(Namespace="Stockade/Sandboxes")["Metrics"] == []


def test_a_cloudwatch_failure_is_logged_not_fatal(server: StatsServer) -> None:
    server.answer(200, {"depth": 1, "pending": 0, "workers_polling": 1})
    server.answer(200, {"depth": 2, "pending": 0, "workers_polling": 1})
    client = boto3.client("cloudwatch", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_client_error("put_metric_data", service_error_code="AccessDenied", http_status_code=403)
    stubber.add_response("put_metric_data", {}, {"Namespace": "Stockade/Sandboxes", "MetricData": ANY})
    config = StatsConfig.from_environ(environ(server))

    with stubber:
        assert publish_once(config, client, lambda: NOW) is False
        assert publish_once(config, client, lambda: NOW) is True
    stubber.assert_no_pending_responses()


def test_cycles_keep_to_the_interval_from_a_fixed_start(server: StatsServer, cloudwatch: Any) -> None:
    for _ in range(3):
        server.answer(200, {"depth": 0, "pending": 0, "workers_polling": 1})
    now = [100.0]
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        now[0] += seconds + 5  # each wait overshoots and each cycle takes time
        return False

    config = StatsConfig.from_environ(environ(server))
    run(config, cloudwatch, clock=lambda: now[0], wait=wait, now=lambda: NOW, max_iterations=3)

    # Due at 160 and 220: the first wait is the whole interval, the second shrinks by the overshoot.
    assert waits == [60.0, 55.0]


def test_a_stop_request_ends_the_loop(server: StatsServer, cloudwatch: Any) -> None:
    server.answer(200, {"depth": 0, "pending": 0, "workers_polling": 1})
    config = StatsConfig.from_environ(environ(server))

    assert run(config, cloudwatch, wait=lambda _s: True, now=lambda: NOW) == 1


@pytest.mark.parametrize(
    ("stats", "expected"),
    [
        (
            {"depth": 5, "pending": 2, "workers_polling": 3},
            {"QueueDepth": 5.0, "PendingItems": 2.0, "WorkersPolling": 3.0},
        ),
        ({"depth": "5", "pending": True, "workers_polling": -1}, {}),
        ({"depth": float("nan"), "pending": 1.0}, {"PendingItems": 1.0}),
    ],
)
def test_only_present_sane_numbers_become_metrics(stats: dict[str, Any], expected: dict[str, float]) -> None:
    data = metric_data(stats, "dev", NOW)
    assert {d["MetricName"]: d["Value"] for d in data} == expected
    assert all(d["Dimensions"] == [{"Name": "Stack", "Value": "dev"}] and d["Unit"] == "Count" for d in data)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"ANTHROPIC_BASE_URL": "http://api.example.com"}, "must be an https:// URL"),
        ({"ANTHROPIC_ENVIRONMENT_KEY": ""}, "ANTHROPIC_ENVIRONMENT_KEY is not set"),
        ({"ANTHROPIC_ENVIRONMENT_ID": "prod"}, "ANTHROPIC_ENVIRONMENT_ID is not an environment ID"),
        ({"STOCKADE_STATS_INTERVAL_SECONDS": "0"}, "STOCKADE_STATS_INTERVAL_SECONDS is 0.0"),
    ],
)
def test_bad_configuration_exits_with_a_clear_error(
    server: StatsServer, change: dict[str, str], expected: str
) -> None:
    stderr = io.StringIO()

    code = main([], environ={**environ(server), **change}, stderr=stderr, metrics=None, max_iterations=1)

    assert code == EXIT_INVALID
    line = json.loads(stderr.getvalue().splitlines()[-1])
    assert expected in line["error"]
    assert ENV_KEY not in stderr.getvalue()
    assert server.requests == []


def test_the_config_never_shows_the_key(server: StatsServer) -> None:
    config = StatsConfig.from_environ(environ(server))
    assert ENV_KEY not in repr(config)
    assert ENV_KEY not in str(config)
    assert config.stats_url == f"{server.url}/v1/environments/env_01dev/work/stats"
    default = StatsConfig.from_environ({**environ(server), "ANTHROPIC_BASE_URL": ""})
    assert default.stats_url == "https://api.anthropic.com/v1/environments/env_01dev/work/stats"
