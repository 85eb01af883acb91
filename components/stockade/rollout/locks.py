"""One operation per stack at a time, across processes: an advisory lock file per stack.

The worker that runs the operation holds the lock, so it lives exactly as long as the
process driving the Pulumi CLI, even if the rollout that started it dies. The kernel drops
it when that process exits, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType


class StackBusyError(Exception):
    """Another process is running an operation on this stack."""


def lock_path(state_dir: Path, stack: str) -> Path:
    return state_dir / "locks" / f"{stack}.lock"


class StackLock:
    def __init__(self, path: Path, stack: str, operation: str) -> None:
        self._path = path
        self._stack = stack
        self._operation = operation
        self._fd: int | None = None

    def __enter__(self) -> StackLock:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 512).decode("utf-8", "replace").strip() or "unknown holder"
            os.close(fd)
            raise StackBusyError(
                f"stack '{self._stack}' is busy ({holder}); wait for that operation to finish"
            ) from None
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} running {self._operation} since {stamp}\n".encode())
        self._fd = fd
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
