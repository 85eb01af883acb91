"""Test helpers for stockade.orchestrators: a recording in-memory provider and the stand-in queue.

`RecordingProvider` is a STAND-IN for a sandbox provider (no SDK, no cloud): it keeps its
sandboxes in a dict and records every call, so the orchestration core can be driven against
the stand-in vendor API (tests/e2e/standins/vendor_api.py) end to end on 127.0.0.1.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from stockade.orchestrators.config import OrchestratorConfig
from stockade.orchestrators.core import Orchestrator
from stockade.orchestrators.provider import Launched, ManagedSandbox, SandboxSpec
from stockade.orchestrators.queue import QueueClient
from tests.e2e.standins.vendor_api import Queue, make_server

ENVIRONMENT_ID = "env_01StandinOrchestrator"


@dataclass
class FakeSandbox:
    name: str
    labels: dict[str, str]
    environment: dict[str, str]
    command: tuple[str, ...]
    allowed_domains: tuple[str, ...]
    running: bool = True
    exit_code: int | None = None
    idle_days: float | None = None


@dataclass
class RecordingProvider:
    name: str = "standin"
    sandboxes: dict[str, FakeSandbox] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    fail_launch: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _record(self, call: str, name: str = "") -> None:
        with self.lock:
            self.calls.append((call, name))

    def names(self, call: str) -> list[str]:
        with self.lock:
            return [n for c, n in self.calls if c == call]

    def prepare(self) -> None:
        self._record("prepare")

    def find(self, name: str) -> ManagedSandbox | None:
        self._record("find", name)
        box = self.sandboxes.get(name)
        return self._managed(box) if box is not None else None

    def launch(self, spec: SandboxSpec, existing: ManagedSandbox | None = None) -> Launched:
        self._record("launch", spec.name)
        if self.fail_launch:
            raise RuntimeError("stand-in launch failure")
        box = FakeSandbox(
            name=spec.name,
            labels=dict(spec.labels),
            environment=spec.full_environment(),
            command=tuple(spec.command),
            allowed_domains=tuple(spec.allowed_domains),
        )
        with self.lock:
            self.sandboxes[spec.name] = box
        return Launched(handle=box, name=spec.name)

    def exit_code(self, sandbox: Launched) -> int | None:
        box: FakeSandbox = sandbox.handle
        return box.exit_code

    def stop(self, sandbox: Launched) -> None:
        self._record("stop", sandbox.name)
        sandbox.handle.running = False

    def delete(self, sandbox: Launched) -> None:
        self._record("delete", sandbox.name)
        with self.lock:
            self.sandboxes.pop(sandbox.name, None)

    def list_managed(self, labels: Mapping[str, str]) -> list[ManagedSandbox]:
        self._record("list")
        with self.lock:
            boxes = list(self.sandboxes.values())
        return [self._managed(b) for b in boxes if all(b.labels.get(k) == v for k, v in labels.items())]

    def _managed(self, box: FakeSandbox) -> ManagedSandbox:
        return ManagedSandbox(
            handle=box, name=box.name, labels=dict(box.labels), running=box.running, idle_days=box.idle_days
        )


def config_environ(base_url: str, key: str, **overrides: str) -> dict[str, str]:
    environ = {
        "ANTHROPIC_ENVIRONMENT_ID": ENVIRONMENT_ID,
        "ANTHROPIC_ENVIRONMENT_KEY": key,
        "ANTHROPIC_BASE_URL": base_url,
        "STOCKADE_SESSION_IMAGE": "registry.example.com/stockade/session@sha256:" + "a" * 64,
        "STOCKADE_HEARTBEAT_SECONDS": "1",
        "STOCKADE_LEASE_TTL_SECONDS": "10",
        "STOCKADE_POLL_BLOCK_MS": "50",
        "STOCKADE_CALL_TIMEOUT_SECONDS": "5",
        "STOCKADE_LAUNCH_TIMEOUT_SECONDS": "5",
    }
    environ.update(overrides)
    return environ


@dataclass
class Harness:
    queue: Queue
    base_url: str
    key: str
    control: str
    provider: RecordingProvider

    def orchestrator(self, **overrides: str) -> Orchestrator:
        config = OrchestratorConfig.from_environ(config_environ(self.base_url, self.key, **overrides))
        client = QueueClient(
            environment_id=config.environment_id,
            environment_key=config.environment_key,
            worker_id=config.worker_id,
            base_url=config.base_url,
            timeout=config.call_timeout,
        )
        return Orchestrator(config, client, self.provider, tick=0.05)

    def user_client(self) -> QueueClient:
        """What an operator (or the sandbox's own worker) would use: the same key."""
        from stockade.workqueue.workitem import Secret

        return QueueClient(
            environment_id=ENVIRONMENT_ID,
            environment_key=Secret(self.key),
            worker_id="test-operator",
            base_url=self.base_url,
            timeout=5,
        )


@contextmanager
def standin_queue(provider: RecordingProvider | None = None) -> Iterator[Harness]:
    key = "sk-ant-oat01-" + secrets.token_hex(16)
    control = secrets.token_hex(8)
    server, queue = make_server(
        "127.0.0.1", 0, environment_id=ENVIRONMENT_ID, environment_key=key, control_token=control
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Harness(
            queue=queue,
            base_url=f"http://127.0.0.1:{server.server_address[1]}",
            key=key,
            control=control,
            provider=provider or RecordingProvider(),
        )
    finally:
        server.shutdown()
        server.server_close()


def wait_until(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@contextmanager
def running(orchestrator: Orchestrator) -> Iterator[threading.Thread]:
    thread = threading.Thread(target=orchestrator.run, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        orchestrator.request_stop()
        thread.join(15)
        assert not thread.is_alive(), "the orchestrator did not stop within 15 s"
