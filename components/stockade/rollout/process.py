"""The rollout's side of a worker process: spawn, hand over a job, relay messages, stop it.

Workers start in a session of their own. The terminal's Ctrl-C therefore reaches only the
rollout, which decides what to cancel and signals each worker's process group (the worker
and the Pulumi CLI it runs) itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from stockade.rollout.protocol import Job

WORKER_MODULE = "stockade.rollout.worker"
_EOF = object()


class WorkerFailedError(Exception):
    """The worker could not start or died without a result."""


@dataclass(frozen=True)
class Exit:
    """The worker's stdout closed; `code` is its exit status once it has been reaped."""

    code: int | None


class WorkerProcess:
    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen
        self._messages: queue.Queue[Any] = queue.Queue()
        self._ready: dict[str, Any] | None = None
        self._reader = threading.Thread(target=self._read, name=f"worker-{popen.pid}", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self._popen.pid

    @classmethod
    def spawn(cls, env: Mapping[str, str], stderr_path: Path, cwd: Path) -> WorkerProcess:
        stderr_path.parent.mkdir(parents=True, exist_ok=True)
        with stderr_path.open("ab") as stderr:
            popen = subprocess.Popen(
                [sys.executable, "-m", WORKER_MODULE],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=dict(env),
                cwd=cwd,
                start_new_session=True,
            )
        return cls(popen)

    def _read(self) -> None:
        stream: IO[bytes] | None = self._popen.stdout
        assert stream is not None
        for raw in stream:
            try:
                message = json.loads(raw)
            except json.JSONDecodeError:
                continue  # not ours: the protocol is JSON lines only
            if isinstance(message, dict):
                self._messages.put(message)
        self._messages.put(_EOF)

    def wait_ready(self, timeout: float) -> dict[str, Any]:
        """Block until the worker has loaded the Automation API and found the CLI."""
        if self._ready is not None:
            return self._ready
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise WorkerFailedError(f"the worker did not start within {timeout:.0f}s")
            try:
                message = self._messages.get(timeout=remaining)
            except queue.Empty:
                continue
            if message is _EOF:
                raise WorkerFailedError(f"the worker exited while starting (code {self._popen.wait()})")
            if message.get("type") == "fatal":
                raise WorkerFailedError(str(message.get("error")))
            if message.get("type") == "ready":
                self._ready = message
                return message

    def is_ready(self) -> bool:
        if self._ready is not None:
            return True
        try:
            message = self._messages.get_nowait()
        except queue.Empty:
            return False
        if isinstance(message, dict) and message.get("type") == "ready":
            self._ready = message
            return True
        self._messages.put(message)  # fatal or EOF: leave it for wait_ready to report
        return False

    def start(self, job: Job) -> None:
        """Hand over one job; the worker stays for the next one until dismissed."""
        stdin = self._popen.stdin
        assert stdin is not None
        try:
            stdin.write(job.to_line().encode("utf-8"))
            stdin.flush()
        except (BrokenPipeError, ValueError):
            raise WorkerFailedError("the worker exited before it received its job") from None

    def messages(self) -> Iterator[dict[str, Any] | Exit]:
        """Progress and result messages until the worker's stdout closes (callers stop at the result)."""
        while True:
            message = self._messages.get()
            if message is _EOF:
                yield Exit(self._popen.wait())
                return
            yield message

    def dismiss(self) -> None:
        """An idle worker is no longer needed: closing stdin lets it exit on its own."""
        stdin = self._popen.stdin
        if stdin is not None and not stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                stdin.close()

    def interrupt(self) -> None:
        self._signal(signal.SIGINT)

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def _signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, signum)

    def reap(self, timeout: float = 30.0) -> None:
        """Collect the exit status in the background; a worker that lingers is killed."""

        def wait_then_kill() -> None:
            if self.wait(timeout) is None:
                self.kill()
                self.wait(timeout)

        threading.Thread(target=wait_then_kill, name=f"reap-{self.pid}", daemon=True).start()

    def wait(self, timeout: float) -> int | None:
        try:
            return self._popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def poll(self) -> int | None:
        return self._popen.poll()
