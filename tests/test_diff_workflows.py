"""The CI wiring keeps its trust boundaries: fork code never meets a write token or a secret."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from stockade.review.markdown import marker

from .conftest import PROJECT_DIR

WORKFLOWS = PROJECT_DIR / ".github" / "workflows"


def load(name: str) -> tuple[dict[str, Any], str]:
    text = (WORKFLOWS / name).read_text()
    document = yaml.safe_load(text)
    document["on"] = document.pop(True)  # YAML 1.1 reads the key `on` as a boolean
    return document, text


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if str(s.get("uses", "")).startswith(action)]


def test_the_pull_request_diff_has_no_secrets_and_a_read_only_token() -> None:
    workflow, text = load("stockade-diff.yml")
    assert set(workflow["on"]) == {"pull_request"}
    assert workflow["permissions"] == {}
    assert set(workflow["jobs"]) == {"diff", "guardrails"}
    for job in workflow["jobs"].values():
        assert job["permissions"] == {"contents": "read"}
    assert "secrets." not in text and "id-token" not in text
    job = workflow["jobs"]["diff"]
    [checkout] = steps_using(job, "actions/checkout")
    assert checkout["with"]["persist-credentials"] is False
    assert "stockade diff --base" in text


def test_the_commenting_workflow_never_runs_pull_request_code() -> None:
    workflow, text = load("stockade-diff-comment.yml")
    assert set(workflow["on"]) == {"workflow_run"}
    assert workflow["on"]["workflow_run"]["workflows"] == ["stockade diff"]
    [job] = workflow["jobs"].values()
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}
    assert steps_using(job, "actions/checkout") == []
    assert "pip install" not in text and "stockade " not in text.replace("stockade diff", "")
    assert f'MARKER: "{marker("diff")}"' in text
    # The PR number from the artifact is checked against the run's own head commit.
    assert ".head.sha" in text and "RUN_HEAD_SHA" in text


@pytest.mark.parametrize("trigger", ["pull_request", "pull_request_target", "workflow_run"])
def test_the_credentialed_preview_runs_only_on_trusted_pushes(trigger: str) -> None:
    workflow, _text = load("stockade-preview.yml")
    assert set(workflow["on"]) == {"push", "workflow_dispatch"}
    assert trigger not in workflow["on"]


def test_credentials_stay_in_the_preview_job() -> None:
    workflow, text = load("stockade-preview.yml")
    preview, comment = workflow["jobs"]["preview"], workflow["jobs"]["comment"]
    assert preview["environment"] == "stockade-preview"
    assert preview["permissions"] == {"contents": "read", "id-token": "write"}
    assert "pull-requests" not in preview["permissions"]
    assert comment["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert "secrets." not in yaml.safe_dump(comment)
    assert "pulumi preview --stack" in text and "--json" in text
    assert f'MARKER: "{marker("preview")}"' in text


def _step(job: dict[str, Any], needle: str) -> tuple[int, dict[str, Any]]:
    for index, step in enumerate(job["steps"]):
        if needle in str(step.get("run", "")) or needle in str(step.get("name", "")):
            return index, step
    raise AssertionError(f"no step with {needle!r}")


def test_the_preview_creates_the_virtualenv_and_runs_the_policy_pack() -> None:
    workflow, _text = load("stockade-preview.yml")
    preview = workflow["jobs"]["preview"]
    venv_at, _ = _step(preview, "python -m venv .venv")
    preview_at, step = _step(preview, "pulumi preview --stack")
    assert venv_at < preview_at, "Pulumi.yaml's virtualenv must exist before `pulumi preview`"
    assert "--policy-pack policy" in step["run"] and "--policy-pack-config" in step["run"]
    assert "stockade policy --stack" in step["run"] and "--emit-config" in step["run"]


def test_every_workflow_caches_pip() -> None:
    for name in ("stockade-diff.yml", "stockade-preview.yml"):
        workflow, _text = load(name)
        for job in workflow["jobs"].values():
            for step in steps_using(job, "actions/setup-python"):
                assert step["with"]["cache"] == "pip", name


def test_the_fork_safe_guardrails_job_checks_every_stack_on_every_pull_request() -> None:
    workflow, text = load("stockade-diff.yml")
    assert workflow["on"] == {"pull_request": None}, "no paths filter: every pull request"
    job = workflow["jobs"]["guardrails"]
    assert job["permissions"] == {"contents": "read"}
    assert "secrets." not in text and "environment" not in job
    _, step = _step(job, "stockade validate")
    assert "for file in stacks/Pulumi.*.yaml" in step["run"] and "stockade policy --stack" in step["run"]


def _run_step(
    job: dict[str, Any], needle: str, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    if shutil.which("bash") is None or shutil.which("jq") is None:
        pytest.skip("needs bash and jq, as GitHub's runners have")
    _, step = _step(job, needle)
    return subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=cwd,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_the_preview_stack_list_comes_from_the_stack_files(tmp_path: Path) -> None:
    workflow, _text = load("stockade-preview.yml")
    assert (
        workflow["jobs"]["preview"]["strategy"]["matrix"]["stack"]
        == "${{ fromJSON(needs.stacks.outputs.stacks) }}"
    )
    shutil.copytree(PROJECT_DIR / "stacks", tmp_path / "stacks")
    aws = sorted(
        p.name[len("Pulumi.") : -len(".yaml")]
        for p in (tmp_path / "stacks").glob("Pulumi.*.yaml")
        if (yaml.safe_load(p.read_text())["config"] or {}).get("stockade:target") == "aws"
    )
    assert "local" not in aws and "dev" in aws
    output = tmp_path / "github-output"
    roles = json.dumps({stack: f"arn:aws:iam::111111111111:role/{stack}" for stack in aws})
    done = _run_step(
        workflow["jobs"]["stacks"],
        "List the AWS stacks",
        tmp_path,
        {"ROLES": roles, "GITHUB_OUTPUT": str(output)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert output.read_text().strip() == f"stacks={json.dumps(aws, separators=(',', ':'))}"

    # A stack without a role is named, not silently skipped.
    partial = json.dumps({"dev": "arn:aws:iam::111111111111:role/dev"})
    done = _run_step(
        workflow["jobs"]["stacks"],
        "List the AWS stacks",
        tmp_path,
        {"ROLES": partial, "GITHUB_OUTPUT": str(output)},
    )
    assert done.returncode == 1
    assert "::error::stack staging has no role in STOCKADE_PREVIEW_ROLES" in done.stdout


def test_an_unset_repository_variable_fails_clearly(tmp_path: Path) -> None:
    workflow, _text = load("stockade-preview.yml")
    job = workflow["jobs"]["stacks"]
    done = _run_step(job, "Check the repository variables", tmp_path, {"ROLES": "", "BACKEND": ""})
    assert done.returncode == 1
    assert "::error::repository variable STOCKADE_PREVIEW_ROLES is not set" in done.stdout
    assert "::error::repository variable PULUMI_BACKEND_URL is not set" in done.stdout
    done = _run_step(
        job, "Check the repository variables", tmp_path, {"ROLES": '{"dev": "arn"}', "BACKEND": "s3://x"}
    )
    assert done.returncode == 0, done.stdout
