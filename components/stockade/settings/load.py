"""Turn a stack's configuration into validated `StackSettings`, or every problem with it.

Two sources feed the same model and the same rules:

* a stack file (`stacks/Pulumi.<stack>.yaml`), read by the offline tools;
* the engine's config, read by the Pulumi program under `pulumi up` or synth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from stockade.settings.problems import MASK, ConfigProblem, SettingsError, describe_value
from stockade.settings.secret_paths import path_matches, secret_paths, wrap_runtime_secrets
from stockade.settings.secrets import PLAINTEXT_ERROR, PulumiSecret
from stockade.settings.stack import StackSettings, cross_section_problems

NAMESPACE = "stockade"
REGION_KEY = "aws:region"
_REGION_FIELD = "awsRegion"


@dataclass(frozen=True)
class StackFile:
    """A stack file's config, with `secure:` leaves left encrypted."""

    stack: str
    path: Path
    config: dict[str, Any] = field(default_factory=dict)


def stack_file_path(project_dir: Path, stack: str) -> Path:
    return project_dir / "stacks" / f"Pulumi.{stack}.yaml"


# libyaml's loader when PyYAML was built with it: the same safe subset, parsed in C
# (the pure-Python parser costs as much as validating the whole stack).
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_stack_file(project_dir: Path, stack: str) -> StackFile:
    """Read `stacks/Pulumi.<stack>.yaml`; malformed or missing files become problems."""
    path = stack_file_path(project_dir, stack)

    def fail(value: str, message: str, fix: str) -> SettingsError:
        return SettingsError(stack, [ConfigProblem(str(path), value, message, fix)])

    if not path.is_file():
        known = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in path.parent.glob("Pulumi.*.yaml"))
        hint = f"known stacks: {', '.join(known)}" if known else "no stack files exist yet"
        raise fail("(missing)", "no such stack file", f"create it, or pick an existing stack ({hint})")
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise fail(where, "not valid YAML", "fix the syntax at that position") from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise fail(type(document).__name__, "a stack file is a YAML mapping", "start with `config:`")
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise fail(type(config).__name__, "`config:` must be a mapping", "write `config:` then keys")
    return StackFile(stack=stack, path=path, config={str(k): v for k, v in config.items()})


def settings_from_stack_file(stack_file: StackFile) -> StackSettings:
    """Validate a stack file's `stockade:` config (secure values stay encrypted)."""
    return validate(stack_file.stack, stack_file.config)


def settings_from_engine(stack: str, config: dict[str, str], secret_keys: set[str]) -> StackSettings:
    """Validate the config the engine hands a running program (values are strings)."""
    decoded: dict[str, Any] = {}
    for key, raw in config.items():
        value: Any = raw
        if isinstance(raw, str) and raw[:1] in ("{", "["):
            try:
                value = json.loads(raw)
            except json.JSONDecodeError:
                value = raw
        if key in secret_keys and key.startswith(f"{NAMESPACE}:"):
            section = key.split(":", 1)[1]
            value = wrap_runtime_secrets(section, value, StackSettings)
        decoded[key] = value
    return validate(stack, decoded)


def validate(stack: str, config: dict[str, Any]) -> StackSettings:
    """Validate namespaced config; raise `SettingsError` listing every problem at once."""
    data: dict[str, Any] = {
        key.split(":", 1)[1]: value for key, value in config.items() if key.startswith(f"{NAMESPACE}:")
    }
    if REGION_KEY in config:
        data[_REGION_FIELD] = config[REGION_KEY]
    for name, model_field in StackSettings.model_fields.items():
        alias = model_field.alias or name
        if alias not in data and model_field.default_factory is not None:
            # Validate absent sections as empty maps, so their rules report under their own key.
            data[alias] = {}
    try:
        settings = StackSettings.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(stack, [_problem(err, data) for err in exc.errors()]) from None
    problems = cross_section_problems(settings)
    if problems:
        raise SettingsError(stack, problems)
    return settings


def _key_for(loc: tuple[str | int, ...]) -> str:
    if not loc:
        return f"{NAMESPACE}:"
    head, *rest = loc
    base = REGION_KEY if head == _REGION_FIELD else f"{NAMESPACE}:{head}"
    for segment in rest:
        base += f"[{segment}]" if isinstance(segment, int) else f".{segment}"
    return base


def _lookup(data: Any, loc: tuple[str | int, ...]) -> Any:
    node = data
    for segment in loc:
        if isinstance(node, dict):
            if segment not in node:
                return None
            node = node[segment]
        elif isinstance(node, list) and isinstance(segment, int) and segment < len(node):
            node = node[segment]
        else:
            return None
    return node


def _is_secret(loc: tuple[str | int, ...]) -> bool:
    return any(path_matches(p, tuple(str(s) for s in loc)) for p in secret_paths(StackSettings))


_GENERIC_FIXES = {
    "missing": "set this key",
    "extra_forbidden": "remove it, or check its spelling against docs/configuration.md",
    "enum": "use one of the values listed",
    "literal_error": "use one of the values listed",
    "bool_parsing": "write true or false",
    "bool_type": "write true or false",
    "int_parsing": "write a whole number",
    "int_type": "write a whole number",
    "int_from_float": "write a whole number",
    "string_type": "write a string (quote it in YAML)",
    "dict_type": "write a mapping of keys to values",
    "list_type": "write a list",
    "model_type": "write a mapping of keys to values",
    "string_pattern_mismatch": "match the pattern shown",
    "greater_than_equal": "raise the value to the minimum shown",
    "less_than_equal": "lower the value to the maximum shown",
    "greater_than": "raise the value above the minimum shown",
    "less_than": "lower the value below the maximum shown",
    "too_short": "add entries or characters up to the minimum shown",
    "too_long": "remove entries or characters down to the maximum shown",
}


def _problem(error: Any, data: dict[str, Any]) -> ConfigProblem:
    loc: tuple[str | int, ...] = tuple(error["loc"])
    ctx = error.get("ctx") or {}
    if "field" in ctx:
        loc = (*loc, *str(ctx["field"]).split("."))
    value = _lookup(data, loc)
    secret = error["type"] == PLAINTEXT_ERROR or _is_secret(loc) or isinstance(value, PulumiSecret)
    fix = ctx.get("fix") or _GENERIC_FIXES.get(error["type"], "see docs/configuration.md")
    message = str(error["msg"])
    if secret and error["type"] != PLAINTEXT_ERROR:
        message = message.split(",")[0]  # pydantic may echo input in the tail
    return ConfigProblem(
        key=_key_for(loc),
        value=MASK if secret else describe_value(value),
        message=message[0].lower() + message[1:] if message else message,
        fix=str(fix),
    )
