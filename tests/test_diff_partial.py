"""`stockade diff` follows the change and survives a broken stack.

- Only stacks whose inputs changed are synthesized: a stack file change needs that
  stack, shared code needs all, docs need none (no checkout at all).
- A stack that fails to synthesize gets its own section; the others still render,
  and the command exits 1 after writing the comment.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stockade.review.affected import affected_stacks
from stockade.review.diff import diff_revisions
from stockade.review.markdown import render_json, render_markdown

from .test_diff_git import commit, git, init_repo

PROGRAM = """
import pulumi
import pulumi_aws as aws

config = pulumi.Config("stockade")
aws.sqs.Queue("jobs", tags={"env": config.get("environment") or "none"})
"""
BROKEN_FOR_QA = (
    PROGRAM
    + """
if pulumi.get_stack() == "qa":
    raise RuntimeError("qa is broken on purpose")
"""
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = init_repo(tmp_path)
    (repo / "__main__.py").write_text(PROGRAM)
    dev = repo / "stacks" / "Pulumi.dev.yaml"
    (repo / "stacks" / "Pulumi.qa.yaml").write_text(dev.read_text())
    (repo / "docs").mkdir()
    (repo / "docs" / "notes.md").write_text("v1\n")
    commit(repo, "base")
    return repo


def test_affected_stacks_by_path() -> None:
    only_qa = affected_stacks(["stacks/Pulumi.qa.yaml", "docs/review.md", "tests/test_x.py"], "stacks")
    assert not only_qa.everything and only_qa.stacks == {"qa"}
    assert affected_stacks(["components/stockade/tags.py"], "stacks").everything
    assert affected_stacks(["requirements.txt"], "stacks").everything
    assert affected_stacks(["Pulumi.yaml"], "stacks").everything
    assert affected_stacks(["images/session/Dockerfile"], "stacks").everything  # build contexts
    nothing = affected_stacks(["README.md", ".github/workflows/x.yml", "stacks/rollout.yaml"], "stacks")
    assert not nothing.everything and not nothing.stacks
    assert affected_stacks(["Pulumi.dev.yaml"], "").stacks == {"dev"}


def test_a_stack_file_change_synthesizes_only_that_stack(repo: Path) -> None:
    qa = repo / "stacks" / "Pulumi.qa.yaml"
    qa.write_text(qa.read_text().replace("environment: dev", "environment: staging"))
    (repo / "docs" / "notes.md").write_text("v2\n")  # irrelevant to any synth
    review = diff_revisions("HEAD", project_dir=repo)  # head: the working tree
    assert [s.stack for s in review.stacks] == ["qa"]
    [change] = review.stacks[0].changes
    assert change.name == "jobs"
    assert any("not synthesized" in n and "`dev`" in n for n in review.notes)


def test_a_new_untracked_stack_file_is_a_change(repo: Path) -> None:
    (repo / "stacks" / "Pulumi.new.yaml").write_text((repo / "stacks" / "Pulumi.dev.yaml").read_text())
    review = diff_revisions("HEAD", project_dir=repo)
    assert [(s.stack, s.status) for s in review.stacks] == [("new", "added")]


def test_a_docs_only_change_synthesizes_nothing_and_checks_nothing_out(repo: Path) -> None:
    (repo / "docs" / "notes.md").write_text("v2\n")
    commit(repo, "docs")
    review = diff_revisions("HEAD~1", "HEAD", project_dir=repo)
    assert review.stacks == ()
    assert any("2 stacks not synthesized" in n for n in review.notes)
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_all_stacks_overrides_the_selection(repo: Path) -> None:
    (repo / "docs" / "notes.md").write_text("v2\n")
    review = diff_revisions("HEAD", project_dir=repo, synth_all=True)
    assert sorted(s.stack for s in review.stacks) == ["dev", "qa"]
    assert all(not s.changes for s in review.stacks)


def test_a_broken_stack_leaves_the_others_rendered_and_exits_2(repo: Path, tmp_path: Path) -> None:
    (repo / "__main__.py").write_text(BROKEN_FOR_QA)  # shared code: both stacks are synthesized
    review = diff_revisions("HEAD", project_dir=repo)
    assert review.failed_stacks() == ("qa",)
    qa = next(s for s in review.stacks if s.stack == "qa")
    assert qa.status == "error" and qa.error is not None and "qa is broken on purpose" in qa.error
    dev = next(s for s in review.stacks if s.stack == "dev")
    assert dev.error is None and dev.unchanged >= 1
    text = render_markdown(review)
    assert "could not be reviewed" in text and "qa is broken on purpose" in text
    assert "<b>dev</b>" in text
    assert '"status": "error"' in render_json(review)

    out = tmp_path / "comment.md"
    done = subprocess.run(
        [sys.executable, "-m", "stockade.cli.app", "diff", "--base", "HEAD", "--out", str(out)],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    # The shared scheme: a stack that cannot be reviewed is bad input (2).
    assert done.returncode == 2, done.stderr
    assert "could not review stack qa" in done.stderr
    assert "Traceback" not in done.stderr
    written = out.read_text()
    assert "<b>dev</b>" in written and "qa is broken on purpose" in written
