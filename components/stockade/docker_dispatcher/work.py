"""One session to start: the work item `ant` claimed, as the handler sends it to the broker.

The on-work handler parses the item with the shared parser (stockade.workqueue.workitem) and
sends it as a `SessionRequest`; the broker rebuilds the request from the body and checks every
field again with the same checks, because it must not trust its caller.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stockade.workqueue.errors import WorkItemError
from stockade.workqueue.proxy_contract import split_upstream
from stockade.workqueue.workitem import WorkItem, check_id, check_secret, json_object, parse_work_item

_FIELDS = frozenset({"workId", "sessionId", "workSecret", "baseUrl"})


@dataclass(frozen=True)
class SessionRequest(WorkItem):
    """What the broker needs to start one sandbox: a work item, with its wire format."""

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
        document = json_object(body, "the request body")
        extra = set(document) - _FIELDS
        if extra:
            raise WorkItemError(f"unknown request fields: {', '.join(sorted(extra))}")
        return cls(
            work_id=check_id(document.get("workId"), "workId"),
            session_id=check_id(document.get("sessionId"), "sessionId"),
            secret=check_secret(document.get("workSecret"), "workSecret", "the request"),
            base_url=check_base_url(document.get("baseUrl"), "baseUrl"),
        )


def check_base_url(value: Any, field: str) -> str | None:
    """An optional vendor API base URL; https only, since the environment key goes to it.

    It is where the session's API proxy forwards (or, with the proxy off, where the sandbox's
    `ant` sends the key); the sandbox's own base URL is the proxy's loopback address, which
    the broker sets itself and never takes from a request."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise WorkItemError(f"{field} is not a string")
    try:
        split_upstream(value)
    except ValueError as exc:
        raise WorkItemError(f"{field} {exc}") from None
    return value


def from_work_item(stdin_text: str, environ: Mapping[str, str]) -> SessionRequest:
    """The request for the item `ant` handed the on-work handler (contract: docs/docker-host.md)."""
    base_url = check_base_url(environ.get("ANTHROPIC_BASE_URL"), "ANTHROPIC_BASE_URL")
    item = parse_work_item(stdin_text, environ, base_url)
    return SessionRequest(item.work_id, item.session_id, item.secret, item.base_url)
