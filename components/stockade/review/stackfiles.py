"""Stack files at one revision: which stacks exist and which secret config values changed.

Synth replaces every secure value with a placeholder named after its key path,
so a changed secret is invisible in the desired state. The stack file still
shows it: the ciphertext changes. Only a keyed digest of each ciphertext is
kept, in memory, to compare two revisions; neither the ciphertext nor the
digest is ever written out.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stockade.review.errors import ReviewInputError

# One random key per process: digests cannot be compared across runs or reversed offline.
_DIGEST_KEY = secrets.token_bytes(32)


def _load_yaml(path: Path) -> Any:
    # The bounded reader: a fork's stack file must not expand an alias bomb in the walk below.
    from stockade.settings.yaml_input import YamlInputError, read_yaml

    try:
        return read_yaml(path)
    except (OSError, YamlInputError) as exc:
        raise ReviewInputError(f"{path}: cannot read it as YAML: {exc}") from None


def stack_config_dir(project_dir: Path) -> Path:
    project = _load_yaml(project_dir / "Pulumi.yaml") or {}
    subdir = project.get("stackConfigDir") if isinstance(project, Mapping) else None
    return project_dir / subdir if isinstance(subdir, str) and subdir else project_dir


def list_stacks(project_dir: Path) -> list[str]:
    """Stacks with a `Pulumi.<stack>.yaml` file in the project's stack config directory."""
    directory = stack_config_dir(project_dir)
    if not directory.is_dir():
        return []
    return sorted(
        p.name[len("Pulumi.") : -len(".yaml")] for p in directory.glob("Pulumi.*.yaml") if p.is_file()
    )


def _digest(node: Any) -> str:
    payload = json.dumps(node, sort_keys=True, default=str).encode()
    return hmac.new(_DIGEST_KEY, payload, hashlib.sha256).hexdigest()


def secret_fingerprints(project_dir: Path, stack: str) -> dict[str, str]:
    """Config key path -> keyed digest, for every `secure:` value in the stack file."""
    path = stack_config_dir(project_dir) / f"Pulumi.{stack}.yaml"
    document = _load_yaml(path) or {}
    config = document.get("config") if isinstance(document, Mapping) else None
    found: dict[str, str] = {}

    def walk(node: Any, key_path: str) -> None:
        if isinstance(node, Mapping) and set(node) == {"secure"}:
            found[key_path] = _digest(node["secure"])
        elif isinstance(node, Mapping):
            for key, value in node.items():
                walk(value, f"{key_path}.{key}" if key_path else str(key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{key_path}[{index}]")

    if isinstance(config, Mapping):
        walk(config, "")
    return found


def secret_config_changes(old: Mapping[str, str], new: Mapping[str, str]) -> list[tuple[str, str]]:
    """(key path, what happened) for secret config that differs; digests stay inside this function."""
    changes: list[tuple[str, str]] = []
    for key_path in sorted(old.keys() | new.keys()):
        before, after = old.get(key_path), new.get(key_path)
        if before == after:
            continue
        if before is None:
            changes.append((key_path, "added"))
        elif after is None:
            changes.append((key_path, "removed or no longer secret"))
        else:
            changes.append((key_path, "changed"))
    return changes
