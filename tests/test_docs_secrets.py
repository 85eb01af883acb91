"""The docs and stack files say exactly which placeholder secrets to replace, and how.

Every `secure:` value in an example stack is a placeholder that no secrets provider encrypted,
so `pulumi preview` cannot decrypt it. The stack file's header names each one with the
`pulumi config set --secret` command that replaces it, and the Docker quickstart names exactly
the `local` stack's.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.conftest import EXAMPLE_STACKS, PROJECT_DIR

SET_SECRET = re.compile(r"pulumi config set (?:--stack \S+ )?--secret --path '([^']+)'")


def secure_keys(config: dict[str, Any]) -> set[str]:
    found: set[str] = set()

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict) and set(node) == {"secure"}:
            found.add(path)
        elif isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else str(key))

    for key, value in config.items():
        walk(value, key)
    return found


def _stack_file(stack: str) -> str:
    return (PROJECT_DIR / "stacks" / f"Pulumi.{stack}.yaml").read_text()


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_each_placeholder_secret_is_named_in_its_stack_files_header(stack: str) -> None:
    text = _stack_file(stack)
    header = text.split("\nconfig:", 1)[0]
    named = set(SET_SECRET.findall(header))
    placeholders = secure_keys(yaml.safe_load(text)["config"])
    assert placeholders, f"{stack} has no secure values: this test would check nothing"
    assert placeholders <= named, f"{stack}: header does not say how to set {placeholders - named}"


def test_the_docker_quickstart_names_exactly_the_local_stacks_placeholders() -> None:
    quickstart = (PROJECT_DIR / "docs" / "quickstart.md").read_text()
    step = quickstart.split("## 4. Set your values and secrets", 1)[1].split("\n## ", 1)[0]
    placeholders = secure_keys(yaml.safe_load(_stack_file("local"))["config"])
    assert set(SET_SECRET.findall(step)) == placeholders
    prose = " ".join(step.split("```", 1)[0].split())
    for key in placeholders:
        assert f"`{key}`" in prose, key


def test_the_aws_quickstart_sets_every_secret_an_init_skeleton_asks_for() -> None:
    from stockade.cli.skeletons import InitTarget, skeleton, todos

    guide = (PROJECT_DIR / "docs" / "aws-quickstart.md").read_text()
    secrets = {
        line.split(" (secret)", 1)[0]
        for line in todos(skeleton("acme-dev", InitTarget.AWS))
        if "(secret)" in line
    }
    assert secrets and secrets <= set(SET_SECRET.findall(guide))


def test_no_example_stack_carries_a_real_looking_key() -> None:
    # The header commands are examples to copy: none carries a real-looking key.
    for stack in EXAMPLE_STACKS:
        assert not re.search(r"sk-ant-[a-z]{3}\d{2}-[A-Za-z0-9_-]{20,}", _stack_file(stack)), stack
