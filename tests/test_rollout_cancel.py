"""Ctrl-C: a real `stockade rollout` process, a hanging stack, SIGINT, and what is left afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .standin import StandIn, install
from .standin.project import REPO, WaveSpec, make_project

START_BOUND = 40.0
EXIT_BOUND = 25.0


def _cli_env(standin: StandIn) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(standin.env())
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "AKIAOPERATOR000000000",
            "AWS_SECRET_ACCESS_KEY": "operator-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
            "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "components")]),
        }
    )
    return env


def _start(tmp_path: Path, standin: StandIn, grace: float) -> tuple[subprocess.Popen[str], Path]:
    plan = make_project(
        tmp_path / "project",
        [WaveSpec("one", ["stuck", "queued"], max_concurrency=1), WaveSpec("two", ["later"])],
    )
    command = [
        sys.executable,
        "-m",
        "tests.standin.cli_with_moto",
        "rollout",
        str(plan),
        "--plain",
        "--project-dir",
        str(tmp_path / "project"),
        "--cancel-grace",
        str(grace),
        "--report",
        str(tmp_path / "report.json"),
    ]
    process = subprocess.Popen(
        command, cwd=REPO, env=_cli_env(standin), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + START_BOUND
    while not standin.operations("stuck") and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    if not standin.operations("stuck"):
        process.kill()
        out, err = process.communicate(timeout=10)
        pytest.fail(f"the hanging stack never started its operation:\n{out}\n{err}")
    return process, tmp_path / "project" / ".stockade" / "rollout-state.json"


def _interrupt(process: subprocess.Popen[str]) -> tuple[int, float, str]:
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    try:
        out, err = process.communicate(timeout=EXIT_BOUND)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate(timeout=10)
        pytest.fail(f"the rollout did not exit within {EXIT_BOUND}s of SIGINT")
    return process.returncode, time.monotonic() - sent, out + err


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _assert_cancelled_cleanly(tmp_path: Path, standin: StandIn, state_path: Path) -> None:
    state = json.loads(state_path.read_text(encoding="utf-8"))["results"]["preview"]
    assert state["stuck"]["status"] == "cancelled"
    assert "queued" not in state and "later" not in state, "nothing new may start after Ctrl-C"
    assert {op.stack for op in standin.operations()} == {"stuck"}
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["result"] == "cancelled"
    assert report["stacks"]["queued"]["status"] == "not-started"
    (stuck,) = standin.operations("stuck")
    deadline = time.monotonic() + 5
    while _alive(stuck.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(stuck.pid), "the stand-in CLI outlived the rollout"
    assert not (standin.state / "locks" / "stuck").exists(), "the stack was left locked"


def _error(state_path: Path, stack: str) -> str:
    return str(json.loads(state_path.read_text(encoding="utf-8"))["results"]["preview"][stack]["error"])


def test_ctrl_c_cancels_a_running_stack_gracefully(tmp_path: Path) -> None:
    standin = install(tmp_path / "standin")
    standin.configure(stuck={"hang": True})
    process, state_path = _start(tmp_path, standin, grace=EXIT_BOUND)
    code, _, output = _interrupt(process)
    assert code == 130, output
    _assert_cancelled_cleanly(tmp_path, standin, state_path)
    assert "Traceback" not in output
    # The CLI stopped on SIGINT: the worker reported it, nothing needed the API cancel or SIGTERM.
    assert _error(state_path, "stuck") == "cancelled by the operator (SIGINT)"
    assert not [c for c in standin.invocations() if c.command == "cancel"]


def test_ctrl_c_falls_back_to_the_automation_api_cancel(tmp_path: Path) -> None:
    standin = install(tmp_path / "standin")
    standin.configure(stuck={"hang": True, "ignore_sigint": True})
    process, state_path = _start(tmp_path, standin, grace=8)
    code, _, output = _interrupt(process)
    assert code == 130, output
    cancels = [c for c in standin.invocations() if c.command == "cancel"]
    assert [c.argv[-2:] for c in cancels] == [["--stack", "stuck"]]
    assert cancels[0].started - standin.operations("stuck")[0].started >= 8 / 2 - 0.5
    _assert_cancelled_cleanly(tmp_path, standin, state_path)
    assert _error(state_path, "stuck") == "cancelled by the operator (SIGINT)"


def test_ctrl_c_terminates_a_stack_that_will_not_stop(tmp_path: Path) -> None:
    standin = install(tmp_path / "standin")
    standin.configure(stuck={"hang": True, "ignore_sigint": True, "ignore_cancel": True})
    process, state_path = _start(tmp_path, standin, grace=3)
    code, took, output = _interrupt(process)
    assert code == 130, output
    assert took >= 3, f"took {took:.1f}s: the grace period must pass before SIGTERM"
    _assert_cancelled_cleanly(tmp_path, standin, state_path)
    assert "terminated after the cancel grace period" in _error(state_path, "stuck")
