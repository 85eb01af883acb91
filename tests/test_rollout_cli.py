"""`stockade rollout` end to end in this process: STS by moto, Pulumi by the stand-in in real workers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stockade.cli import rollout_cmd
from stockade.cli.app import app

from .standin.harness import Harness, harness_for
from .standin.project import WaveSpec, make_project


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    yield from harness_for(tmp_path, monkeypatch)


@pytest.fixture
def cli(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Harness:
    for key, value in harness.standin.env().items():
        monkeypatch.setenv(key, value)
    return harness


def _invoke(harness: Harness, *args: str, stdin: str | None = None):
    plan = harness.project_dir / "stacks" / "rollout.yaml"
    return CliRunner().invoke(
        app, ["rollout", str(plan), "--project-dir", str(harness.project_dir), "--plain", *args], input=stdin
    )


def test_preview_run_writes_a_report_and_exits_0(cli: Harness, tmp_path: Path) -> None:
    make_project(cli.project_dir, [WaveSpec("one", ["a", "b"])])
    result = _invoke(cli, "--report", str(tmp_path / "report.json"))
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["result"] == "succeeded"
    assert report["stacks"]["a"]["changes"] == {"create": 3, "same": 2}
    assert "stockade rollout: preview (succeeded)" in result.output


def test_a_failed_stack_makes_exit_3(cli: Harness) -> None:
    cli.standin.configure(b={"fail": True})
    make_project(cli.project_dir, [WaveSpec("one", ["a", "b"])])
    result = _invoke(cli)
    assert result.exit_code == 3
    assert "stand-in failure requested for stack b" in result.output


def test_destroy_needs_the_explicit_flag(cli: Harness) -> None:
    make_project(cli.project_dir, [WaveSpec("one", ["a"])])
    result = _invoke(cli, "--operation", "destroy")
    assert result.exit_code == 2
    assert "--yes-destroy" in result.output
    assert not cli.standin.invocations()


def test_destroy_without_a_terminal_needs_every_stack_confirmed(cli: Harness) -> None:
    make_project(cli.project_dir, [WaveSpec("one", ["a", "b"])])
    result = _invoke(cli, "--operation", "destroy", "--yes-destroy", "--confirm-stack", "a")
    assert result.exit_code == 2
    assert "--confirm-stack b" in result.output
    unknown = _invoke(
        cli,
        "--operation",
        "destroy",
        "--yes-destroy",
        "--confirm-stack",
        "a",
        "--confirm-stack",
        "b",
        "--confirm-stack",
        "c",
    )
    assert unknown.exit_code == 2 and "not in the plan: c" in unknown.output
    assert not cli.standin.operations()


def test_destroy_with_every_stack_confirmed_runs(cli: Harness) -> None:
    make_project(cli.project_dir, [WaveSpec("one", ["a"]), WaveSpec("two", ["b"])])
    result = _invoke(
        cli, "--operation", "destroy", "--yes-destroy", "--confirm-stack", "a", "--confirm-stack", "b"
    )
    assert result.exit_code == 0, result.output
    assert [(op.stack, op.argv[:3]) for op in cli.standin.operations()] == [
        ("a", ["destroy", "--skip-preview", "--yes"]),
        ("b", ["destroy", "--skip-preview", "--yes"]),
    ]


def test_destroy_prompts_for_each_stack_name(cli: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rollout_cmd, "_interactive", lambda: True)
    make_project(cli.project_dir, [WaveSpec("one", ["a", "b"])])
    wrong = _invoke(cli, "--operation", "destroy", "--yes-destroy", stdin="a\nprod\n")
    assert wrong.exit_code == 2 and "'prod' is not 'b'" in wrong.output
    assert not cli.standin.operations()
    right = _invoke(cli, "--operation", "destroy", "--yes-destroy", "--confirm-stack", "a", stdin="b\n")
    assert right.exit_code == 0, right.output
    assert {op.stack for op in cli.standin.operations()} == {"a", "b"}


def test_a_missing_pulumi_cli_is_reported(
    cli: Harness, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    make_project(cli.project_dir, [WaveSpec("one", ["a"])])
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = _invoke(cli)
    assert result.exit_code == 2
    assert "pulumi CLI is not on PATH" in result.output


def test_an_unknown_profile_exits_2(cli: Harness, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    make_project(cli.project_dir, [WaveSpec("one", ["a"])])
    result = _invoke(cli, "--profile", "nobody")
    assert result.exit_code == 2
    assert "profile 'nobody' is not configured" in result.output
