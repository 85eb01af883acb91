"""Locate the Stockade project checkout.

Kept apart from `stockade.engine.synth` so that commands that only read stack
files (`validate`, `config-docs`) do not import Pulumi, grpc and cryptography.
"""

from __future__ import annotations

from pathlib import Path

from stockade.engine.errors import SynthInputError


def find_project_dir(start: Path | None = None) -> Path:
    """The nearest directory at or above `start` holding Pulumi.yaml."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "Pulumi.yaml").is_file():
            return candidate
    raise SynthInputError(f"no Pulumi.yaml at or above {here}; run from a Stockade project checkout")
