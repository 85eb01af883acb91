"""Workers started ahead of need and reused, so a stack never waits for Python and the Automation API.

An idle worker holds no credentials and no stack: it has imported the Automation API and
checked the CLI version, and between jobs it keeps nothing of the last stack (the
credentials lived in that stack's workspace `env_vars` only). A worker whose job was
cancelled or ended without a result is never reused.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from pathlib import Path

from stockade.rollout.process import WorkerProcess

READY_TIMEOUT = 120.0


class WorkerPool:
    def __init__(self, env: Mapping[str, str], *, log_path: Path, cwd: Path, prewarm: bool) -> None:
        self._env = dict(env)
        self._log_path = log_path
        self._cwd = cwd
        self._prewarm = prewarm
        self._idle: deque[WorkerProcess] = deque()
        self._lock = threading.Lock()
        self._closed = False

    def _spawn(self) -> WorkerProcess:
        return WorkerProcess.spawn(self._env, self._log_path, self._cwd)

    def warm(self, count: int) -> None:
        """Keep `count` idle workers starting or ready (no-op when prewarming is off)."""
        if not self._prewarm:
            return
        with self._lock:
            if self._closed:
                return
            while len(self._idle) < count:
                self._idle.append(self._spawn())
            while len(self._idle) > count:
                extra = self._idle.pop()
                extra.dismiss()
                extra.reap()

    def release(self, worker: WorkerProcess) -> None:
        """A worker whose job ended normally goes back to the idle list (ready at once)."""
        with self._lock:
            if not self._closed and worker.poll() is None:
                self._idle.appendleft(worker)
                return
        worker.dismiss()
        worker.reap()

    def reserve(self) -> WorkerProcess | None:
        """Claim an idle worker for a stack that is starting now, before `warm()` can dismiss it."""
        with self._lock:
            return self._pick() if self._idle else None

    def take(self, reserved: WorkerProcess | None = None) -> WorkerProcess:
        """A worker for the next stack (the reserved one, if any), ready to receive its job."""
        if reserved is None:
            with self._lock:
                reserved = self._pick()
        reserved.wait_ready(READY_TIMEOUT)
        return reserved

    def _pick(self) -> WorkerProcess:
        # Prefer a worker that has finished loading; fall back to the oldest still starting.
        for index, worker in enumerate(self._idle):
            if worker.is_ready():
                del self._idle[index]
                return worker
        if self._idle:
            return self._idle.popleft()
        return self._spawn()

    def close(self, timeout: float = 5.0) -> None:
        with self._lock:
            self._closed = True
            idle = list(self._idle)
            self._idle.clear()
        for worker in idle:
            worker.dismiss()
        for worker in idle:
            if worker.wait(timeout) is None:
                worker.kill()
                worker.wait(timeout)
