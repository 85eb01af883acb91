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

import base64
import contextlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from stockade.review.paths import ABSENT, Path, decode_json_text, lookup
from stockade.review.text import is_mapping, strings_in

# Pulumi's wire sentinels (sdk/go/common/resource/sig); the engine's redactor uses the same
# values, but importing it would load the Pulumi SDK, which `stockade comment` does not need.
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"  # noqa: S105 - a wire-format marker, not a password
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105 - a wire-format marker, not a password
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
REDACTED = "[secret]"
# Shorter strings are too likely to occur innocently ("true", "prod") to scrub everywhere;
# they are still redacted where they sit.
MIN_SCRUB_LENGTH = 6
# A base64 fragment this short could match by chance inside unrelated base64.
MIN_B64_LENGTH = 8


# Properties that hold a secret whatever the markers say: an old state written before the
# value was marked secret, or a preview run with `--show-secrets`, carries them in clear.
SECRET_PROPERTY_NAMES = frozenset(
    name.lower()
    for name in (
        "secretString",
        "secretBinary",
        "privateKeyPem",
        "privateKeyOpenssh",
        "privateKeyPemPkcs8",
        "password",
        "masterPassword",
        "token",
        "tunnelToken",
        "tunnelSecret",
        "apiToken",
        "apiKey",
        "authToken",
        "secretKey",
        "secretAccessKey",
        "clientSecret",
        "sharedSecret",
        "passphrase",
    )
)


def is_secret_name(key: Any) -> bool:
    return isinstance(key, str) and key.lower() in SECRET_PROPERTY_NAMES


def path_is_secret_by_name(path: Path) -> bool:
    """Whether any key on the path names a property that always holds a secret."""
    return any(is_secret_name(segment) for segment in path)


def contains_secret(value: Any) -> bool:
    """Whether a (redacted) value holds a secret marker anywhere inside."""
    if isinstance(value, str):
        return REDACTED in value
    if is_sentinel(value):
        return True
    if is_mapping(value):
        return any(contains_secret(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(contains_secret(v) for v in value)
    return False


def is_sentinel(value: Any) -> bool:
    return is_mapping(value) and value.get(SECRET_SIG_KEY) == SECRET_SIG


def secret_paths(value: Any, prefix: Path = ()) -> set[Path]:
    """Paths holding a secret marker (the sentinel or "[secret]") or an always-secret property name."""
    if is_sentinel(value) or value == REDACTED:
        return {prefix} if prefix else set()
    if prefix and is_secret_name(prefix[-1]) and value not in (None, "", [], {}):
        return {prefix}
    found: set[Path] = set()
    if is_mapping(value):
        for key, item in value.items():
            found |= secret_paths(item, (*prefix, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found |= secret_paths(item, (*prefix, index))
    return found


def sentinel_plaintexts(value: Any) -> Iterator[str]:
    """Clear text carried inside sentinel objects (`--show-secrets` output, engine event logs)."""
    if is_sentinel(value):
        for key in ("plaintext", "value"):
            inner = value.get(key)
            if isinstance(inner, str):
                yield inner
                with contextlib.suppress(ValueError):
                    yield from strings_in(json.loads(inner))
            elif inner is not None:
                yield from strings_in(inner)
    elif is_mapping(value):
        for item in value.values():
            yield from sentinel_plaintexts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from sentinel_plaintexts(item)


def encoded_forms(secret: str) -> set[str]:
    """The ways a secret travels inside other strings: as is, JSON-escaped, and base64.

    Base64 of a secret embedded in a longer blob depends on its offset modulo 3, so
    each of the three alignments contributes the characters it fully determines.
    """
    forms = {secret, json.dumps(secret)[1:-1]}
    raw = secret.encode("utf-8")
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode("ascii")
        start = (offset * 8 + 5) // 6  # characters touched by the padding bytes in front
        end = ((offset + len(raw)) // 3) * 4  # characters not touched by whatever follows
        if end - start >= MIN_B64_LENGTH:
            forms.add(encoded[start:end])
    return {form for form in forms if len(form) >= MIN_SCRUB_LENGTH}


class Scrubber:
    """Replaces known secret strings wherever they appear inside other strings.

    All secrets are matched in one Aho-Corasick pass, so scrubbing costs time
    linear in the text whatever the number of secrets; the automaton is rebuilt
    only when a secret was added since the last scrub.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._known: set[str] = set()
        self._automaton: Any = None
        self._dirty = False
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        if len(secret) >= MIN_SCRUB_LENGTH and secret != REDACTED:
            forms = encoded_forms(secret) - self._known
            if forms:
                self._known |= forms
                self._dirty = True

    def __len__(self) -> int:
        return len(self._known)

    def _compiled(self) -> Any:
        if self._dirty:
            import ahocorasick_rs

            # Leftmost-longest: non-overlapping, and a secret that contains another is
            # replaced whole rather than leaving its tail behind.
            self._automaton = ahocorasick_rs.AhoCorasick(
                sorted(self._known), matchkind=ahocorasick_rs.MatchKind.LeftmostLongest
            )
            self._dirty = False
        return self._automaton

    def scrub(self, text: str) -> str:
        automaton = self._compiled()
        if automaton is None or len(text) < MIN_SCRUB_LENGTH:
            return text
        matches = automaton.find_matches_as_indexes(text)
        if not matches:
            return text
        pieces: list[str] = []
        cursor = 0
        for _pattern, start, end in matches:
            pieces += (text[cursor:start], REDACTED)
            cursor = end
        pieces.append(text[cursor:])
        return "".join(pieces)


def _ancestors(paths: Iterable[Path]) -> set[Path]:
    return {path[:i] for path in paths for i in range(1, len(path))}


def redact(value: Any, paths: set[Path], scrubber: Scrubber) -> Any:
    """`value` with every secret path (and anything that may embed one) replaced by "[secret]".

    Also redacted: properties whose name always means a secret (`SECRET_PROPERTY_NAMES`),
    and sentinel objects inside strings that hold JSON (container definitions, policies).
    """
    ancestors = _ancestors(paths)

    def walk(node: Any, prefix: Path) -> Any:
        if (
            is_sentinel(node)
            or (prefix and is_secret_name(prefix[-1]) and node not in (None, "", [], {}))
            or (paths and any(prefix[:i] in paths for i in range(1, len(prefix) + 1)))
        ):
            return REDACTED
        if is_mapping(node):
            return {str(k): walk(v, (*prefix, str(k))) for k, v in node.items()}
        if isinstance(node, list | tuple):
            return [walk(v, (*prefix, i)) for i, v in enumerate(node)]
        if prefix in ancestors and node is not None:
            # A scalar where the other state nests a secret below: JSON text, most likely.
            return REDACTED
        if isinstance(node, str):
            return _redact_json_text(node, scrubber) or scrubber.scrub(node)
        return node

    return walk(value, ())


def _redact_json_text(text: str, scrubber: Scrubber) -> str | None:
    """JSON text holding a sentinel or an always-secret property, re-encoded without them; else None."""
    if text.lstrip()[:1] not in ("{", "[") or (SECRET_SIG not in text and not _may_hold_secret_name(text)):
        return None
    document = decode_json_text(text)
    if document is None:
        return None
    cleaned = redact(document, set(), scrubber)
    return json.dumps(cleaned, separators=(",", ":")) if cleaned != document else None


_QUOTED_SECRET_NAME = re.compile(
    "|".join(f'"{re.escape(name)}"' for name in sorted(SECRET_PROPERTY_NAMES)), re.IGNORECASE
)


def _may_hold_secret_name(text: str) -> bool:
    return _QUOTED_SECRET_NAME.search(text) is not None


def json_text_plaintexts(value: Any) -> Iterator[str]:
    """Clear text inside sentinels that sit in strings holding JSON (so they can be scrubbed elsewhere)."""
    for text in strings_in(value):
        if SECRET_SIG in text:
            document = decode_json_text(text)
            if document is not None:
                yield from sentinel_plaintexts(document)
                yield from json_text_plaintexts(document)


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
                yield from (s for s in strings_in(found) if s != REDACTED)


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
