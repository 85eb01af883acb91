"""Reading resource properties the way the policy engine hands them over.

Under `pulumi preview` the engine gives a policy proxies, not dicts: `props` is a
Mapping whose values raise `UnknownValueError` when they are not known yet (an
ARN of a resource still to be created). The offline runner builds the same
proxies, so rules written with these helpers behave the same in both places.

A rule that only needs to know *whether* a value is set treats an unknown value
as set (it is the output of another resource, never an AWS-managed default); a
rule that must read the value lets `UnknownValueError` propagate, and the engine
reports "can't run during preview" instead of a false verdict.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from pulumi_policy.proxy import UnknownValueError


class _Sentinel:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


MISSING: Final[Any] = _Sentinel("<missing>")
"""The key is absent (or explicitly null)."""

UNKNOWN: Final[Any] = _Sentinel("<unknown>")
"""The value exists but is not known yet (preview)."""


def is_mapping(value: Any) -> bool:
    return isinstance(value, Mapping)


def is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def get(node: Any, *path: str | int) -> Any:
    """The value at `path`, or MISSING / UNKNOWN; never raises for absent or unknown values."""
    current = node
    for key in path:
        try:
            if isinstance(key, str) and is_mapping(current):
                if key not in current:
                    return MISSING
                current = current[key]
            elif isinstance(key, int) and is_sequence(current):
                if not -len(current) <= key < len(current):
                    return MISSING
                current = current[key]
            else:
                return MISSING
        except UnknownValueError:
            return UNKNOWN
        if current is None:
            return MISSING
    return current


def is_set(value: Any) -> bool:
    """Present and not empty; an unknown value counts as set (see the module docstring)."""
    if value is MISSING or value is None:
        return False
    if value is UNKNOWN:
        return True
    if isinstance(value, str):
        return value.strip() != ""
    return True


def items(value: Any) -> Iterator[Any]:
    """Elements of a list property; a scalar is a one-element list, absent is empty."""
    if value is MISSING or value is None:
        return
    if not is_sequence(value):
        yield value
        return
    for index in range(len(value)):
        try:
            yield value[index]
        except UnknownValueError:
            yield UNKNOWN


def as_bool(value: Any) -> bool | None:
    """True/False for booleans (and their string forms); None when absent or unknown."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def as_int(value: Any) -> int | None:
    """Numbers arrive as floats on the wire (443.0); None when absent, unknown or not numeric."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value))
        except ValueError:
            return None
    return None


def plain(value: Any) -> Any:
    """A plain JSON-like copy of a (possibly proxied) value; raises UnknownValueError on unknowns."""
    if is_mapping(value):
        return {str(k): plain(value[k]) for k in value}
    if is_sequence(value):
        return [plain(value[i]) for i in range(len(value))]
    return value


def parse_json(value: Any) -> Any:
    """A JSON document given as a string (the usual wire form) or already structured.

    Raises ValueError when it is neither, so a rule can say it could not read it.
    """
    if isinstance(value, str):
        return json.loads(value)
    if is_mapping(value) or is_sequence(value):
        return plain(value)
    raise ValueError(f"expected a JSON document, got {type(value).__name__}")


def strings(value: Any) -> Iterator[str]:
    """Every string inside a value, descending into JSON-encoded and base64-encoded strings.

    Used to find documents (the tunnel proxy's config) wherever a component put
    them: an SSM parameter, a container environment value inside the task's
    JSON, a Docker upload. Unknown values are skipped.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > 8:
            continue
        if is_mapping(node):
            for key in node:
                stack.append((get(node, key), depth + 1))
        elif is_sequence(node):
            stack.extend((element, depth + 1) for element in items(node))
        elif isinstance(node, str):
            yield node
            nested = _decoded(node)
            if nested is not None:
                stack.append((nested, depth + 1))


def _decoded(text: str) -> Any:
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            return json.loads(stripped)
        except ValueError:
            return None
    if len(stripped) >= 24 and len(stripped) % 4 == 0 and " " not in stripped:
        try:
            raw = base64.b64decode(stripped, validate=True)
            return raw.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
    return None
