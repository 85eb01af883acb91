"""The Docker Engine API's own failure; the shared ones (and their exit codes, the same as the
AWS dispatcher's) are in stockade.workqueue.errors."""

from __future__ import annotations

from stockade.workqueue.errors import EXIT_LAUNCH, DispatchError


class EngineError(DispatchError, exit_code=EXIT_LAUNCH, event="engine.failed"):
    """The Docker Engine API (through the socket proxy) answered with an error."""

    def __init__(self, operation: str, status: int, message: str) -> None:
        self.operation = operation
        self.status = status
        super().__init__(f"docker {operation}: HTTP {status}: {message}")
