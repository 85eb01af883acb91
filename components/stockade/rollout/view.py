"""What a rollout looks like right now: waves, stacks, their status and current activity.

The runner writes it; the live display, the summary table and the JSON report read it.
Readers take a snapshot under the lock, so a display thread never sees half an update.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from stockade.rollout.operations import Operation
from stockade.rollout.protocol import StackStatus


class WaveStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    BAKING = "baking"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    NOT_STARTED = "not-started"


@dataclass
class StackView:
    stack: str
    wave: str
    account_id: str
    region: str
    status: StackStatus = StackStatus.PENDING
    activity: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    changes: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    preview: dict[str, Any] | None = field(default=None, repr=False)

    def elapsed(self, now: float | None = None) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else (now or time.time())
        return max(0.0, end - self.started_at)


@dataclass
class WaveView:
    name: str
    cap: int
    tolerance: int
    bake_seconds: float
    stacks: list[str]
    status: WaveStatus = WaveStatus.PENDING
    failures: int = 0
    bake_until: float | None = None


@dataclass
class RolloutView:
    operation: Operation
    plan_path: str
    commit: str | None
    waves: list[WaveView]
    stacks: dict[str, StackView]
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    cancelled: bool = False
    stopped_reason: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def snapshot(self) -> RolloutView:
        with self.lock:
            copied = copy.copy(self)
            copied.waves = [copy.copy(w) for w in self.waves]
            copied.stacks = {name: copy.copy(s) for name, s in self.stacks.items()}
            copied.lock = threading.Lock()
            return copied

    def update_stack(self, stack: str, **changes: Any) -> None:
        with self.lock:
            view = self.stacks[stack]
            for key, value in changes.items():
                setattr(view, key, value)

    def update_wave(self, index: int, **changes: Any) -> None:
        with self.lock:
            wave = self.waves[index]
            for key, value in changes.items():
                setattr(wave, key, value)

    def count(self, status: StackStatus) -> int:
        return sum(1 for s in self.stacks.values() if s.status is status)
