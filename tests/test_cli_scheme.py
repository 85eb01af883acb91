"""The CLI's shared behaviour, as users run it: exit codes, stack choice, JSON, help, --all, n/a.

Every test runs `stockade` as a real process (the same entry point the console script
calls) with PULUMI_HOME pointed at a temporary directory, so no real Pulumi workspace
on the machine changes which stack is chosen.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from stockade.cli.app import app, installed_version, run
from tests.conftest import PROJECT_DIR

STOCKADE = [sys.executable, "-m", "stockade.cli.app"]
COMMANDS = (
    "init",
    "validate",
    "synth",
    "policy",
    "diff",
    "comment",
    "audit",
    "bootstrap",
    "rollout",
    "config-docs",
)


def _run(
    *args: str, cwd: Path = PROJECT_DIR, env: dict[str, str] | None = None, home: Path
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("PULUMI_STACK", "PULUMI_HOME", "COLUMNS")}
    clean["PULUMI_HOME"] = str(home)
    return subprocess.run(
        [*STOCKADE, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=clean | (env or {}),
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "pulumi-home"
    path.mkdir()
    return path


def _no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr


def _project(tmp_path: Path, *stacks: str, extra: dict[str, str] | None = None) -> Path:
    """A checkout with copies of example stacks (and extra stack files by text)."""
    root = tmp_path / "project"
    (root / "stacks").mkdir(parents=True)
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", root / "Pulumi.yaml")
    for stack in stacks:
        shutil.copy(PROJECT_DIR / "stacks" / f"Pulumi.{stack}.yaml", root / "stacks" / f"Pulumi.{stack}.yaml")
    for name, text in (extra or {}).items():
        (root / "stacks" / f"Pulumi.{name}.yaml").write_text(text)
    # The program, and the files example stacks reference (a Worker bundle), stay reachable.
    (root / "__main__.py").symlink_to(PROJECT_DIR / "__main__.py")
    (root / "examples").symlink_to(PROJECT_DIR / "examples")
    return root


INVALID = "config:\n  stockade:target: aws\n  stockade:environment: nonsense\n"


# --- version and completion --------------------------------------------------------------------


def test_version_prints_the_installed_version(home: Path) -> None:
    result = _run("--version", home=home)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"stockade {installed_version()}"
    assert re.fullmatch(r"stockade \d+\.\d+\.\d+\S*", result.stdout.strip())


def test_shell_completion_completes_commands_and_stack_names(home: Path) -> None:
    script = _run("--show-completion", "bash", home=home)
    assert script.returncode == 0 and "_STOCKADE_COMPLETE" in script.stdout
    command = _run(
        home=home,
        env={"_STOCKADE_COMPLETE": "complete_bash", "COMP_WORDS": "stockade val", "COMP_CWORD": "1"},
    )
    assert command.stdout.split() == ["validate"]
    stack = _run(
        home=home,
        env={
            "_STOCKADE_COMPLETE": "complete_bash",
            "COMP_WORDS": "stockade policy --stack prod",
            "COMP_CWORD": "3",
        },
    )
    assert stack.stdout.split() == ["prod-euw1", "prod-use1"]


# --- which stack -------------------------------------------------------------------------------


def test_stack_defaults_to_pulumi_stack_including_the_qualified_form(home: Path) -> None:
    plain = _run("validate", home=home, env={"PULUMI_STACK": "local"})
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.startswith("stack 'local' is valid")
    qualified = _run("validate", home=home, env={"PULUMI_STACK": "acme/stockade/cf-dev"})
    assert qualified.returncode == 0, qualified.stderr
    assert qualified.stdout.startswith("stack 'cf-dev' is valid")
    explicit = _run("validate", "--stack", "local", home=home, env={"PULUMI_STACK": "cf-dev"})
    assert explicit.stdout.startswith("stack 'local' is valid")


def test_a_hostile_pulumi_stack_is_refused_too(home: Path) -> None:
    result = _run("validate", home=home, env={"PULUMI_STACK": "acme/../../etc"})
    assert result.returncode == 2 and "not a stack name" in result.stderr
    _no_traceback(result)


def test_stack_defaults_to_the_stack_pulumi_selected_for_this_checkout(home: Path) -> None:
    # Pulumi's layout: workspaces/<project>-<sha1(path of Pulumi.yaml)>-workspace.json.
    digest = hashlib.sha1(str(PROJECT_DIR / "Pulumi.yaml").encode(), usedforsecurity=False).hexdigest()
    (home / "workspaces").mkdir()
    (home / "workspaces" / f"stockade-{digest}-workspace.json").write_text(json.dumps({"stack": "local"}))
    selected = _run("validate", home=home)
    assert selected.returncode == 0, selected.stderr
    assert selected.stdout.startswith("stack 'local' is valid")
    # PULUMI_STACK outranks the selection, as it does for the Pulumi CLI.
    assert _run("validate", home=home, env={"PULUMI_STACK": "cf-dev"}).stdout.startswith("stack 'cf-dev'")


def test_no_stack_at_all_says_every_way_to_give_one(home: Path) -> None:
    result = _run("validate", home=home)
    assert result.returncode == 2
    assert "--stack NAME" in result.stderr and "PULUMI_STACK" in result.stderr
    assert "pulumi stack select" in result.stderr and "local" in result.stderr
    _no_traceback(result)


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "x/../../Pulumi", "a" * 5000, "dev\x01", "dev\u202egnp", "", ".."],
    ids=["traversal", "nested-traversal", "5000-chars", "control", "bidi", "empty", "dotdot"],
)
def test_a_hostile_stack_name_is_refused_before_any_file_is_read(home: Path, name: str) -> None:
    result = _run("validate", "--stack", name, home=home)
    assert result.returncode == 2
    _no_traceback(result)
    assert "not a stack name" in result.stderr
    assert "\u202e" not in result.stderr and "\x01" not in result.stderr
    assert len(result.stderr) < 2000


# --- exit codes --------------------------------------------------------------------------------


def test_usage_errors_exit_2(home: Path) -> None:
    for args in ([], ["validate", "--bogus"], ["policy", "--format", "yaml", "--stack", "local"], ["nope"]):
        result = _run(*args, home=home)
        assert result.returncode == 2, (args, result.stderr)
        _no_traceback(result)
    both = _run("validate", "--all", "--stack", "local", home=home)
    assert both.returncode == 2 and "exclude each other" in both.stderr


def test_a_usage_error_never_echoes_a_credential_or_a_control_character(home: Path) -> None:
    key = "sk-ant-api03-" + "Q" * 40
    for args in (["validate", key], ["policy", f"--{key}"], ["validate", "extra\u202eevil\x07"]):
        result = _run(*args, home=home)
        assert result.returncode == 2, (args, result.stderr)
        _no_traceback(result)
        assert key not in result.stderr and "Q" * 40 not in result.stderr
        assert "\u202e" not in result.stderr and "\x07" not in result.stderr
        assert "Try 'stockade" in result.stderr  # still click's own usage message
    assert "[redacted]" in _run("validate", key, home=home).stderr


def test_outside_a_checkout_every_command_is_a_clean_error(home: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    for args in (
        ["validate", "--stack", "dev"],
        ["synth", "--stack", "dev"],
        ["policy", "--stack", "dev"],
        ["audit", "--stack", "dev"],
        ["config-docs"],
        ["init", "--stack", "dev", "--target", "aws"],
    ):
        result = _run(*args, cwd=outside, home=home)
        assert result.returncode == 2, (args, result.stderr)
        assert "not a Stockade project checkout" in result.stderr, args
        _no_traceback(result)


def test_stale_generated_docs_exit_3(home: Path, tmp_path: Path) -> None:
    root = _project(tmp_path, "local")
    result = _run("config-docs", "--project-dir", str(root), home=home)
    assert result.returncode == 3, result.stderr
    assert "config-docs --write" in result.stderr


def test_an_internal_error_exits_1_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import stockade.cli.validate_cmd as validate_cmd

    def broken(*_args: object) -> None:
        raise RuntimeError("sk-ant-oat01-CANARY leaked into an exception")

    monkeypatch.setattr(validate_cmd, "_check", broken)
    monkeypatch.delenv("STOCKADE_DEBUG", raising=False)
    assert run(["validate", "--stack", "local", "--project-dir", str(PROJECT_DIR)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("internal error: RuntimeError at validate_cmd.py:")
    assert "Traceback" not in err and "CANARY" not in err  # the message may hold values
    monkeypatch.setenv("STOCKADE_DEBUG", "1")
    assert run(["validate", "--stack", "local", "--project-dir", str(PROJECT_DIR)]) == 1
    assert "Traceback" in capsys.readouterr().err


# --- JSON, --all -------------------------------------------------------------------------------


def test_format_json_prints_json_for_an_invalid_stack(home: Path, tmp_path: Path) -> None:
    root = _project(tmp_path, extra={"broken": INVALID})
    for command in ("validate", "synth", "policy", "audit"):
        result = _run(command, "--stack", "broken", "--format", "json", "--project-dir", str(root), home=home)
        assert result.returncode == 2, (command, result.stderr)
        document = json.loads(result.stdout)
        assert document["stack"] == "broken" and document["valid"] is False, command
        assert any(p["key"] == "stockade:environment" for p in document["problems"]), command
    outside = _run("validate", "--stack", "dev", "--format", "json", cwd=tmp_path, home=home)
    assert outside.returncode == 2
    assert json.loads(outside.stdout)["problems"][0]["key"] == "--project-dir"


def test_validate_all_checks_every_stack_and_fails_on_any(home: Path, tmp_path: Path) -> None:
    root = _project(tmp_path, "local", "cf-dev", extra={"broken": INVALID})
    result = _run("validate", "--all", "--format", "json", "--project-dir", str(root), home=home)
    assert result.returncode == 2
    document = json.loads(result.stdout)
    assert document["valid"] is False
    assert [(s["stack"], s["valid"]) for s in document["stacks"]] == [
        ("broken", False),
        ("cf-dev", True),
        ("local", True),
    ]
    (root / "stacks" / "Pulumi.broken.yaml").unlink()
    clean = _run("validate", "--all", "--project-dir", str(root), home=home)
    assert clean.returncode == 0, clean.stderr
    assert "stack 'cf-dev' is valid" in clean.stdout and "stack 'local' is valid" in clean.stdout


def test_policy_all_reports_each_stack_and_marks_rules_without_subjects_na(
    home: Path, tmp_path: Path
) -> None:
    root = _project(tmp_path, "local", "cf-dev")
    result = _run("policy", "--all", "--format", "json", "--project-dir", str(root), home=home)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["passed"] is True
    statuses = {s["stack"]: {r["rule"]: r["status"] for r in s["rules"]} for s in document["stacks"]}
    assert set(statuses) == {"cf-dev", "local"}
    # A Docker host has no buckets, VPCs or ECS tasks: those rules cannot apply.
    for rule in ("s3-encryption-kms", "vpc-flow-logs", "no-ecs-exec", "no-plaintext-secrets"):
        assert statuses["local"][rule] == "n/a", rule
    # ... while the container rules checked real containers.
    for rule in ("container-non-root", "container-read-only-root", "no-ingress"):
        assert statuses["local"][rule] == "pass", rule
    # A Cloudflare stack has no containers at all.
    assert statuses["cf-dev"]["container-non-root"] == "n/a"
    (root / "stacks" / "Pulumi.broken.yaml").write_text(INVALID)
    mixed = _run("policy", "--all", "--format", "json", "--project-dir", str(root), home=home)
    assert mixed.returncode == 2
    assert [s["stack"] for s in json.loads(mixed.stdout)["stacks"]] == ["broken", "cf-dev", "local"]


# --- what is printed ---------------------------------------------------------------------------


def test_each_weakening_is_printed_once(home: Path) -> None:
    weakening = "sandboxes.cloudflare.anthropicApiKey is set"
    for command in ("validate", "synth", "policy"):
        result = _run(command, "--stack", "cf-dev", home=home)
        assert result.returncode == 0, (command, result.stderr)
        assert (result.stdout + result.stderr).count(weakening) == 1, command


def test_help_is_complete_at_80_columns(home: Path) -> None:
    group = typer.main.get_command(app)
    assert set(COMMANDS) <= set(group.commands)  # type: ignore[attr-defined]
    top = _run("--help", home=home, env={"COLUMNS": "80"})
    assert top.returncode == 0
    # Compared without whitespace: wrapping (also after a hyphen) is fine, losing words is not.
    flat_top = "".join(top.stdout.split())
    for name in COMMANDS:
        summary = (group.commands[name].callback.__doc__ or "").strip().splitlines()[0]  # type: ignore[attr-defined]
        assert "".join(summary.split()) in flat_top, name
    for name in COMMANDS:
        result = _run(name, "--help", home=home, env={"COLUMNS": "80"})
        assert result.returncode == 0, name
        assert "…" not in result.stdout, name
        flat = "".join(result.stdout.split())
        for param in group.commands[name].params:  # type: ignore[attr-defined]
            text = getattr(param, "help", None)
            if text:
                assert "".join(text.split()) in flat, (name, param.name)


def test_running_one_command_loads_only_that_command() -> None:
    # Checked in a fresh interpreter: the command modules other tests imported are not there.
    probe = (
        "import sys\n"
        "from stockade.cli.app import run\n"
        "code = run(['validate', '--stack', 'local'])\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('stockade.cli.') and m.endswith('_cmd'))\n"
        "print(code, ' '.join(loaded))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    ).stdout.split("\n")[-2]
    assert out == "0 stockade.cli.validate_cmd"


def test_every_command_is_in_the_whole_command_line_in_help_order() -> None:
    from stockade.cli.app import COMMANDS

    group = typer.main.get_command(app)
    assert list(group.commands) == list(COMMANDS)  # type: ignore[attr-defined]
