"""Configuration problems, phrased in the stack file's vocabulary."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any

from pydantic_core import PydanticCustomError

from stockade.settings.credentials import redact

MASK = "[secret]"
NOT_SET = "(not set)"
MAX_SHOWN = 120
# Characters a terminal or a PR comment would act on instead of show: C0/C1 controls
# (except none: newlines inside a value are escaped too) and the bidi overrides and
# isolates that reorder what a reviewer reads (Trojan Source).
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_PLAIN = re.compile(r"^[A-Za-z0-9_./@+-][A-Za-z0-9_./:@+-]*$")


def escape_text(text: str) -> str:
    """Show control, format and bidi characters as escapes (`\\x00`, `\\u202e`)."""
    if text.isprintable() and not any(ch in _BIDI for ch in text):
        return text
    out = []
    for ch in text:
        if ch in _BIDI or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Co", "Cs"):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def clean_text(text: str) -> str:
    """What a report may print: credentials redacted, invisible characters escaped."""
    return escape_text(redact(text))


@dataclass(frozen=True, order=True)
class ConfigProblem:
    """One thing wrong with a stack's configuration.

    `key` is the path a user would type (`stockade:tunnel.routes.wiki`), `value`
    is what they wrote (already masked when it is secret), and `fix` says what to
    do about it.
    """

    key: str
    value: str
    message: str
    fix: str

    def __post_init__(self) -> None:
        # Every report passes through here, so no rule can leak a credential or a raw
        # control character, whatever text it builds.
        for item in fields(self):
            object.__setattr__(self, item.name, clean_text(str(getattr(self, item.name))))

    def render(self) -> str:
        return f"{self.key} = {self.value}\n    {self.message}\n    fix: {self.fix}"

    def as_dict(self) -> dict[str, str]:
        return {"key": self.key, "value": self.value, "message": self.message, "fix": self.fix}


class SettingsError(Exception):
    """Every problem found in a stack's configuration, reported together."""

    def __init__(self, stack: str, problems: list[ConfigProblem]) -> None:
        self.stack = stack
        self.problems = sorted(problems)
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        body = "\n".join(f"  - {p.render()}" for p in self.problems)
        return f"stack '{clean_text(self.stack)}' has {count} configuration {noun}:\n{body}"


def invalid(message: str, fix: str, *, field: str | None = None) -> PydanticCustomError:
    """A validation error that carries its own fix, for use inside validators.

    `field` names the offending key (camelCase, dotted for nesting) when a
    model-level rule can point at it, so the report lands on that key rather
    than on the whole section.
    """
    context = {"fix": fix} if field is None else {"fix": fix, "field": field}
    return PydanticCustomError("stockade", message, context)


def describe_value(value: object, *, secret: bool = False) -> str:
    """Render a bad value for a report in YAML's words: short, masked when secret."""
    if value is None:
        return NOT_SET
    if secret:
        return MASK
    text = _yaml(value, top=True)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def _yaml(value: Any, *, top: bool = False, budget: int = MAX_SHOWN) -> str:
    """Flow-style YAML for a value, as the user would have typed it (never a Python repr)."""
    from pydantic import BaseModel

    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, int | float):
        text = str(value)
        return text if len(text) <= 40 else text[:20] + "..." + f" ({len(text)} digits)"
    if isinstance(value, BaseModel):
        return "(set)"
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return MASK
        parts: list[str] = []
        for key, item in value.items():
            if sum(len(p) for p in parts) > budget:
                parts.append("...")
                break
            parts.append(f"{_yaml(str(key))}: {_yaml(item, budget=budget // 2)}")
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, list | tuple | set | frozenset):
        items: list[str] = []
        for item in value:
            if sum(len(p) for p in items) > budget:
                items.append("...")
                break
            items.append(_yaml(item, budget=budget // 2))
        return "[" + ", ".join(items) + "]"
    text = str(value)[: budget * 2]
    if top or not _PLAIN.match(text):
        return "'" + text.replace("'", "''") + "'"
    return text
