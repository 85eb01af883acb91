"""Which stack a command works on: `--stack`, else `$PULUMI_STACK`, else the stack Pulumi selected.

Pulumi remembers `pulumi stack select` per project in
`$PULUMI_HOME/workspaces/<project>-<sha1 of the Pulumi.yaml path>-workspace.json`
(`~/.pulumi` when PULUMI_HOME is unset), as `{"stack": "<name or org/project/name>"}`.
Reading it lets `stockade validate` follow the stack `pulumi up` would use.

Every name, wherever it came from, is checked before it becomes a path: a stack
name is what Pulumi accepts (letters, digits, `-`, `_`, `.`; at most 100), so
`--stack ../x` can never reach a file outside stacks/.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from stockade.settings import ConfigProblem, SettingsError
from stockade.settings.problems import clean_text

PULUMI_STACK_ENV = "PULUMI_STACK"
STACK_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_SHOWN = 60  # characters of a bad name echoed back; the rest is elided

_FIX = "pass --stack NAME, set PULUMI_STACK, or run `pulumi stack select NAME` in this checkout"


@dataclass(frozen=True)
class ChosenStack:
    """The stack a command runs on, and where its name came from."""

    name: str
    source: str
    """Where the name came from, for messages: `--stack`, `$PULUMI_STACK` or the workspace file."""


def shown(value: str) -> str:
    """A user-supplied name, short and printable, for an error message."""
    text = value if len(value) <= _SHOWN else value[:_SHOWN] + f"... ({len(value)} characters)"
    return clean_text(text)


def name_problem(name: str, source: str) -> ConfigProblem | None:
    """Why `name` cannot be a stack name, or None."""
    if STACK_NAME.fullmatch(name) and name not in (".", ".."):
        return None
    return ConfigProblem(
        source,
        f"'{shown(name)}'",
        "not a stack name: use 1-100 letters, digits, '-', '_' or '.'",
        "name the stack as in stacks/Pulumi.<stack>.yaml, e.g. --stack dev",
    )


def _unqualified(name: str, source: str) -> str:
    """`org/project/stack` (Pulumi Cloud's fully qualified form) to `stack`; checked either way."""
    parts = name.split("/")
    if len(parts) in (2, 3) and all(STACK_NAME.fullmatch(p) and p not in (".", "..") for p in parts):
        return parts[-1]
    problem = name_problem(name, source)
    if problem is not None:
        raise SettingsError(shown(name), [problem])
    return name


def project_name(root: Path) -> str | None:
    import yaml

    try:
        document = yaml.safe_load((root / "Pulumi.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    name = document.get("name") if isinstance(document, dict) else None
    return name if isinstance(name, str) else None


def workspace_files(root: Path) -> list[Path]:
    """Where Pulumi may have recorded this checkout's selected stack (first match wins)."""
    name = project_name(root)
    if name is None:
        return []
    home = Path(os.environ.get("PULUMI_HOME") or Path.home() / ".pulumi")
    found = []
    # Pulumi hashes the Pulumi.yaml path as it found it; a checkout reached through a
    # symlink hashes differently from its resolved path, so try both.
    for path in dict.fromkeys((root.absolute() / "Pulumi.yaml", root.resolve() / "Pulumi.yaml")):
        digest = hashlib.sha1(str(path).encode(), usedforsecurity=False).hexdigest()
        found.append(home / "workspaces" / f"{name}-{digest}-workspace.json")
    return found


def selected_stack(root: Path) -> tuple[str, Path] | None:
    """The stack `pulumi stack select` chose for this checkout, if Pulumi recorded one."""
    for path in workspace_files(root):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        stack = document.get("stack") if isinstance(document, dict) else None
        if isinstance(stack, str) and stack:
            return stack, path
    return None


def known_stacks(root: Path) -> list[str]:
    """Every stack with a file in stacks/, sorted."""
    names = (p.name[len("Pulumi.") : -len(".yaml")] for p in (root / "stacks").glob("Pulumi.*.yaml"))
    return sorted(n for n in names if name_problem(n, "stacks/") is None)


def choose_stack(explicit: str | None, root: Path) -> ChosenStack:
    """The stack to work on, or a SettingsError naming where to set one."""
    if explicit is not None:
        # `org/project/stack`, as Pulumi itself accepts, names the same stack file.
        return ChosenStack(_unqualified(explicit, "--stack"), "--stack")
    from_env = os.environ.get(PULUMI_STACK_ENV)
    if from_env:
        return ChosenStack(_unqualified(from_env, f"${PULUMI_STACK_ENV}"), f"${PULUMI_STACK_ENV}")
    selected = selected_stack(root)
    if selected is not None:
        name, path = selected
        return ChosenStack(_unqualified(name, str(path)), f"selected in {path}")
    known = known_stacks(root)
    hint = f" (stacks here: {', '.join(known)})" if known else ""
    raise SettingsError(
        "(none)",
        [ConfigProblem("--stack", "(not set)", "no stack given and none selected", _FIX + hint)],
    )
