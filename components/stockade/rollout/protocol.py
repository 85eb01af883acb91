"""What the rollout parent and a stack's worker process say to each other.

One JSON object per line. The worker writes `ready`; then, for each job the parent writes to
its stdin (one at a time, the next only after the last result), `progress` lines and one
`result` to its stdout. The job is the only message that carries credentials, and it travels
over a pipe between the two processes, never through a file, an argument list or a log.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from stockade.rollout.operations import Operation


class StackStatus(StrEnum):
    PENDING = "pending"
    SKIPPED = "skipped"
    """Already succeeded at this commit for this operation (`--resume`)."""
    STARTING = "starting"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    NOT_STARTED = "not-started"
    """Never started: an earlier failure or a cancellation stopped the rollout first."""

    @property
    def finished(self) -> bool:
        return self in (StackStatus.SUCCEEDED, StackStatus.FAILED, StackStatus.CANCELLED)


@dataclass(frozen=True)
class Job:
    """One stack's operation, as the worker receives it."""

    stack: str
    operation: Operation
    work_dir: str
    pulumi_home: str
    lock_path: str
    log_path: str
    env: dict[str, str] = field(repr=False)
    """The stack's assumed-role credentials and region; handed to the Pulumi CLI only."""
    cancel_after_seconds: float = 10.0
    """After SIGINT, how long the worker waits for the CLI before the Automation API's cancel."""
    secrets_provider: str | None = None
    """`--secrets-provider` for `stack init` when the stack does not exist yet (from the plan)."""

    def to_line(self) -> str:
        data = asdict(self)
        data["operation"] = self.operation.value
        return json.dumps(data) + "\n"

    @classmethod
    def from_line(cls, line: str) -> Job:
        data = json.loads(line)
        data["operation"] = Operation(data["operation"])
        return cls(**data)


@dataclass(frozen=True)
class Outcome:
    """How a stack's operation ended."""

    status: StackStatus
    changes: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    preview: dict[str, Any] | None = None
    """The parsed `pulumi preview --json` document (preview runs only)."""

    def to_message(self) -> dict[str, Any]:
        return {
            "type": "result",
            "status": self.status.value,
            "changes": self.changes,
            "error": self.error,
            "preview": self.preview,
        }

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> Outcome:
        changes = message.get("changes") or {}
        return cls(
            status=StackStatus(message["status"]),
            changes={str(k): int(v) for k, v in changes.items()},
            error=message.get("error"),
            preview=message.get("preview"),
        )


def encode(message: dict[str, Any]) -> bytes:
    return (json.dumps(message, separators=(",", ":")) + "\n").encode("utf-8")
