"""Make recorded inputs safe to print: secrets become `[secret]`, everything else plain JSON."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# The wire sentinel Pulumi wraps secret values in (sdk: rpc._special_secret_sig).
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"  # noqa: S105 - a wire marker, not a secret
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105 - a wire marker, not a secret
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
REDACTED = "[secret]"


class Redactor:
    """Replaces secret-wrapped values wholesale and scrubs known secret text anywhere.

    A value wrapped as a secret is replaced entirely: it may carry secrets the
    redactor has never seen (a literal `Output.secret`), so showing any part of it
    is unsafe. Known secret strings (offline placeholders, secret outputs the
    emulators produced) are also scrubbed from plain strings, in case a secret
    lost its wrapper on the way (an `apply` that forgot `Output.secret`).
    """

    def __init__(self, known_secrets: Iterable[str] = ()) -> None:
        self._known = sorted({s for s in known_secrets if len(s) >= 6}, key=len, reverse=True)

    def add(self, secret: str) -> None:
        if len(secret) >= 6 and secret not in self._known:
            self._known.append(secret)
            self._known.sort(key=len, reverse=True)

    def clean(self, value: Any) -> Any:
        if isinstance(value, dict):
            if value.get(SECRET_SIG_KEY) == SECRET_SIG:
                return REDACTED
            return {str(k): self.clean(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
        if isinstance(value, list | tuple):
            return [self.clean(v) for v in value]
        if isinstance(value, str):
            if value == UNKNOWN:
                return "[unknown]"
            return self.scrub(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        return self._describe_object(value)

    def scrub(self, text: str) -> str:
        for secret in self._known:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def _describe_object(self, value: Any) -> Any:
        # Assets and archives have no JSON form of their own. Resource references are
        # already `{"resourceRef": <urn>}` by now (stockade.engine.synth._name_resources).
        for attribute in ("path", "text", "uri"):
            inner = getattr(value, attribute, None)
            if isinstance(inner, str):
                shown = self.scrub(inner) if attribute != "text" else f"<{len(inner)} characters>"
                return {"asset": {attribute: shown}}
        assets = getattr(value, "assets", None)
        if isinstance(assets, dict):
            return {"archive": {k: self.clean(v) for k, v in sorted(assets.items())}}
        return f"<{type(value).__name__}>"


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG_KEY) == SECRET_SIG


def unwrap(value: Any) -> Any:
    """The plain value inside a secret wrapper (for emulators, never for output)."""
    return value.get("value") if is_secret(value) else value


def reveal(value: Any) -> Any:
    """`value` with every secret wrapper removed, recursively: for the test applier only."""
    if is_secret(value):
        return reveal(value.get("value"))
    if isinstance(value, dict):
        return {str(k): reveal(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [reveal(v) for v in value]
    return value
