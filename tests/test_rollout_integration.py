"""A rollout preview through the real Pulumi CLI, against a local file backend.

Skipped where no real `pulumi` is installed (this test never accepts the stand-in). The
project is a resource-free Pulumi YAML program, so no provider plugin or cloud account is
needed; STS is answered by moto in this process, where the rollout makes its STS calls.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from stockade.rollout.credentials import RoleAssumer
from stockade.rollout.operations import Operation
from stockade.rollout.plan import load_plan
from stockade.rollout.protocol import StackStatus
from stockade.rollout.runner import Rollout, RunOptions

from .standin import is_standin
from .standin.harness import run_bounded
from .standin.project import WaveSpec, commit, git, plan_document, write_stack_files

pytestmark = pytest.mark.integration


def _real_pulumi() -> str:
    executable = shutil.which("pulumi")
    if executable is None:
        pytest.skip(
            "no Pulumi CLI on PATH; install it (https://www.pulumi.com/docs/install/) to run this test"
        )
    if is_standin(executable):
        pytest.skip(f"{executable} is the test stand-in, not the Pulumi CLI")
    return executable


def test_real_cli_preview_on_a_file_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pulumi = _real_pulumi()
    from moto import mock_aws

    home, backend, project = tmp_path / "home", tmp_path / "backend", tmp_path / "project"
    backend.mkdir()
    project.mkdir()
    monkeypatch.setenv("PULUMI_HOME", str(home))
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "integration-test-only")
    monkeypatch.setenv("PULUMI_SKIP_UPDATE_CHECK", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAOPERATOR000000000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "operator-secret")
    subprocess.run([pulumi, "login", f"file://{backend}"], check=True, capture_output=True, timeout=120)

    (project / "Pulumi.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "stockade",
                "runtime": "yaml",
                "stackConfigDir": "stacks",
                "outputs": {"checked": "rollout"},
            }
        ),
        encoding="utf-8",
    )
    document = plan_document([WaveSpec("one", ["it-a", "it-b"])])
    write_stack_files(project / "stacks", document)
    plan_path = project / "rollout.yaml"
    plan_path.write_text(yaml.safe_dump(document), encoding="utf-8")
    git(project, "init", "-q")
    commit(project, "integration")

    loaded = load_plan(plan_path, project)
    with mock_aws():
        options = RunOptions(
            operation=Operation.PREVIEW,
            state_path=project / ".stockade" / "state.json",
            cancel_grace_seconds=30,
        )
        view = run_bounded(Rollout(loaded, options, RoleAssumer(profile=None, duration_seconds=900)), 300)
    for name in ("it-a", "it-b"):
        stack = view.stacks[name]
        assert stack.status is StackStatus.SUCCEEDED, stack.error
        assert stack.changes.get("create", 0) >= 1  # the stack resource itself
        assert stack.preview is not None and "steps" in stack.preview
