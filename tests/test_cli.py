"""The `stockade` command as users run it: real processes, exit codes, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT_DIR

STOCKADE = [sys.executable, "-m", "stockade.cli.app"]


def _run(*args: str, cwd: Path = PROJECT_DIR) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*STOCKADE, *args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )


def test_help_does_not_import_provider_sdks_or_boto3() -> None:
    # Read at exit: short commands end without unwinding back into the probe (gc_schedule).
    probe = (
        "import atexit, sys, runpy\n"
        "def report():\n"
        "    heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pulumi_aws', 'pulumi_docker', 'pulumi_cloudflare', 'boto3', 'pulumi'))\n"
        "    print('HEAVY=' + ','.join(heavy))\n"
        "atexit.register(report)\n"
        "sys.argv = ['stockade', '--help']\n"
        "runpy.run_module('stockade.cli.app', run_name='__main__')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=True
    )
    line = next(x for x in out.stdout.splitlines() if x.startswith("HEAVY="))
    assert line == "HEAVY=", line
    assert "synth" in out.stdout and "validate" in out.stdout


def test_synth_json_to_file_matches_stdout(tmp_path: Path) -> None:
    target = tmp_path / "out" / "dev.json"
    to_file = _run("synth", "--stack", "dev", "--format", "json", "--out", str(target))
    to_stdout = _run("synth", "--stack", "dev", "--format", "json")
    assert to_file.returncode == 0 and to_stdout.returncode == 0, to_file.stderr + to_stdout.stderr
    assert target.read_text() == to_stdout.stdout
    document = json.loads(to_stdout.stdout)
    assert document["stack"] == "dev"
    assert any(r["type"].startswith("stockade:aws:") for r in document["resources"])


def test_synth_tree_and_summary_name_the_components() -> None:
    tree = _run("synth", "--stack", "dev", "--format", "tree")
    summary = _run("synth", "--stack", "dev")
    assert tree.returncode == 0 and summary.returncode == 0
    assert "stockade:aws:EncryptionKey" in tree.stdout
    assert summary.stdout.startswith("stack dev: ")


def test_synth_of_an_unknown_stack_is_a_clean_error() -> None:
    result = _run("synth", "--stack", "no-such-stack")
    assert result.returncode == 2
    assert "no such stack file" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_outside_a_project_the_error_says_where_to_run(tmp_path: Path) -> None:
    result = _run("synth", "--stack", "dev", cwd=tmp_path)
    assert result.returncode == 2
    assert "no Pulumi.yaml" in result.stderr
    assert "Traceback" not in result.stderr
