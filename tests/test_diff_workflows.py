"""The CI wiring keeps its trust boundaries: fork code never meets a write token or a secret."""

from __future__ import annotations

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
    [job] = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "read"}
    assert "secrets." not in text and "id-token" not in text
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
