"""One session to start: the work item `ant` claimed, checked the same way on both sides.

The on-work handler builds a `SessionRequest` from the work item (identifiers from the
environment `ant` sets, the per-session secret from the JSON on stdin); the broker rebuilds
it from the request body and checks it again, because it must not trust its caller.

The work secret is wrapped in `Secret` the moment it is read, so a repr, an f-string or an
exception message can never show it; only `reveal()` gives the value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from stockade.docker_dispatcher.errors import WorkItemError

# IDs become container names, volume names and label values: keep them to a safe alphabet.
SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
MAX_SECRET_BYTES = 65536
MAX_DOCUMENT_BYTES = 1024 * 1024


class Secret:
    """A secret string that never renders itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret([redacted])"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True)
class SessionRequest:
    """What the broker needs to start one sandbox."""

    work_id: str
    session_id: str
    secret: Secret
    base_url: str | None = None

    def to_json(self) -> bytes:
        """The broker request body. The only place the secret is serialised."""
        body: dict[str, str] = {
            "workId": self.work_id,
            "sessionId": self.session_id,
            "workSecret": self.secret.reveal(),
        }
        if self.base_url:
            body["baseUrl"] = self.base_url
        return json.dumps(body).encode("utf-8")

    @classmethod
    def from_json(cls, body: bytes) -> SessionRequest:
        document = _json_object(body, "the request body")
        extra = set(document) - {"workId", "sessionId", "workSecret", "baseUrl"}
        if extra:
            raise WorkItemError(f"unknown request fields: {', '.join(sorted(extra))}")
        return cls(
            work_id=check_id(document.get("workId"), "workId"),
            session_id=check_id(document.get("sessionId"), "sessionId"),
            secret=check_secret(document.get("workSecret"), "workSecret"),
            base_url=check_base_url(document.get("baseUrl"), "baseUrl"),
        )


def _json_object(raw: bytes | str, what: str) -> dict[str, Any]:
    data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw
    if len(data) > MAX_DOCUMENT_BYTES:
        raise WorkItemError(f"{what} is larger than {MAX_DOCUMENT_BYTES} bytes")
    if not data.strip():
        raise WorkItemError(f"{what} is empty")
    try:
        document = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        # Only the position: some decode errors quote the input, which may hold the secret.
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise WorkItemError(f"{what} is not JSON{where}") from None
    if not isinstance(document, dict):
        raise WorkItemError(f"{what} is not a JSON object")
    return document


def check_id(value: Any, field: str) -> str:
    if not isinstance(value, str) or not SAFE_ID.fullmatch(value):
        raise WorkItemError(f"{field} is missing, or not 1-128 characters of [A-Za-z0-9_-]")
    return value


def check_secret(value: Any, field: str) -> Secret:
    if not isinstance(value, str) or not value.strip():
        raise WorkItemError(f"{field} (the per-session work secret) is missing or empty")
    if len(value.encode("utf-8", "surrogateescape")) > MAX_SECRET_BYTES:
        raise WorkItemError(f"{field} is longer than {MAX_SECRET_BYTES} bytes")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        # It is written to a file and read back with `read -r`: one line, no control characters.
        raise WorkItemError(f"{field} contains control characters")
    return Secret(value)


def check_base_url(value: Any, field: str) -> str | None:
    """An optional API base URL; https only, since the sandbox sends the environment key to it."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise WorkItemError(f"{field} is not a string")
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        raise WorkItemError(f"{field} is not an https:// URL without credentials")
    if parts.query or parts.fragment or any(ch.isspace() for ch in value):
        raise WorkItemError(f"{field} has a query, fragment or whitespace")
    return value


def from_work_item(stdin_text: str, environ: Mapping[str, str]) -> SessionRequest:
    """The request for the item `ant` handed the on-work handler (contract: docs/docker-host.md)."""
    document = _json_object(stdin_text, "the work item on stdin")
    data = document.get("data")
    if data is not None and not isinstance(data, dict):
        raise WorkItemError("work item field data is not an object")
    data = data or {}
    if data.get("type") not in (None, "session"):
        raise WorkItemError("work item data.type is not 'session'; this dispatcher starts sessions only")
    return SessionRequest(
        work_id=_identifier(environ.get("ANTHROPIC_WORK_ID"), document.get("id"), "ANTHROPIC_WORK_ID", "id"),
        session_id=_identifier(
            environ.get("ANTHROPIC_SESSION_ID"), data.get("id"), "ANTHROPIC_SESSION_ID", "data.id"
        ),
        secret=check_secret(document.get("secret"), "the work item's .secret"),
        base_url=check_base_url(environ.get("ANTHROPIC_BASE_URL"), "ANTHROPIC_BASE_URL"),
    )


def _identifier(from_env: str | None, from_item: Any, env_name: str, field: str) -> str:
    if from_item is not None and not isinstance(from_item, str):
        raise WorkItemError(f"work item field {field} is not a string")
    if from_env and from_item and from_env != from_item:
        raise WorkItemError(f"{env_name} and the work item's {field} disagree")
    return check_id(from_env or from_item, f"{env_name} (or the work item's {field})")
