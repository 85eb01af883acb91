"""The work item `ant` hands an on-work handler: identifiers from the environment, JSON on stdin.

Both dispatchers parse it here. The item's `.secret` is the per-session work secret; it is
wrapped in `Secret` the moment it is parsed, so formatting, repr or an exception message can
never show it: only `reveal()` gives the value. Every error names fields, never their contents.
The checks of single fields (`check_id`, `check_secret`, `json_object`) are public because the
Docker broker applies them again to the request its on-work handler sends.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stockade.workqueue.errors import WorkItemError

# IDs end up in Secrets Manager names, ECS tags and RunTask client tokens on AWS, and in
# container names, volume names and labels on a Docker host: only characters safe in all.
SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
MAX_SECRET_BYTES = 65536  # Secrets Manager's SecretString limit
MAX_DOCUMENT_BYTES = 1024 * 1024  # a work item is a small JSON object; refuse anything absurd


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
class WorkItem:
    """One claimed work item: whose session it is, and the secret that session needs."""

    work_id: str
    session_id: str
    secret: Secret
    base_url: str | None = None


def json_object(raw: bytes | str, what: str) -> dict[str, Any]:
    """`raw` parsed as one JSON object of at most MAX_DOCUMENT_BYTES; `what` names it in errors."""
    data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw
    if len(data) > MAX_DOCUMENT_BYTES:
        raise WorkItemError(f"{what} is larger than {MAX_DOCUMENT_BYTES} bytes")
    if not data.strip():
        raise WorkItemError(f"{what} is empty")
    try:
        document = json.loads(data)
    except json.JSONDecodeError as exc:
        # The message and position never quote the input, unlike str() of some decode errors.
        raise WorkItemError(
            f"{what} is not JSON at line {exc.lineno} column {exc.colno} ({exc.msg})"
        ) from None
    except UnicodeDecodeError:
        raise WorkItemError(f"{what} is not JSON (not valid UTF-8)") from None
    if not isinstance(document, dict):
        raise WorkItemError(f"{what} is not a JSON object")
    return document


def check_id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise WorkItemError(f"{name} is missing or not a string")
    if not SAFE_ID.fullmatch(value):
        raise WorkItemError(f"{name} has characters outside [A-Za-z0-9_-] or is over 128 long")
    return value


def check_secret(value: Any, field: str, where: str) -> Secret:
    """The work secret in `field` of `where` (e.g. ".secret" of "the work item"), wrapped."""
    if not isinstance(value, str) or not value.strip():
        raise WorkItemError(f"{where} has no {field} (the per-session work secret) or it is empty")
    if len(value.encode("utf-8", "surrogateescape")) > MAX_SECRET_BYTES:
        raise WorkItemError(f"{where}'s {field} is longer than {MAX_SECRET_BYTES} bytes")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        # The Docker sandbox reads it back from a file with `read -r`: one line, nothing unprintable.
        raise WorkItemError(f"{where}'s {field} contains control characters")
    return Secret(value)


def _identifier(env_value: str | None, item_value: Any, what: str, env_name: str, field: str) -> str:
    from_item = item_value if isinstance(item_value, str) and item_value else None
    if item_value is not None and from_item is None:
        raise WorkItemError(f"work item field {field} is not a non-empty string")
    if env_value and from_item and env_value != from_item:
        raise WorkItemError(f"{env_name} and the work item's {field} name different {what}s")
    value = env_value or from_item
    if not value:
        raise WorkItemError(f"no {what}: {env_name} is not set and the work item has no {field}")
    return check_id(value, f"the {what}")


def parse_work_item(stdin_text: str, environ: Mapping[str, str], base_url: str | None = None) -> WorkItem:
    """The item `ant` handed the on-work handler: JSON on stdin, IDs also in ANTHROPIC_* variables.

    `base_url` is the API base URL the caller already checked against its own rules.
    """
    if not stdin_text.strip():
        raise WorkItemError("no work item on stdin (expected the work-item JSON from `ant beta:worker poll`)")
    document = json_object(stdin_text, "the work item on stdin")
    secret = check_secret(document.get("secret"), ".secret", "the work item")

    data = document.get("data")
    if data is not None and not isinstance(data, dict):
        raise WorkItemError("work item field data is not an object")
    data = data or {}
    if data.get("type") not in (None, "session"):
        raise WorkItemError("work item data.type is not 'session'; this dispatcher starts sessions only")

    work_id = _identifier(
        environ.get("ANTHROPIC_WORK_ID"), document.get("id"), "work ID", "ANTHROPIC_WORK_ID", "id"
    )
    session_id = _identifier(
        environ.get("ANTHROPIC_SESSION_ID"), data.get("id"), "session ID", "ANTHROPIC_SESSION_ID", "data.id"
    )
    return WorkItem(work_id=work_id, session_id=session_id, secret=secret, base_url=base_url)
