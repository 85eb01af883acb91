"""Turn a stack's configuration into validated `StackSettings`, or every problem with it.

Two sources feed the same model and the same rules:

* a stack file (`stacks/Pulumi.<stack>.yaml`), read by the offline tools;
* the engine's config, read by the Pulumi program under `pulumi up` or synth.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from stockade.settings.base import DEFER_RULES, SettingsModel
from stockade.settings.credentials import credential_leaves
from stockade.settings.problems import MASK, ConfigProblem, SettingsError, describe_value
from stockade.settings.secret_paths import path_matches, secret_paths, wrap_runtime_secrets
from stockade.settings.secrets import PLAINTEXT_ERROR, PulumiSecret
from stockade.settings.stack import StackSettings, cross_section_problems
from stockade.settings.yaml_input import YamlInputError, read_yaml

NAMESPACE = "stockade"
REGION_KEY = "aws:region"
_REGION_FIELD = "awsRegion"


@dataclass(frozen=True)
class StackFile:
    """A stack file's config, with `secure:` leaves left encrypted."""

    stack: str
    path: Path
    config: dict[str, Any] = field(default_factory=dict)


STACK_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
"""Pulumi's stack-name alphabet (letters, digits, `-`, `_`, `.`; at most 100 characters)."""


def stack_name_problem(stack: str) -> ConfigProblem | None:
    """Why `stack` cannot name a stack file, or None. `org/project/stack` names its last part."""
    parts = stack.split("/")
    if len(stack) <= 300 and len(parts) in (1, 3) and all(STACK_NAME.match(p) for p in parts):
        return None
    shown = describe_value(stack)
    return ConfigProblem(
        "--stack",
        shown,
        "not a stack name (letters, digits, '-', '_' and '.', at most 100 characters, no path)",
        "pass the name of a stack file under stacks/, e.g. --stack dev for stacks/Pulumi.dev.yaml",
    )


def stack_file_path(project_dir: Path, stack: str) -> Path:
    """`<project>/stacks/Pulumi.<stack>.yaml`; raise `SettingsError` for a name that is not a stack name."""
    problem = stack_name_problem(stack)
    if problem is not None:
        raise SettingsError(stack[:100], [problem])
    short = stack.rsplit("/", 1)[-1]
    stacks = project_dir / "stacks"
    path = stacks / f"Pulumi.{short}.yaml"
    # The name alphabet already rules out separators; this guards the invariant itself.
    if path.resolve().parent != stacks.resolve():
        raise SettingsError(
            short, [ConfigProblem("--stack", describe_value(stack), "escapes stacks/", "pass a stack name")]
        )
    return path


def read_stack_file(project_dir: Path, stack: str) -> StackFile:
    """Read `stacks/Pulumi.<stack>.yaml`; malformed or missing files become problems."""
    path = stack_file_path(project_dir, stack)
    stack = stack.rsplit("/", 1)[-1]

    def fail(value: str, message: str, fix: str) -> SettingsError:
        return SettingsError(stack, [ConfigProblem(str(path), value, message, fix)])

    if not path.is_file():
        if not path.parent.is_dir():
            raise fail(
                "(missing)",
                f"no stacks/ directory under {project_dir}",
                "run this inside a Stockade checkout, or pass --project-dir",
            )
        known = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in path.parent.glob("Pulumi.*.yaml"))
        hint = f"known stacks: {', '.join(known[:20])}" if known else "no stack files exist yet"
        raise fail("(missing)", "no such stack file", f"create it, or pick an existing stack ({hint})")
    try:
        document = read_yaml(path)
    except YamlInputError as exc:
        raise fail(exc.where, exc.message, exc.fix) from None
    except OSError as exc:
        raise fail(
            "(unreadable)", f"cannot read the file: {exc.strerror}", "check the path and permissions"
        ) from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise fail(_yaml_kind(document), "a stack file is a YAML mapping", "start with `config:`")
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise fail(_yaml_kind(config), "`config:` must be a mapping", "write `config:` then keys")
    return StackFile(stack=stack, path=path, config={str(k): v for k, v in config.items()})


def _yaml_kind(value: object) -> str:
    if isinstance(value, list):
        return "(a list)"
    if isinstance(value, str):
        return "(text)"
    return "(a single value)"


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
    # Under the engine, secret keys (any provider's) arrive decrypted: they are secrets by
    # construction, not credentials pasted in clear.
    return validate(stack, decoded, decrypted_keys=frozenset(secret_keys))


def validate(
    stack: str, config: dict[str, Any], *, decrypted_keys: frozenset[str] = frozenset()
) -> StackSettings:
    """Validate namespaced config; raise `SettingsError` listing every problem at once.

    One pass finds everything: field errors, every section's rules, and the rules across
    sections and targets. A value that fails its field check is set aside (its default
    stands in) so the other rules still run; a rule that reads a set-aside value is
    skipped, and the field's problem says so.
    """
    credential_problems = _credential_problems(
        {key: value for key, value in config.items() if key not in decrypted_keys}
    )
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
    check = _OnePass(data)
    settings = check.run()
    problems = [*credential_problems, *check.problems]
    if settings is not None:
        problems.extend(
            check.unless_set_aside([_problem(e, data, loc=loc) for loc, e in _rule_errors(settings)])
        )
        if check.stand_ins:
            problems.append(_not_checked(check.stand_ins, data))
        else:
            problems.extend(check.unless_set_aside(cross_section_problems(settings)))
    problems = _without_credential_echo(problems, credential_problems)
    if problems:
        raise SettingsError(stack, _annotated(problems, check))
    assert settings is not None  # no problem means the model validated
    return settings


# Required keys with no default: when one is invalid, a stand-in lets the sections' own rules run,
# and the rules that read it are reported as not checked.
_STAND_INS = {"target": "aws", "environment": "dev"}
_MAX_ROUNDS = 8
_SECTIONS_WITH_DEFAULTS = frozenset(
    (info.alias or name)
    for name, info in StackSettings.model_fields.items()
    if info.default_factory is not None
)


class _OnePass:
    """Validate, set invalid values aside, and validate again until the model holds."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.original = data
        self.data = copy.deepcopy(data)
        self.problems: list[ConfigProblem] = []
        self.set_aside: set[str] = set()
        self.stand_ins: dict[str, Any] = {}
        self.skipped: set[str] = set()

    def run(self) -> StackSettings | None:
        for _ in range(_MAX_ROUNDS):
            try:
                return StackSettings.model_validate(self.data, context={DEFER_RULES: True})
            except ValidationError as exc:
                errors = exc.errors()
            reported = {p.key for p in self.problems}
            progressed = False
            for error in errors:
                problem = _problem(error, self.original)
                if problem.key not in reported and not self._covered(problem.key):
                    self.problems.append(problem)
                progressed |= self._set_aside(tuple(error["loc"]))
            if not progressed:
                return None
        return None

    @property
    def stand_ins_keys(self) -> set[str]:
        return {_key_for((name,)) for name in self.stand_ins}

    def _covered(self, key: str) -> bool:
        return any(_related(key, aside) for aside in self.set_aside)

    def _set_aside(self, loc: tuple[str | int, ...]) -> bool:
        # Drop the nearest mapping key at or above the error, so its default stands in;
        # inside lists the whole list goes (the other items were checked in this round).
        while loc:
            parent = _lookup(self.data, loc[:-1])
            head = loc[-1]
            if isinstance(parent, dict) and head in parent:
                if len(loc) == 1 and head in _STAND_INS:
                    if head in self.stand_ins:
                        return False
                    self.stand_ins[str(head)] = parent[head]
                    parent[head] = _STAND_INS[str(head)]
                elif len(loc) == 1 and head in _SECTIONS_WITH_DEFAULTS:
                    if parent[head] == {}:
                        return False
                    parent[head] = {}  # validated with deferred rules, unlike a default factory
                else:
                    del parent[head]
                self.set_aside.add(_key_for(loc))
                return True
            if len(loc) == 1 and head in _STAND_INS and isinstance(parent, dict):
                self.stand_ins[str(head)] = None
                parent[head] = _STAND_INS[str(head)]
                self.set_aside.add(_key_for(loc))
                return True
            loc = loc[:-1]
        return False

    def unless_set_aside(self, problems: list[ConfigProblem]) -> list[ConfigProblem]:
        kept = []
        for problem in problems:
            hit = [aside for aside in self.set_aside if _related(problem.key, aside)]
            if hit:
                # The field problem of a value the rule would have read says the rule was skipped.
                self.skipped.update(a for a in hit if len(a) <= len(problem.key))
            else:
                kept.append(problem)
        return kept


def _related(key: str, other: str) -> bool:
    """One key is the other, or lies under it."""
    shorter, longer = sorted((key, other), key=len)
    return longer == shorter or longer.startswith((shorter + ".", shorter + "["))


def _not_checked(stand_ins: dict[str, Any], data: dict[str, Any]) -> ConfigProblem:
    names = ", ".join(f"stockade:{name}" for name in sorted(stand_ins))
    return ConfigProblem(
        key=f"stockade:{sorted(stand_ins)[0]}",
        value=describe_value(stand_ins[sorted(stand_ins)[0]]),
        message=f"rules across sections and per target were not checked, because {names} is invalid",
        fix=f"fix {names} and validate again; every section's own rules were checked",
    )


def _annotated(problems: list[ConfigProblem], check: _OnePass) -> list[ConfigProblem]:
    """Say on each set-aside value's problem that the rules reading it could not check it.

    Those rules ran against the default instead, so whatever they would say about the
    value written is unknown until it is valid; a rule they skipped outright is named.
    """
    out = []
    for problem in problems:
        if problem.key in check.set_aside and problem.key not in check.stand_ins_keys:
            note = (
                "a rule that reads it was skipped"
                if problem.key in check.skipped
                else "rules that read it check it once it is valid"
            )
            problem = ConfigProblem(problem.key, problem.value, f"{problem.message} ({note})", problem.fix)
        out.append(problem)
    return sorted(set(out))


def _rule_errors(
    model: BaseModel, loc: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Every section's rule errors, with the path of the section that raised each."""
    if isinstance(model, SettingsModel):
        for error in model.rule_errors():
            yield loc, error
    for name, field_info in type(model).model_fields.items():
        alias = field_info.alias or name
        yield from _walk_value(getattr(model, name), (*loc, alias))


def _walk_value(value: Any, loc: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    if isinstance(value, BaseModel):
        yield from _rule_errors(value, loc)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk_value(item, (*loc, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _walk_value(item, (*loc, index))


def _credential_problems(config: dict[str, Any]) -> list[ConfigProblem]:
    """Known credential formats anywhere in the config, named by key and never shown."""
    problems = []
    for path, kind in credential_leaves(config):
        head, *rest = path
        if str(head).startswith(f"{NAMESPACE}:") and _is_secret((str(head).split(":", 1)[1], *rest)):
            continue  # a secret-typed key refuses plaintext itself, value masked
        key = str(head)
        for segment in rest:
            key += f"[{segment}]" if isinstance(segment, int) else f".{segment}"
        problems.append(
            ConfigProblem(
                key=key,
                value=MASK,
                message=f"this looks like {kind}, in clear text; it would be copied into resources, "
                "previews and logs",
                fix=f"revoke and rotate it now (it is in the file's history), then store it with "
                f"`pulumi config set --secret --path '{key}' <value>` if this key takes a secret",
            )
        )
    return problems


def _without_credential_echo(
    problems: list[ConfigProblem], credentials: list[ConfigProblem]
) -> list[ConfigProblem]:
    """Other problems on a credential-bearing key keep their message but never its value."""
    leaked = {p.key for p in credentials}
    out = []
    for problem in problems:
        if problem.value != MASK and any(_related(problem.key, key) for key in leaked):
            problem = ConfigProblem(problem.key, MASK, problem.message, problem.fix)
        out.append(problem)
    return out


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


GENERIC_FIXES = {
    "missing": "set {key}",
    "extra_forbidden": "remove it, or check its spelling against docs/configuration.md",
    "enum": "set {key} to one of the values listed",
    "literal_error": "set {key} to one of the values listed",
    "bool_parsing": "set {key} to true or false",
    "bool_type": "set {key} to true or false",
    "int_parsing": "set {key} to a whole number",
    "int_type": "set {key} to a whole number",
    "int_from_float": "set {key} to a whole number",
    "string_type": "set {key} to a string (quote it in YAML)",
    "dict_type": "write {key} as a mapping of keys to values",
    "list_type": "write {key} as a list",
    "model_type": "write {key} as a mapping of keys to values",
    "model_attributes_type": "write {key} as a mapping of keys to values",
    "string_pattern_mismatch": "set {key} to a value matching the pattern shown",
    "greater_than_equal": "raise {key} to the minimum shown",
    "less_than_equal": "lower {key} to the maximum shown",
    "greater_than": "raise {key} above the minimum shown",
    "less_than": "lower {key} below the maximum shown",
    "too_short": "add entries or characters to {key} up to the minimum shown",
    "too_long": "shorten {key} to the maximum shown",
    "string_too_long": "shorten {key} to the maximum shown",
    "string_too_short": "lengthen {key} to the minimum shown",
}
_GENERIC_FIXES = GENERIC_FIXES  # the rollout plan's reports share these words


def _problem(error: Any, data: dict[str, Any], *, loc: tuple[str | int, ...] | None = None) -> ConfigProblem:
    """A pydantic error (or a rule error raised at `loc`) in the stack file's words."""
    if loc is None:
        loc = tuple(error["loc"])
        kind, raw_message, ctx = error["type"], str(error["msg"]), error.get("ctx") or {}
    else:  # a PydanticCustomError yielded by a section's rules
        kind, raw_message, ctx = error.type, error.message(), error.context or {}
    if "field" in ctx:
        loc = (*loc, *str(ctx["field"]).split("."))
    value = _lookup(data, loc)
    key = _key_for(loc)
    secret = kind == PLAINTEXT_ERROR or _is_secret(loc) or isinstance(value, PulumiSecret)
    message = raw_message
    fix = str(ctx.get("fix") or GENERIC_FIXES.get(kind, "see docs/configuration.md for {key}"))
    if kind == "extra_forbidden":
        # An unknown key may be a misspelled secret: its value is never shown.
        secret = True
        message = "unknown key"
        fix = _did_you_mean(loc) or fix
    elif secret and kind != PLAINTEXT_ERROR:
        message = message.split(",")[0]  # pydantic may echo input in the tail
    message = _without_input_echo(message, error, kind)
    return ConfigProblem(
        key=key,
        value=(MASK if value is not None else describe_value(None)) if secret else describe_value(value),
        message=sentence_case(message),
        fix=full_key_paths(fix.replace("{key}", key)),
    )


_SECTION_PATH = re.compile(r"(?<![\w:./'-])(aws|docker|network|sandboxes|tunnel|policy|tags)\.(?=[a-z])")


def full_key_paths(text: str) -> str:
    """Write section-relative key paths (`tunnel.token`) as the full config key (`stockade:tunnel.token`)."""
    return _SECTION_PATH.sub(lambda m: f"{NAMESPACE}:{m[1]}.", text)


def sentence_case(message: str) -> str:
    """Lower-case a message's first letter unless its first word is a name (CloudWatch, IPv6)."""
    first = message.split(" ", 1)[0]
    if not first or any(ch.isupper() for ch in first[1:]):
        return message
    return first[0].lower() + message[1:]


def _without_input_echo(message: str, error: Any, kind: str) -> str:
    """pydantic's messages for enums and literals list Python reprs; say it in YAML's words."""
    if kind in ("enum", "literal_error") and isinstance(error, dict):
        expected = (error.get("ctx") or {}).get("expected", "")
        return f"must be one of {expected.replace(chr(39), '')}" if expected else message
    return message


def _did_you_mean(loc: tuple[str | int, ...]) -> str | None:
    """'did you mean X?' for an unknown key, from the keys its section does take."""
    parent = _model_at(loc[:-1])
    if parent is None or not isinstance(loc[-1], str):
        return None
    known = [info.alias or name for name, info in parent.model_fields.items()]
    if parent is StackSettings:
        known = [k for k in known if k != _REGION_FIELD]
    close = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.6)
    if not close:
        close = [k for k in known if k.lower() == loc[-1].lower()]
    if not close:
        return None
    prefix = _key_for(loc[:-1]) if len(loc) > 1 else NAMESPACE
    suggestion = f"{prefix}.{close[0]}" if len(loc) > 1 else f"{NAMESPACE}:{close[0]}"
    return f"did you mean {suggestion}? Rename the key (its value is kept as written)"


def _model_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The settings model that validates the mapping at `loc`, following fields, maps and lists."""
    model: type[BaseModel] = StackSettings
    annotation: Any = None
    for segment in loc:
        if annotation is None:
            name = next(
                (n for n, f in model.model_fields.items() if (f.alias or n) == segment or n == segment), None
            )
            if name is None:
                return None
            annotation = model.model_fields[name].annotation
        else:
            annotation = _item_type(annotation)
        found = _model_in(annotation)
        if found is not None:
            model, annotation = found, None
        elif annotation is None:
            return None
    return model if annotation is None else None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg) if get_origin(annotation) in (Union, types.UnionType, Annotated) else None
        if found is not None:
            return found
    return None


def _item_type(annotation: Any) -> Any:
    """The item type of a dict or list annotation (through Optional and Annotated)."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType, Annotated):
        for arg in get_args(annotation):
            item = _item_type(arg)
            if item is not None:
                return item
        return None
    if origin is dict:
        return get_args(annotation)[1]
    if origin is list:
        return get_args(annotation)[0]
    return None
