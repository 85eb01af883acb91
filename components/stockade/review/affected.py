"""Which stacks a change between two revisions can affect, from the files it touches.

A stack's desired state is a function of its stack file and of the code and
dependencies every stack shares (Pulumi.yaml, the program, components/,
requirements, image build contexts). So a change that touches only stack
files needs only those stacks synthesized; a change to anything shared needs
all of them; a change to files no synth reads (docs, tests, benchmarks,
workflows, the policy pack, the rollout plan) needs none. Anything this module
does not recognise counts as shared: an unknown file costs time, never a
missed change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

# Project-relative paths no synth reads. Directories end with "/".
NOT_SYNTH_INPUTS: tuple[str, ...] = (
    "docs/",
    "tests/",
    "benchmarks/",
    ".github/",
    "scripts/",
    "policy/",
    "examples/",
    ".ci/",
)
NOT_SYNTH_FILES = frozenset({".gitignore", "LICENSE", "README.md", "CHANGELOG.md"})


@dataclass(frozen=True)
class Affected:
    """`everything`: shared inputs changed (and `shared` names a few of them); else `stacks` changed."""

    everything: bool
    stacks: frozenset[str]
    shared: tuple[str, ...] = ()

    def needs(self, stack: str) -> bool:
        return self.everything or stack in self.stacks


def affected_stacks(changed: Iterable[str], stack_config_dir: str) -> Affected:
    """Classify changed project-relative paths (POSIX form, as git prints them)."""
    config_dir = stack_config_dir.strip("/")
    stacks: set[str] = set()
    shared: list[str] = []
    for raw in changed:
        path = PurePosixPath(raw)
        text = path.as_posix()
        if text in NOT_SYNTH_FILES or any(text.startswith(prefix) for prefix in NOT_SYNTH_INPUTS):
            continue
        parent = path.parent.as_posix()
        in_config_dir = parent == (config_dir or ".")
        if in_config_dir and path.name.startswith("Pulumi.") and path.name.endswith(".yaml"):
            name = path.name[len("Pulumi.") : -len(".yaml")]
            if name:
                stacks.add(name)
                continue
        if in_config_dir and path.name == "rollout.yaml":
            continue  # the rollout plan: read by `stockade rollout`, never by a synth
        shared.append(text)
    return Affected(everything=bool(shared), stacks=frozenset(stacks), shared=tuple(sorted(shared)[:5]))
