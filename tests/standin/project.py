"""Scratch Stockade projects for rollout tests: stack files, a plan and a git commit.

Each stack gets an account of its own, so a test can tell one stack's credentials from
another's. The stack files carry only what the plan is checked against.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"


@dataclass(frozen=True)
class WaveSpec:
    name: str
    stacks: Sequence[str]
    max_concurrency: int | None = None
    failure_tolerance: int = 0
    bake_time: float | str = 0.0


def account_for(index: int) -> str:
    return f"{100000000000 + index:012d}"


def role_for(account: str) -> str:
    return f"arn:aws:iam::{account}:role/stockade-deployer"


def plan_document(waves: Sequence[WaveSpec], *, max_concurrency: int = 8) -> dict[str, Any]:
    index = 0
    rendered = []
    for wave in waves:
        stacks = []
        for stack in wave.stacks:
            account = account_for(index)
            stacks.append(
                {"stack": stack, "accountId": account, "region": REGION, "roleArn": role_for(account)}
            )
            index += 1
        entry: dict[str, Any] = {
            "name": wave.name,
            "stacks": stacks,
            "failureTolerance": wave.failure_tolerance,
            "bakeTime": wave.bake_time,
        }
        if wave.max_concurrency is not None:
            entry["maxConcurrency"] = wave.max_concurrency
        rendered.append(entry)
    return {"maxConcurrency": max_concurrency, "waves": rendered}


def write_stack_files(directory: Path, document: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for wave in document["waves"]:
        for entry in wave["stacks"]:
            config = {
                "config": {
                    "aws:region": entry["region"],
                    "stockade:target": "aws",
                    "stockade:aws": {"accountId": entry["accountId"]},
                }
            }
            (directory / f"Pulumi.{entry['stack']}.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")


def make_project(root: Path, waves: Sequence[WaveSpec], *, max_concurrency: int = 8) -> Path:
    """A committed project at root; returns the plan's path."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "Pulumi.yaml", root / "Pulumi.yaml")
    (root / ".gitignore").write_text(".stockade/\n", encoding="utf-8")
    document = plan_document(waves, max_concurrency=max_concurrency)
    write_stack_files(root / "stacks", document)
    plan = root / "stacks" / "rollout.yaml"
    plan.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    git(root, "init", "-q")
    commit(root, "initial")
    return plan


def git(root: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.email=tests@example.com", "-c", "user.name=tests", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return result.stdout.strip()


def commit(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", message)
    return git(root, "rev-parse", "HEAD")
