"""Property paths: flatten nested inputs into leaves and name each leaf the way Pulumi does.

Paths are tuples of keys (str), list indices (int), `JSON_TEXT`, which marks a
step into a string holding JSON (policy documents, container definitions), so a
reviewer sees `policy(json).Statement[0].Action` instead of one opaque string,
and `Member`s: a list whose order means nothing to its provider (allowlists,
CIDR lists, rules, statements; see `SET_KEYS`) is keyed by its elements, not by
their positions, so adding one domain is one `+ pastebin.com` and not every later
index shifting by one.
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


@dataclass(frozen=True)
class Member:
    """One element of a set-valued list, identified by what it is rather than where it sits.

    `keyed`: the element is an object with an identity field (`name`, `Sid`, `key`);
    its fields are then diffed one by one under `[name=X]`. Otherwise the element
    itself is the leaf and `label` is its compact text.
    """

    label: str
    keyed: bool = False


Segment = str | int | _JsonText | Member
Path = tuple[Segment, ...]
ABSENT: Final = object()


# Lists whose order means nothing to the provider or to AWS: diffed as sets.
SET_KEYS: Final = frozenset(
    {
        # allowlists and address lists
        "domains",
        "targets",
        "definition",
        "cidrBlocks",
        "ipv6CidrBlocks",
        "entries",
        "prefixListIds",
        "allowedIps",
        "allowedDomains",
        "sourceRanges",
        "destinationRanges",
        # rules and routes
        "ingress",
        "egress",
        "statefulRules",
        "statelessRulesAndCustomActions",
        "statefulRuleGroupReferences",
        "statelessRuleGroupReferences",
        "ipSets",
        "routes",
        "route",
        # attachments
        "securityGroupIds",
        "securityGroups",
        "subnetIds",
        "subnets",
        "routeTableIds",
        "managedPolicyArns",
        # tags in list form, container settings ECS treats as sets
        "tags",
        "labels",
        "containerDefinitions",
        "environment",
        "secrets",
        "portMappings",
        "mountPoints",
        "volumes",
        "ulimits",
        "uploads",
        "mounts",
        # policy documents
        "Statement",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
    }
)
# Every list below one of these keys is a set (principal lists, condition values).
SET_SCOPES: Final = frozenset({"Principal", "NotPrincipal", "Condition"})
IDENTITY_KEYS: Final = ("name", "Sid", "key", "Key", "label")


def is_set_list(path: Path) -> bool:
    """Whether the list at `path` is a set (order carries no meaning)."""
    # `containerDefinitions(json)`: the list is the JSON text's document; its key is one step back.
    key = path[-2] if len(path) > 1 and path[-1] is JSON_TEXT else path[-1] if path else None
    if isinstance(key, str) and key in SET_KEYS:
        return True
    return any(isinstance(s, str) and s in SET_SCOPES for s in path)


def _compact(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def member_of(item: Any) -> Member:
    """The identity of one set element."""
    if isinstance(item, Mapping):
        for key in IDENTITY_KEYS:
            ident = item.get(key)
            if isinstance(ident, str) and ident:
                return Member(f"{key}={ident}", keyed=True)
    return Member(_compact(item))


def natural_key(path: Path) -> tuple[tuple[int, Any], ...]:
    """Sort key that puts `domains[7]` before `domains[10]` and set members in text order."""
    key: list[tuple[int, Any]] = []
    for segment in path:
        if isinstance(segment, int):
            key.append((0, segment))
        elif isinstance(segment, str):
            key.append((1, _natural_text(segment)))
        elif isinstance(segment, Member):
            key.append((2, _natural_text(segment.label)))
        else:
            key.append((3, ()))
    return tuple(key)


_DIGITS = re.compile(r"(\d+)")


def _natural_text(text: str) -> tuple[tuple[int, Any], ...]:
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in _DIGITS.split(text) if part)


# Pulumi quotes a key unless it is all ASCII letters, digits and underscores.
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_]+")


@lru_cache(maxsize=65536)
def format_path(path: Path) -> str:
    """Pulumi's notation (`a.b[0]["key.with.dots"]`), plus `(json)` for a step into JSON text."""
    out: list[str] = []
    for index, segment in enumerate(path):
        if segment is JSON_TEXT:
            out.append("(json)")
        elif isinstance(segment, Member):
            # A keyed member names its element; a plain member is shown as the value (`+ x`).
            if segment.keyed:
                out.append(f"[{segment.label}]")
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
        if is_set_list(prefix):
            for item in value:
                member = member_of(item)
                if member.keyed:
                    yield from _walk(item, (*prefix, member), expand_json)
                else:
                    yield (*prefix, member), item
            return
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
        elif isinstance(segment, Member):
            if not isinstance(node, list | tuple):
                return ABSENT
            node = next((item for item in node if member_of(item) == segment), ABSENT)
            if node is ABSENT:
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


def is_member_leaf(path: Path) -> bool:
    """A leaf that is a whole set element (shown with a plus or minus sign)."""
    return bool(path) and isinstance(path[-1], Member) and not path[-1].keyed


def set_root(path: Path) -> Path | None:
    """The set-valued list a (Pulumi, index-based) path runs through, if any: `domains[3]` -> `domains`."""
    for depth, segment in enumerate(path):
        if isinstance(segment, int) and is_set_list(path[:depth]):
            return path[:depth]
    return None


def diff_leaves(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[LeafChange]:
    """Leaf-by-leaf differences between two input objects, sorted by path."""
    return diff_values(old or {}, new or {}, ())


def diff_values(old: Any, new: Any, prefix: Path) -> list[LeafChange]:
    """Leaf-by-leaf differences between two values found at `prefix`; ABSENT means no value on that side."""
    before = {} if old is ABSENT else flatten(old, prefix)
    after = {} if new is ABSENT else flatten(new, prefix)
    changes: list[LeafChange] = []
    for path in sorted(before.keys() | after.keys(), key=natural_key):
        had, has = path in before, path in after
        if had and has:
            if before[path] != after[path] or type(before[path]) is not type(after[path]):
                changes.append(LeafChange(path, "update", before[path], after[path]))
        elif has:
            changes.append(LeafChange(path, "add", ABSENT, after[path]))
        else:
            changes.append(LeafChange(path, "delete", before[path], ABSENT))
    return changes
