"""Progress while a rollout runs: a rich live view on a terminal, one line per event elsewhere."""

from __future__ import annotations

import sys
import time
from collections import deque
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

from stockade.rollout.protocol import StackStatus
from stockade.rollout.report import format_changes, format_seconds
from stockade.rollout.view import RolloutView, WaveStatus

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

_WAVE_STYLES = {
    WaveStatus.RUNNING: "bold blue",
    WaveStatus.BAKING: "magenta",
    WaveStatus.SUCCEEDED: "green",
    WaveStatus.FAILED: "bold red",
    WaveStatus.CANCELLED: "yellow",
}
_ICONS = {
    StackStatus.PENDING: "·",
    StackStatus.SKIPPED: "↷",
    StackStatus.STARTING: "…",
    StackStatus.RUNNING: "▶",
    StackStatus.SUCCEEDED: "✔",
    StackStatus.FAILED: "✘",
    StackStatus.CANCELLED: "■",
    StackStatus.NOT_STARTED: "-",
}
_RECENT_EVENTS = 4
COMPACT_ABOVE = 40
"""Plans with more stacks list only running, failed and cancelled stacks under each wave."""
_ALWAYS_SHOWN = (StackStatus.STARTING, StackStatus.RUNNING, StackStatus.FAILED, StackStatus.CANCELLED)
_DONE = (StackStatus.SUCCEEDED, StackStatus.FAILED, StackStatus.CANCELLED, StackStatus.SKIPPED)


class LiveDisplay:
    """Waves, stacks, elapsed time and each running stack's current operation, redrawn 4x a second."""

    def __init__(self, view: RolloutView, console: Console) -> None:
        from rich.live import Live

        self._view = view
        self._events: deque[str] = deque(maxlen=_RECENT_EVENTS)
        self._live = Live(console=console, refresh_per_second=4, transient=False, get_renderable=self._render)

    def __enter__(self) -> LiveDisplay:
        self._live.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._live.stop()

    def event(self, message: str) -> None:
        self._events.append(f"{time.strftime('%H:%M:%S')} {message}")

    def _render(self) -> RenderableType:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        view = self._view.snapshot()
        now = time.time()
        header = Text(
            f"stockade rollout {view.operation.value} · {view.plan_path} · "
            f"commit {(view.commit or 'unknown')[:12]} · {format_seconds(now - view.started_at)}",
            style="bold",
        )
        table = Table(box=None, pad_edge=False, show_header=True, header_style="dim")
        for column in ("", "stack", "where", "time", "now"):
            table.add_column(column, overflow="ellipsis", no_wrap=True)
        compact = len(view.stacks) > COMPACT_ABOVE
        for wave in view.waves:
            extra = (
                f" until {time.strftime('%H:%M:%S', time.localtime(wave.bake_until))}"
                if wave.bake_until
                else ""
            )
            finished = sum(1 for name in wave.stacks if view.stacks[name].status in _DONE)
            table.add_row(
                "",
                Text(f"{wave.name}", style=_WAVE_STYLES.get(wave.status, "dim")),
                f"cap {wave.cap}, tolerance {wave.tolerance}",
                f"{finished}/{len(wave.stacks)}",
                Text(
                    f"{wave.status.value}{extra} · failures {wave.failures}",
                    style=_WAVE_STYLES.get(wave.status, "dim"),
                ),
            )
            for name in wave.stacks:
                stack = view.stacks[name]
                if compact and stack.status not in _ALWAYS_SHOWN:
                    continue  # a big plan shows what needs eyes: running and failed stacks
                now_text = stack.activity
                if stack.status.finished or stack.status is StackStatus.SKIPPED:
                    now_text = stack.error or format_changes(stack.changes)
                table.add_row(
                    _ICONS[stack.status],
                    f"  {name}",
                    f"{stack.account_id} {stack.region}",
                    format_seconds(stack.elapsed(now)),
                    now_text,
                )
        parts: list[RenderableType] = [header, table]
        if view.stopped_reason:
            parts.append(Text(view.stopped_reason, style="bold red"))
        if self._events:
            parts.append(Text("\n".join(self._events), style="dim"))
        return Group(*parts)


class PlainDisplay:
    """For logs and CI: each event on its own timestamped line."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._started = time.monotonic()

    def __enter__(self) -> PlainDisplay:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stream.flush()

    def event(self, message: str) -> None:
        print(
            f"[{format_seconds(time.monotonic() - self._started):>7}] {message}",
            file=self._stream,
            flush=True,
        )
