"""What a finished rollout reports: JSON, the summary table, the live view and the preview Markdown."""

from __future__ import annotations

import importlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from stockade.rollout.display import LiveDisplay
from stockade.rollout.operations import Operation
from stockade.rollout.report import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_OK,
    build_report,
    exit_code,
    format_changes,
    preview_markdown,
    summary_table,
    write_report,
)

from .standin.harness import Harness, harness_for, run_bounded
from .standin.project import WaveSpec


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    yield from harness_for(tmp_path, monkeypatch)


def test_report_carries_change_counts_errors_and_totals(harness: Harness, tmp_path: Path) -> None:
    harness.standin.configure(a={"changes": {"create": 1, "update": 2, "same": 7}}, b={"fail": True})
    loaded = harness.project([WaveSpec("one", ["a", "b"], failure_tolerance=1), WaveSpec("two", ["c"])])
    view = harness.run(loaded)
    write_report(view, tmp_path / "report.json")
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report == build_report(view)
    assert report["operation"] == "preview" and report["result"] == "failed"
    assert report["stacks"]["a"]["changes"] == {"create": 1, "update": 2, "same": 7}
    assert report["stacks"]["a"]["error"] is None and report["stacks"]["a"]["durationSeconds"] > 0
    assert "stand-in failure requested for stack b" in report["stacks"]["b"]["error"]
    assert report["stacks"]["b"]["status"] == "failed"
    assert report["totals"]["changes"] == {"create": 4, "update": 2, "same": 9}
    assert report["totals"]["stacks"] == {"succeeded": 2, "failed": 1}
    assert [w["status"] for w in report["waves"]] == ["succeeded", "succeeded"]
    assert report["commit"] and len(report["commit"]) == 40


def test_summary_table_lists_every_stack(harness: Harness) -> None:
    loaded = harness.project([WaveSpec("one", ["alpha"]), WaveSpec("two", ["beta"])])
    view = harness.run(loaded)
    console = Console(file=io.StringIO(), width=160)
    console.print(summary_table(view))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "alpha" in text and "beta" in text and "+3 (2 same)" in text


def test_live_display_shows_waves_stacks_and_activity(harness: Harness) -> None:
    harness.standin.configure(default={"delay": 0.8})
    loaded = harness.project([WaveSpec("one", ["alpha"])])
    rollout = harness.rollout(loaded)
    console = Console(file=io.StringIO(), width=160, force_terminal=True)
    display = LiveDisplay(rollout.view, console)
    rollout.observer = display
    with display:
        run_bounded(rollout)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "stockade rollout preview" in text and "alpha" in text and "one" in text
    assert "pulumi preview --json" in text or "starting" in text, (
        "the running stack's operation was never shown"
    )


@pytest.mark.parametrize(
    ("changes", "text"),
    [
        ({"create": 3, "same": 2}, "+3 (2 same)"),
        ({"update": 1, "delete": 2, "replace": 1}, "~1 +-1 -2"),
        ({}, "no changes"),
        ({"same": 4}, "no changes (4 same)"),
        ({"discard": 1}, "discard 1"),
    ],
)
def test_change_counts_read_like_pulumi(changes: dict[str, int], text: str) -> None:
    assert format_changes(changes) == text


def test_exit_codes(harness: Harness) -> None:
    harness.standin.configure(b={"fail": True})
    loaded = harness.project([WaveSpec("one", ["a", "b"], failure_tolerance=1)])
    view = harness.run(loaded)
    assert exit_code(view) == EXIT_FAILED
    view.cancelled = True
    assert exit_code(view) == EXIT_CANCELLED
    ok = harness.run(harness.project([WaveSpec("one", ["c"])]))
    assert exit_code(ok) == EXIT_OK


def test_preview_markdown_matches_stockade_comment(harness: Harness) -> None:
    try:
        module = importlib.import_module("stockade.review.preview")
        render_previews = module.render_previews
    except (ImportError, AttributeError):
        pytest.skip(
            "stockade.review.preview.render_previews (another engineer's work) is not in this checkout yet"
        )

    loaded = harness.project([WaveSpec("one", ["alpha", "beta"])])
    view = harness.run(loaded, Operation.PREVIEW)
    previews = {name: stack.preview for name, stack in view.stacks.items()}
    assert all(previews.values())
    markdown = preview_markdown(view)
    assert markdown == render_previews(previews, max_chars=60_000)  # type: ignore[arg-type]
    assert "alpha" in markdown and "beta" in markdown


def test_live_display_of_a_big_plan_lists_only_stacks_that_need_eyes() -> None:
    from stockade.rollout.protocol import StackStatus
    from stockade.rollout.view import RolloutView, StackView, WaveView

    names = [f"stack-{i:02d}" for i in range(50)]
    done = StackStatus.SUCCEEDED
    stacks = {n: StackView(n, "big", "111111111111", "us-east-1", status=done) for n in names}
    stacks["stack-07"].status = StackStatus.RUNNING
    stacks["stack-07"].activity = "create aws:ec2/vpc:Vpc stack-07-vpc"
    stacks["stack-08"].status = StackStatus.FAILED
    stacks["stack-08"].error = "boom"
    view = RolloutView(Operation.UP, "plan.yaml", "abc", [WaveView("big", 5, 0, 0.0, names)], stacks)
    console = Console(file=io.StringIO(), width=160)
    console.print(LiveDisplay(view, console)._render())
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "stack-07" in text and "create aws:ec2/vpc:Vpc" in text
    assert "stack-08" in text and "boom" in text
    assert "stack-09" not in text
    assert "49/50" in text
