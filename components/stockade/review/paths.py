"""Property paths: flatten nested inputs into leaves and name each leaf the way Pulumi does.

Paths are tuples of keys (str), list indices (int) and `JSON_TEXT`, which marks a
step into a string holding JSON (policy documents, container definitions), so a
reviewer sees `policy(json).Statement[0].Action` instead of one opaque string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final


class _JsonText:
    """The step from a string into the JSON document it holds."""

    _instance: _JsonText | None = None

    def __new__(cls) -> _JsonText:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "JSON_TEXT"


JSON_TEXT: Final = _JsonText()
Segment = str | int | _JsonText
Path = tuple[Segment, ...]
ABSENT: Final = object()


# Pulumi quotes a key unless it is all ASCII letters, digits and underscores.
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_]+")


@lru_cache(maxsize=65536)
def format_path(path: Path) -> str:
    """Pulumi's notation (`a.b[0]["key.with.dots"]`), plus `(json)` for a step into JSON text."""
    out: list[str] = []
    for index, segment in enumerate(path):
        if segment is JSON_TEXT:
            out.append("(json)")
        elif isinstance(segment, int):
            out.append(f"[{segment}]")
        elif isinstance(segment, str):
            if _PLAIN_KEY.fullmatch(segment):
                out.append(segment if index == 0 else f".{segment}")
            else:
                escaped = segment.replace("\\", "\\\\").replace('"', '\\"')
                out.append(f'["{escaped}"]')
    return "".join(out)


class PathSyntaxError(ValueError):
    """A property path (from a preview's detailedDiff) that does not parse."""


def parse_path(text: str) -> Path:
    """Parse Pulumi's property-path notation, as found in `detailedDiff` keys and `diffReasons`."""
    segments: list[Segment] = []
    i, n = 0, len(text)
    expect_key = True
    while i < n:
        char = text[i]
        if char == ".":
            if expect_key or i + 1 >= n:
                raise PathSyntaxError(f"unexpected '.' at {i} in {text!r}")
            expect_key = True
            i += 1
            continue
        if char == "[":
            end, segment = _parse_bracket(text, i)
            segments.append(segment)
            i = end
            expect_key = False
            continue
        if not expect_key:
            raise PathSyntaxError(f"expected '.' or '[' at {i} in {text!r}")
        start = i
        while i < n and text[i] not in ".[":
            i += 1
        segments.append(text[start:i])
        expect_key = False
    if not segments:
        raise PathSyntaxError("empty property path")
    return tuple(segments)


def _parse_bracket(text: str, start: int) -> tuple[int, Segment]:
    i = start + 1
    if i < len(text) and text[i] == '"':
        i += 1
        chars: list[str] = []
        while i < len(text):
            if text[i] == "\\" and i + 1 < len(text):
                chars.append(text[i + 1])
                i += 2
                continue
            if text[i] == '"':
                break
            chars.append(text[i])
            i += 1
        if i + 1 >= len(text) or text[i] != '"' or text[i + 1] != "]":
            raise PathSyntaxError(f"unterminated quoted key at {start} in {text!r}")
        return i + 2, "".join(chars)
    close = text.find("]", i)
    if close < 0:
        raise PathSyntaxError(f"unterminated index at {start} in {text!r}")
    body = text[i:close]
    if body == "*":
        return close + 1, "*"
    if not body.isdigit():
        raise PathSyntaxError(f"index {body!r} is not a number in {text!r}")
    return close + 1, int(body)


def decode_json_text(value: str) -> dict[str, Any] | list[Any] | None:
    """The document inside a string that holds a JSON object or array, else None."""
    stripped = value.lstrip()
    if not stripped or stripped[0] not in "{[":
        return None
    try:
        decoded = json.loads(value)
    except ValueError:
        return None
    return decoded if isinstance(decoded, dict | list) and decoded else None


def flatten(value: Any, prefix: Path = (), *, expand_json: bool = True) -> dict[Path, Any]:
    """Every leaf under `value`, keyed by path. Empty objects and lists are leaves themselves."""
    return dict(_walk(value, prefix, expand_json))


def _walk(value: Any, prefix: Path, expand_json: bool) -> Iterator[tuple[Path, Any]]:
    if isinstance(value, Mapping):
        if not value and prefix:
            yield prefix, {}
        for key in sorted(value, key=str):
            yield from _walk(value[key], (*prefix, str(key)), expand_json)
        return
    if isinstance(value, list | tuple):
        if not value and prefix:
            yield prefix, []
        for index, item in enumerate(value):
            yield from _walk(item, (*prefix, index), expand_json)
        return
    if expand_json and isinstance(value, str):
        document = decode_json_text(value)
        if document is not None:
            yield from _walk(document, (*prefix, JSON_TEXT), expand_json)
            return
    yield prefix, value


def lookup(value: Any, path: Path) -> Any:
    """The value at `path` (stepping into JSON text where the path says so), or ABSENT."""
    node = value
    for segment in path:
        if segment is JSON_TEXT:
            node = decode_json_text(node) if isinstance(node, str) else None
            if node is None:
                return ABSENT
        elif isinstance(segment, int):
            if not isinstance(node, list | tuple) or not 0 <= segment < len(node):
                return ABSENT
            node = node[segment]
        else:
            if not isinstance(node, Mapping) or segment not in node:
                return ABSENT
            node = node[segment]
    return node


def last_key(path: Path) -> str | None:
    """The innermost object key on the path, skipping indices: `rules[0].sseAlgorithm` -> sseAlgorithm."""
    for segment in reversed(path):
        if isinstance(segment, str):
            return segment
    return None


def has_key(path: Path, key: str) -> bool:
    return any(isinstance(s, str) and s == key for s in path)


@dataclass(frozen=True)
class LeafChange:
    path: Path
    kind: str  # "add" | "delete" | "update"
    old: Any
    new: Any


def diff_leaves(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[LeafChange]:
    """Leaf-by-leaf differences between two input objects, sorted by path."""
    return diff_values(old or {}, new or {}, ())


def diff_values(old: Any, new: Any, prefix: Path) -> list[LeafChange]:
    """Leaf-by-leaf differences between two values found at `prefix`; ABSENT means no value on that side."""
    before = {} if old is ABSENT else flatten(old, prefix)
    after = {} if new is ABSENT else flatten(new, prefix)
    changes: list[LeafChange] = []
    for path in sorted(before.keys() | after.keys(), key=format_path):
        had, has = path in before, path in after
        if had and has:
            if before[path] != after[path] or type(before[path]) is not type(after[path]):
                changes.append(LeafChange(path, "update", before[path], after[path]))
        elif has:
            changes.append(LeafChange(path, "add", ABSENT, after[path]))
        else:
            changes.append(LeafChange(path, "delete", before[path], ABSENT))
    return changes
