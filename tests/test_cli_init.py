"""`stockade init` as users run it: a commented skeleton, TODOs for what only they know, no made-up values."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from stockade.cli.skeletons import InitTarget, skeleton, todos
from tests.conftest import PROJECT_DIR

STOCKADE = [sys.executable, "-m", "stockade.cli.app"]
DIGEST = "sha256:" + "0123456789abcdef" * 4
ECR = "123456789012.dkr.ecr.us-east-2.amazonaws.com"


def _ciphertext() -> dict[str, str]:
    # Shaped like the passphrase provider's output (v1:<nonce>:<ciphertext>); a test value only.
    return {
        "secure": "v1:"
        + base64.b64encode(os.urandom(12)).decode()
        + ":"
        + base64.b64encode(os.urandom(48)).decode()
    }


# What a user would supply for each TODO, by the key path the skeleton's summary names.
FILLS: dict[InitTarget, dict[str, Any]] = {
    InitTarget.AWS: {
        "aws:region": "us-east-2",
        "stockade:aws.accountId": "123456789012",
        "stockade:sandboxes.environmentId": "env_01InitTest",
        "stockade:sandboxes.environmentKey": _ciphertext(),
        "stockade:sandboxes.sessionImage": f"{ECR}/stockade-session@{DIGEST}",
        "stockade:sandboxes.workerImage": f"{ECR}/stockade-poller@{DIGEST}",
        "stockade:tags.owner": "platform-team",
    },
    InitTarget.DOCKER: {
        "stockade:docker.socketGroupId": 999,
        "stockade:sandboxes.environmentId": "env_01InitTest",
        "stockade:sandboxes.environmentKey": _ciphertext(),
        "stockade:sandboxes.sessionImage": "stockade-session:local",
        "stockade:sandboxes.workerImage": "stockade-poller:local",
        "stockade:tags.owner": "platform-team",
    },
    InitTarget.CLOUDFLARE: {
        "stockade:sandboxes.environmentId": "env_01InitTest",
        "stockade:sandboxes.environmentKey": _ciphertext(),
        "stockade:sandboxes.cloudflare.accountId": "0123456789abcdef0123456789abcdef",
        "stockade:sandboxes.cloudflare.bundle.mainModule": "examples/cloudflare-worker/index.js",
        "stockade:sandboxes.cloudflare.webhookSecret": _ciphertext(),
        "stockade:sandboxes.cloudflare.anthropicApiKey": _ciphertext(),
        "stockade:sandboxes.cloudflare.workersDevSubdomain": "acme",
        "stockade:sandboxes.cloudflare.access.teamDomain": "acme.cloudflareaccess.com",
        "stockade:sandboxes.cloudflare.access.aud": "ab" * 32,
    },
}


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PULUMI_STACK"}
    return subprocess.run(
        [*STOCKADE, *args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False, env=env
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", root / "Pulumi.yaml")
    (root / "examples").symlink_to(PROJECT_DIR / "examples")
    return root


def _todo_key(line: str) -> str:
    return line.split(" (secret)", 1)[0].split(": ", 1)[0]


def _set(config: dict[str, Any], dotted: str, value: Any) -> None:
    namespace, _, rest = dotted.partition(".")
    if not rest:
        config[namespace] = value
        return
    node = config.setdefault(namespace, {})
    *parents, leaf = rest.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


@pytest.mark.parametrize("target", list(InitTarget), ids=lambda t: t.value)
def test_init_writes_a_skeleton_whose_only_problems_are_its_todos(project: Path, target: InitTarget) -> None:
    written = _run("init", "--stack", "first", "--target", target.value, cwd=project)
    assert written.returncode == 0, written.stderr
    path = project / "stacks" / "Pulumi.first.yaml"
    text = path.read_text()
    assert text == skeleton("first", target)
    todo_keys = {_todo_key(line) for line in todos(text)}
    assert todo_keys == set(FILLS[target]), "a TODO without a fill in this test (or the reverse)"
    for key in todo_keys:
        assert key in written.stdout, key  # the summary names every TODO
    # No made-up secrets or digests: secrets are prompted for by `pulumi config set --secret`.
    assert "secure:" not in text and not re.search(r"sk-ant-\w", text) and not re.search(r"whsec_\w", text)
    assert not re.search(r"sha256:[0-9a-f]{64}", text)
    for key in todo_keys:
        if "(secret)" in next(line for line in todos(text) if line.startswith(key)):
            assert f"--secret --path '{key}'" in text, key
    # Valid YAML, and `validate` blames nothing but TODO keys.
    assert isinstance(yaml.safe_load(text)["config"], dict)
    checked = _run("validate", "--stack", "first", "--format", "json", cwd=project)
    assert checked.returncode == 2
    problems = {p["key"] for p in yaml.safe_load(checked.stdout)["problems"]}
    assert problems and problems <= todo_keys, problems - todo_keys
    # Supplying exactly the TODOs makes it a valid stack.
    document = yaml.safe_load(text)
    for key, value in FILLS[target].items():
        _set(document["config"], key, value)
    path.write_text(yaml.safe_dump(document))
    filled = _run("validate", "--stack", "first", cwd=project)
    assert filled.returncode == 0, filled.stderr
    assert filled.stdout.startswith(f"stack 'first' is valid ({target.value}, dev)")


def test_init_never_overwrites(project: Path) -> None:
    assert _run("init", "--stack", "mine", "--target", "docker", cwd=project).returncode == 0
    path = project / "stacks" / "Pulumi.mine.yaml"
    path.write_text("config:\n  stockade:target: docker\n# my edits\n")
    again = _run("init", "--stack", "mine", "--target", "aws", cwd=project)
    assert again.returncode == 2
    assert "already exists; nothing was written" in again.stderr
    assert path.read_text().endswith("# my edits\n")


@pytest.mark.parametrize("name", ["../escape", "a/b", "x" * 101, "", "dev\u202e"])
def test_init_refuses_a_bad_name_and_writes_nothing(project: Path, name: str) -> None:
    result = _run("init", "--stack", name, "--target", "aws", cwd=project)
    assert result.returncode == 2
    assert "not a stack name" in result.stderr and "Traceback" not in result.stderr
    assert not (project / "stacks").exists() or not list((project / "stacks").iterdir())
    assert not (project.parent / "Pulumi.escape.yaml").exists()


def test_init_refuses_an_unknown_target(project: Path) -> None:
    result = _run("init", "--stack", "x", "--target", "gcp", cwd=project)
    assert result.returncode == 2
    assert "gcp" in result.stderr and not (project / "stacks").exists()
