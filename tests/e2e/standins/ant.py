#!/usr/bin/python3
"""A STAND-IN for the vendor's `ant` CLI worker, for tests only. It is not the vendor's binary.

It implements only the documented interface Stockade relies on (docs/vendor-interface.md §1.4):

    ant beta:worker poll --workdir DIR [--log-format json] --on-work SCRIPT
        Poll the queue; for each item, acknowledge it and run SCRIPT once with
        ANTHROPIC_SESSION_ID, ANTHROPIC_WORK_ID, ANTHROPIC_ENVIRONMENT_ID,
        ANTHROPIC_ENVIRONMENT_KEY (and ANTHROPIC_BASE_URL when set) in its environment and
        the work-item JSON on stdin. On SIGTERM: stop polling, wait for running handlers, exit.
    ant beta:worker run --workdir DIR [--log-format json]
        Handle one claimed session: heartbeat its lease, run the session's "tool calls", post
        the results, release the item. On SIGTERM: cancel the tool call, post an error
        result, release the item, then exit (after the session's simulated memory flush).

The session's tool calls are a bash script the test puts in the session's metadata
(`standin_script`): the stand-in fetches `GET /v1/sessions/{id}` as the real worker does, runs
the script in the workdir (as the agent's bash tool would, with the worker's environment), and
posts what it saw to the stand-in API's `/_standin_report`, authenticated by the work secret.

Stdlib only. The test harness appends the test CA (`STANDIN_CA_PEM`) when it builds the image.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import Any

DEFAULT_BASE_URL = "https://api.anthropic.com"
STANDIN_CA_PEM = ""  # replaced at image build time
OUTPUT_LIMIT = 64 * 1024


def log(event: str, **fields: Any) -> None:
    print(json.dumps({"standin": "ant", "event": event, **fields}), file=sys.stderr, flush=True)


class Api:
    def __init__(self, client: str, base: str | None = None) -> None:
        self.base = base or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL
        self.env_id = os.environ["ANTHROPIC_ENVIRONMENT_ID"]
        self.key = os.environ.get("ANTHROPIC_ENVIRONMENT_KEY", "")
        self.client = f"{client}@{socket.gethostname()}"
        context = ssl.create_default_context(cadata=STANDIN_CA_PEM or None)
        if not STANDIN_CA_PEM:
            context = ssl.create_default_context()
        # urllib's default ProxyHandler honours HTTPS_PROXY/NO_PROXY, as the real CLI does.
        self.opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        timeout = 15.0
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base.rstrip("/") + path, data=data, method=method)  # noqa: S310
        request.add_header("Authorization", f"Bearer {self.key}")
        request.add_header("anthropic-version", "2023-06-01")
        request.add_header("anthropic-beta", "managed-agents-2026-04-01")
        request.add_header("X-Standin-Client", self.client)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        # A loaded test machine can stall the proxy path for a while: retry transport errors a
        # few times, then report status 0 rather than crash (the real worker retries too).
        for attempt in range(4):
            try:
                with self.opener.open(request, timeout=timeout) as response:
                    raw = response.read()
                    return response.status, json.loads(raw) if raw else None
            except urllib.error.HTTPError as exc:
                raw = exc.read()
                try:
                    return exc.code, json.loads(raw) if raw else None
                except ValueError:
                    return exc.code, None
            except OSError as exc:
                log("api.retry", path=path.split("?")[0], attempt=attempt, error=type(exc).__name__)
                time.sleep(1 + attempt)
        return 0, None

    def work(self, suffix: str) -> str:
        return f"/v1/environments/{self.env_id}/work{suffix}"


def poll(argv: list[str]) -> int:
    script = argv[argv.index("--on-work") + 1]
    api = Api("poll")
    stopping = threading.Event()
    handlers: list[subprocess.Popen[bytes]] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    log("poll.started")
    backoff = 0.5
    while not stopping.is_set():
        worker = {"Anthropic-Worker-ID": api.client}
        status, item = api.call("GET", api.work("/poll?block_ms=999"), headers=worker)
        if status == 0:
            log("poll.unreachable")
            stopping.wait(backoff)
            backoff = min(backoff * 2, 5.0)
            continue
        backoff = 0.5
        if status == 204 or not item:
            continue
        if status != 200:
            log("poll.error", status=status)
            stopping.wait(1)
            continue
        api.call("POST", api.work(f"/{item['id']}/ack"))
        env = {
            **os.environ,
            "ANTHROPIC_SESSION_ID": item["data"]["id"],
            "ANTHROPIC_WORK_ID": item["id"],
            "ANTHROPIC_ENVIRONMENT_ID": api.env_id,
            "ANTHROPIC_ENVIRONMENT_KEY": api.key,
        }
        handler = subprocess.Popen([script], stdin=subprocess.PIPE, env=env)
        assert handler.stdin is not None
        handler.stdin.write(json.dumps(item).encode())
        handler.stdin.close()
        handlers.append(handler)
        log("poll.dispatched", work_id=item["id"])
    log("poll.stopping", running=sum(1 for h in handlers if h.poll() is None))
    deadline = time.monotonic() + 30
    for handler in handlers:
        try:
            handler.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            handler.terminate()
    log("poll.stopped")
    return 0


def run(argv: list[str]) -> int:
    workdir = argv[argv.index("--workdir") + 1] if "--workdir" in argv else "."
    api = Api("run")
    session_id = os.environ["ANTHROPIC_SESSION_ID"]
    work_id = os.environ["ANTHROPIC_WORK_ID"]
    work_secret = os.environ.get("ANTHROPIC_WORK_SECRET", "")
    terminated = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: terminated.set())

    # Reports are the stand-in's own channel to the test, not part of the vendor's interface: they
    # go straight to the stand-in API (through the egress proxy), never through ANTHROPIC_BASE_URL.
    reporter = Api("report", base=DEFAULT_BASE_URL)

    def report(kind: str, **fields: Any) -> None:
        body = {"kind": kind, "work_id": work_id, "session_id": session_id}
        body["hostname"] = socket.gethostname()
        reporter.call(
            "POST", "/_standin_report", body | fields, headers={"X-Standin-Work-Secret": work_secret}
        )

    def heartbeat(last: str) -> tuple[int, Any]:
        query = f"desired_ttl_seconds=30&expected_last_heartbeat={last}"
        return api.call("POST", api.work(f"/{work_id}/heartbeat?{query}"))

    status, beat = heartbeat("NO_HEARTBEAT")
    if status != 200:
        log("run.heartbeat_refused", status=status)
        return 1
    last = beat["last_heartbeat"]
    status, session = api.call("GET", f"/v1/sessions/{session_id}")
    metadata = (session or {}).get("metadata", {})
    script = str(metadata.get("standin_script", "true"))
    flush_seconds = float(metadata.get("standin_flush_seconds", 0))
    started = time.time()
    tool = subprocess.Popen(
        ["/bin/bash", "-c", script],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    output: dict[str, bytes] = {}

    def collect() -> None:
        out, err = tool.communicate()
        output["stdout"], output["stderr"] = out[-OUTPUT_LIMIT:], err[-OUTPUT_LIMIT:]

    collector = threading.Thread(target=collect, daemon=True)
    collector.start()
    stop_requested = False
    while collector.is_alive() and not terminated.is_set():
        collector.join(2.0)
        status, beat = heartbeat(last)
        if status == 200:
            last = beat["last_heartbeat"]
            if beat.get("state") == "stopping":
                stop_requested = True
                break
    if terminated.is_set() or stop_requested:
        os.killpg(tool.pid, signal.SIGTERM)
        collector.join(10)
        report(
            "result",
            error="cancelled",
            exit_code=tool.returncode,
            signal_received=terminated.is_set(),
            started=started,
            ended=time.time(),
            work_secret_sha256=hashlib.sha256(work_secret.encode()).hexdigest(),
            stdout=output.get("stdout", b"").decode("utf-8", "replace"),
            stderr=output.get("stderr", b"").decode("utf-8", "replace"),
        )
        time.sleep(flush_seconds)  # the final memory flush the contract allows for
        api.call("POST", api.work(f"/{work_id}/stop"), {"force": False})
        report("released", flushed_seconds=flush_seconds)
        log("run.cancelled", work_id=work_id)
        return 0
    collector.join()
    report(
        "result",
        exit_code=tool.returncode,
        started=started,
        ended=time.time(),
        work_secret_sha256=hashlib.sha256(work_secret.encode()).hexdigest(),
        stdout=output.get("stdout", b"").decode("utf-8", "replace"),
        stderr=output.get("stderr", b"").decode("utf-8", "replace"),
    )
    api.call("POST", api.work(f"/{work_id}/stop"), {"force": False})
    log("run.finished", work_id=work_id, exit_code=tool.returncode)
    return 0


def main(argv: list[str]) -> int:
    if argv[:2] == ["beta:worker", "poll"] and "--on-work" in argv:
        return poll(argv[2:])
    if argv[:2] == ["beta:worker", "run"]:
        return run(argv[2:])
    print(f"ant stand-in: unsupported command {argv[:2]}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
