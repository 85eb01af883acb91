"""Redact secrets from a `pulumi preview --json` document before anything reads it.

A property is secret when it is secret in EITHER state of a step: Pulumi marks
it with the secret sentinel object or the "[secret]" string on one side while
the other side (an old state written before the value became secret, or with
`--show-secrets`) may hold it in clear. Such a property is redacted on both
sides, so is every property named in `additionalSecretOutputs`, and any string
sitting where a secret path begins (JSON text that may embed the secret).
Secret values found in clear are then scrubbed from every other string in the
document (other resources' inputs, diagnostics), in case they travelled.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from stockade.review.paths import ABSENT, Path, lookup

# Pulumi's wire sentinels (sdk/go/common/resource/sig); the engine's redactor uses the same
# values, but importing it would load the Pulumi SDK, which `stockade comment` does not need.
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"  # noqa: S105 - a wire-format marker, not a password
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105 - a wire-format marker, not a password
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
REDACTED = "[secret]"
# Shorter strings are too likely to occur innocently ("true", "prod") to scrub everywhere;
# they are still redacted where they sit.
MIN_SCRUB_LENGTH = 6


def is_sentinel(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get(SECRET_SIG_KEY) == SECRET_SIG


def secret_paths(value: Any, prefix: Path = ()) -> set[Path]:
    """Paths holding a secret marker (the sentinel object or the "[secret]" string)."""
    if is_sentinel(value) or value == REDACTED:
        return {prefix} if prefix else set()
    found: set[Path] = set()
    if isinstance(value, Mapping):
        for key, item in value.items():
            found |= secret_paths(item, (*prefix, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found |= secret_paths(item, (*prefix, index))
    return found


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def sentinel_plaintexts(value: Any) -> Iterator[str]:
    """Clear text carried inside sentinel objects (`--show-secrets` output, engine event logs)."""
    if is_sentinel(value):
        for key in ("plaintext", "value"):
            inner = value.get(key)
            if isinstance(inner, str):
                yield inner
                with contextlib.suppress(ValueError):
                    yield from _strings(json.loads(inner))
            elif inner is not None:
                yield from _strings(inner)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from sentinel_plaintexts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from sentinel_plaintexts(item)


class Scrubber:
    """Replaces known secret strings wherever they appear inside other strings."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._known: set[str] = set()
        self._longest_first: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        if len(secret) >= MIN_SCRUB_LENGTH and secret != REDACTED:
            # Inside JSON text (container definitions, policies) quotes and backslashes are escaped.
            self._known |= {secret, json.dumps(secret)[1:-1]}
            # Longest first, so a secret that contains another is replaced whole.
            self._longest_first = sorted(self._known, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self._longest_first:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text


def _ancestors(paths: Iterable[Path]) -> set[Path]:
    return {path[:i] for path in paths for i in range(1, len(path))}


def redact(value: Any, paths: set[Path], scrubber: Scrubber) -> Any:
    """`value` with every secret path (and anything that may embed one) replaced by "[secret]"."""
    ancestors = _ancestors(paths)

    def walk(node: Any, prefix: Path) -> Any:
        if any(prefix[:i] in paths for i in range(1, len(prefix) + 1)) or is_sentinel(node):
            return REDACTED
        if isinstance(node, Mapping):
            return {str(k): walk(v, (*prefix, str(k))) for k, v in node.items()}
        if isinstance(node, list | tuple):
            return [walk(v, (*prefix, i)) for i, v in enumerate(node)]
        if prefix in ancestors and node is not None:
            # A scalar where the other state nests a secret below: JSON text, most likely.
            return REDACTED
        return scrubber.scrub(node) if isinstance(node, str) else node

    return walk(value, ())


def state_secret_paths(state: Mapping[str, Any] | None) -> set[Path]:
    """Secret paths of one state, inputs and outputs together (they share property names)."""
    if not state:
        return set()
    paths = secret_paths(state.get("inputs") or {}) | secret_paths(state.get("outputs") or {})
    paths |= {(str(key),) for key in state.get("additionalSecretOutputs") or ()}
    return paths


def clear_values_at(state: Mapping[str, Any] | None, paths: Iterable[Path]) -> Iterator[str]:
    """Strings one state holds in clear at paths that are secret somewhere in the step."""
    if not state:
        return
    for section in ("inputs", "outputs"):
        values = state.get(section) or {}
        for path in paths:
            found = lookup(values, path)
            if found is ABSENT:
                found = _inside_json_text(values, path)
            if found is not ABSENT and not is_sentinel(found):
                yield from (s for s in _strings(found) if s != REDACTED)


def _inside_json_text(values: Any, path: Path) -> Any:
    """The value at `path` when part of the path runs through a string holding JSON."""
    for split in range(len(path) - 1, 0, -1):
        head = lookup(values, path[:split])
        if isinstance(head, str):
            try:
                document = json.loads(head)
            except ValueError:
                return ABSENT
            return lookup(document, path[split:])
    return ABSENT
