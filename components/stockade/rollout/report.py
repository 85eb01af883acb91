"""What a finished rollout says: the summary table, the JSON report, the preview Markdown, the exit code."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stockade import exit_codes
from stockade.rollout.protocol import StackStatus
from stockade.rollout.view import RolloutView, StackView

if TYPE_CHECKING:
    from rich.table import Table

# The shared scheme (stockade.exit_codes): a stack whose operation failed is a failed run (3).
EXIT_OK = exit_codes.EXIT_OK
EXIT_FAILED = exit_codes.EXIT_RISK
EXIT_CANCELLED = exit_codes.EXIT_INTERRUPTED  # what a shell reports for a command stopped by SIGINT

REPORT_VERSION = 1
_SYMBOLS = (("create", "+"), ("update", "~"), ("replace", "+-"), ("delete", "-"))
_STYLES = {
    StackStatus.SUCCEEDED: "green",
    StackStatus.SKIPPED: "cyan",
    StackStatus.FAILED: "bold red",
    StackStatus.CANCELLED: "yellow",
    StackStatus.NOT_STARTED: "dim",
    StackStatus.RUNNING: "bold blue",
    StackStatus.STARTING: "blue",
    StackStatus.PENDING: "dim",
}


class MarkdownUnavailableError(Exception):
    """The preview renderer (stockade.review.preview) is not installed in this checkout."""


def exit_code(view: RolloutView) -> int:
    if view.cancelled:
        return EXIT_CANCELLED
    ok = (StackStatus.SUCCEEDED, StackStatus.SKIPPED)
    return EXIT_OK if all(s.status in ok for s in view.stacks.values()) else EXIT_FAILED


def format_changes(changes: Mapping[str, int]) -> str:
    """`+3 ~1 -2 (5 same)`: the counts a reviewer scans for, in pulumi's own symbols."""
    parts = [f"{symbol}{changes[op]}" for op, symbol in _SYMBOLS if changes.get(op)]
    other = sorted(op for op in changes if op not in dict(_SYMBOLS) and op != "same" and changes[op])
    parts.extend(f"{op} {changes[op]}" for op in other)
    text = " ".join(parts) or "no changes"
    if changes.get("same"):
        text += f" ({changes['same']} same)"
    return text


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{seconds:.1f}s"


def build_report(view: RolloutView) -> dict[str, Any]:
    """The JSON report: per stack its result, change counts and error; per wave its outcome."""
    snapshot = view.snapshot()
    return {
        "version": REPORT_VERSION,
        "operation": snapshot.operation.value,
        "plan": snapshot.plan_path,
        "commit": snapshot.commit,
        "startedAt": _iso(snapshot.started_at),
        "finishedAt": _iso(snapshot.finished_at),
        "result": _overall(snapshot),
        "stoppedReason": snapshot.stopped_reason,
        "waves": [
            {
                "name": wave.name,
                "status": wave.status.value,
                "maxConcurrency": wave.cap,
                "failureTolerance": wave.tolerance,
                "failures": wave.failures,
                "stacks": wave.stacks,
            }
            for wave in snapshot.waves
        ],
        "stacks": {name: _stack_entry(stack) for name, stack in snapshot.stacks.items()},
        "totals": _totals(snapshot),
    }


def _stack_entry(stack: StackView) -> dict[str, Any]:
    return {
        "wave": stack.wave,
        "accountId": stack.account_id,
        "region": stack.region,
        "status": stack.status.value,
        "changes": dict(stack.changes),
        "error": stack.error,
        "startedAt": _iso(stack.started_at),
        "finishedAt": _iso(stack.finished_at),
        "durationSeconds": round(stack.elapsed() or 0.0, 3) if stack.started_at else None,
    }


def _totals(view: RolloutView) -> dict[str, Any]:
    changes: dict[str, int] = {}
    for stack in view.stacks.values():
        for op, count in stack.changes.items():
            changes[op] = changes.get(op, 0) + count
    statuses = {status.value: view.count(status) for status in StackStatus if view.count(status)}
    return {"stacks": statuses, "changes": changes}


def _overall(view: RolloutView) -> str:
    return {EXIT_OK: "succeeded", EXIT_FAILED: "failed", EXIT_CANCELLED: "cancelled"}[exit_code(view)]


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


def write_report(view: RolloutView, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(build_report(view), indent=2) + "\n", encoding="utf-8")


def summary_table(view: RolloutView) -> Table:
    from rich.table import Table

    snapshot = view.snapshot()
    table = Table(
        title=f"stockade rollout: {snapshot.operation.value} ({_overall(snapshot)})", title_justify="left"
    )
    for column in ("wave", "stack", "account / region", "result", "time", "changes / error"):
        table.add_column(column, overflow="fold")
    for wave in snapshot.waves:
        for name in wave.stacks:
            stack = snapshot.stacks[name]
            detail = (
                stack.error
                if stack.error
                else (
                    format_changes(stack.changes)
                    if stack.status.finished or stack.status is StackStatus.SKIPPED
                    else ""
                )
            )
            table.add_row(
                wave.name,
                name,
                f"{stack.account_id} / {stack.region}",
                f"[{_STYLES.get(stack.status, '')}]{stack.status.value}[/]",
                format_seconds(stack.elapsed()),
                detail or "",
            )
    return table


def preview_markdown(view: RolloutView, *, max_chars: int = 60_000) -> str:
    """The Markdown `stockade comment` renders, for every stack whose preview succeeded."""
    try:
        from stockade.review.preview import render_previews
    except ImportError as exc:
        raise MarkdownUnavailableError(
            f"stockade.review.preview.render_previews is not available ({exc}); no Markdown was written"
        ) from None
    snapshot = view.snapshot()
    previews = {
        name: stack.preview
        for name, stack in snapshot.stacks.items()
        if stack.status is StackStatus.SUCCEEDED and stack.preview is not None
    }
    return str(render_previews(previews, max_chars=max_chars))
