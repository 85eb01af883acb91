"""Deployed resources keep their identity: no URN in an example stack may vanish without an alias.

Once a stack is deployed, a changed URN means Pulumi deletes the resource and
creates a new one (a new VPC, a new KMS key, a lost bucket). The snapshots in
tests/snapshots/ record every URN each example stack had when they were last
accepted. A refactor that renames or re-parents a resource must add an alias
from the old URN, or this test fails and names it.

After an intended change (new resources, or renames that carry aliases), accept
the new state with:

    STOCKADE_ACCEPT_URNS=1 .venv/bin/python -m pytest tests/test_urn_stability.py
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from stockade.engine import SynthResult
from tests.conftest import EXAMPLE_STACKS

SNAPSHOTS = Path(__file__).parent / "snapshots"


def _snapshot(stack: str) -> Path:
    return SNAPSHOTS / f"urns-{stack}.txt"


def missing_urns(recorded: set[str], result: SynthResult) -> list[str]:
    """Recorded URNs that neither exist now nor are claimed by a current resource's alias."""
    current = {r.urn for r in result.resources}
    aliased = {alias for r in result.resources for alias in r.options.aliases}
    return sorted(recorded - current - aliased)


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_no_urn_disappears_without_an_alias(stack: str, synth_stack: Callable[[str], SynthResult]) -> None:
    result = synth_stack(stack)
    current = {r.urn for r in result.resources}
    if os.environ.get("STOCKADE_ACCEPT_URNS") == "1":
        _snapshot(stack).write_text("".join(f"{urn}\n" for urn in sorted(current)), encoding="utf-8")
    path = _snapshot(stack)
    assert path.is_file(), f"no URN snapshot for {stack}; accept one with STOCKADE_ACCEPT_URNS=1"
    recorded = {line for line in path.read_text(encoding="utf-8").splitlines() if line}
    missing = missing_urns(recorded, result)
    assert not missing, (
        f"{len(missing)} resource(s) of stack {stack} would be destroyed and recreated "
        "(URN changed with no alias):\n  " + "\n  ".join(missing[:20])
    )


def test_the_check_catches_a_rename(synth_stack: Callable[[str], SynthResult]) -> None:
    result = synth_stack("dev")
    current = {r.urn for r in result.resources}
    vanished = "urn:pulumi:dev::stockade::stockade:aws:Network$aws:ec2/vpc:Vpc::old-vpc-name"
    assert missing_urns(current | {vanished}, result) == [vanished]
    assert missing_urns(current, result) == []
