"""`stockade comment` at the process boundary: exit codes, messages naming the file, output files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "previews"
DEV = FIXTURES / "dev-risky.json"
QUIET = FIXTURES / "prod-use1-no-changes.json"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stockade.cli.app", "comment", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=cwd,
    )


def test_renders_and_exits_0_even_with_risk() -> None:
    done = run(str(DEV), str(QUIET))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("<!-- stockade-review:preview -->")
    assert "sk-ant-oat01-OLDVALUE" not in done.stdout + done.stderr


def test_fail_on_risk_exits_3_only_when_risky() -> None:
    assert run(str(DEV), "--fail-on-risk").returncode == 3
    assert run(str(QUIET), "--fail-on-risk").returncode == 0


def test_stack_name_override_and_json_out(tmp_path: Path) -> None:
    out, json_out = tmp_path / "c.md", tmp_path / "c.json"
    done = run(str(QUIET), "--stack", "prod-canary", "--out", str(out), "--json-out", str(json_out))
    assert done.returncode == 0, done.stderr
    assert "`prod-canary`" in out.read_text()
    document = json.loads(json_out.read_text())
    assert document["source"] == "preview" and document["stacks"][0]["stack"] == "prod-canary"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"steps": [', "not valid JSON"),
        ('Previewing update (dev)\n{"steps": []}', "must hold only the JSON document"),
        ("[1, 2]", "top level: expected a JSON object"),
        ('{"steps": [{"op": 3, "urn": "urn:pulumi:a::b::c::d"}]}', "steps[0].op: expected a step op string"),
    ],
)
def test_bad_input_exits_2_naming_the_file(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "preview-dev.json"
    path.write_text(content)
    done = run(str(path))
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {path}: ")
    assert expected in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_file_and_misused_stack_option(tmp_path: Path) -> None:
    missing = run(str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "nope.json: cannot read it" in missing.stderr
    both = run(str(DEV), str(QUIET), "--stack", "dev")
    assert both.returncode == 2 and "--stack names the stack of a single preview file" in both.stderr
    twice = run(str(DEV), str(DEV))
    assert twice.returncode == 2 and "more than one preview is for stack dev" in twice.stderr


def test_an_empty_preview_takes_its_stack_name_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "staging.json"
    path.write_text(json.dumps({"changeSummary": {"same": 3}}))
    done = run(str(path))
    assert done.returncode == 0, done.stderr
    assert "`staging`" in done.stdout and "No resource changes (3 unchanged)" in done.stdout
