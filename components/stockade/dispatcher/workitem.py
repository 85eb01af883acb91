"""The work item `ant` hands the on-work script: identifiers from the environment, JSON on stdin.

The item's `.secret` is the per-session work secret. It is wrapped in `WorkSecret` the moment
it is parsed, so that formatting, repr or an exception message can never show it; only
`reveal()` gives the value, and only the Secrets Manager call uses it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stockade.dispatcher.errors import WorkItemError

# IDs end up in a Secrets Manager name, ECS tags and a RunTask client token, so the
# dispatcher accepts only characters that are safe in all three.
SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
MAX_SECRET_BYTES = 65536  # Secrets Manager's SecretString limit
MAX_STDIN_BYTES = 1024 * 1024  # a work item is a small JSON object; refuse anything absurd


class WorkSecret:
    """A secret string that never renders itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "WorkSecret([redacted])"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a WorkSecret cannot be pickled")


@dataclass(frozen=True)
class WorkItem:
    """One claimed work item: whose session it is, and the secret that session needs."""

    work_id: str
    session_id: str
    secret: WorkSecret
    base_url: str | None


def _identifier(env_value: str | None, item_value: Any, what: str, env_name: str, field: str) -> str:
    from_item = item_value if isinstance(item_value, str) and item_value else None
    if item_value is not None and from_item is None:
        raise WorkItemError(f"work item field {field} is not a non-empty string")
    if env_value and from_item and env_value != from_item:
        raise WorkItemError(f"{env_name} and the work item's {field} name different {what}s")
    value = env_value or from_item
    if not value:
        raise WorkItemError(f"no {what}: {env_name} is not set and the work item has no {field}")
    if not SAFE_ID.fullmatch(value):
        raise WorkItemError(f"the {what} has characters outside [A-Za-z0-9_-] or is over 128 long")
    return value


def parse_work_item(stdin_text: str, environ: Mapping[str, str], base_url: str | None) -> WorkItem:
    """Validate the work item; every error message names fields, never their contents."""
    if len(stdin_text.encode("utf-8", "surrogateescape")) > MAX_STDIN_BYTES:
        raise WorkItemError(f"the work item on stdin is larger than {MAX_STDIN_BYTES} bytes")
    if not stdin_text.strip():
        raise WorkItemError("no work item on stdin (expected the work-item JSON from `ant beta:worker poll`)")
    try:
        document = json.loads(stdin_text)
    except json.JSONDecodeError as exc:
        # exc.msg and the position never quote the input, unlike str(exc) on some errors.
        raise WorkItemError(
            f"the work item on stdin is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    if not isinstance(document, dict):
        raise WorkItemError("the work item on stdin is not a JSON object")

    secret = document.get("secret")
    if not isinstance(secret, str) or not secret.strip():
        raise WorkItemError("the work item has no .secret (the per-session work secret) or it is empty")
    if len(secret.encode("utf-8", "surrogateescape")) > MAX_SECRET_BYTES:
        raise WorkItemError(f"the work item's .secret is longer than {MAX_SECRET_BYTES} bytes")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in secret):
        raise WorkItemError("the work item's .secret contains control characters")

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
    return WorkItem(work_id=work_id, session_id=session_id, secret=WorkSecret(secret), base_url=base_url)
