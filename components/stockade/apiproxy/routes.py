"""Which requests a session's proxy forwards, and with which credential (the allowlist).

The proxy knows exactly one environment, one work item and one session. A request is
forwarded only when its method and path name those, and only to the endpoints
`ant beta:worker run` documentedly needs for one claimed item (docs/vendor-interface.md
§1.4-1.7):

| Route | Methods | Credential |
|---|---|---|
| `/v1/environments/{env}/work/{work}/ack`, `/heartbeat`, `/stop` | POST | environment key |
| `/v1/environments/{env}/work/{work}` (metadata merge / read) | POST, GET | environment key |
| `/v1/environments/{env}` (the environment itself) | GET | environment key |
| `/v1/sessions/{session}` and everything below it (events, tool results) | GET, POST | environment key |
| `/v1/skills/...` (skill downloads: not per-session resources) | GET | environment key |
| `/v1/memory_stores/...` | GET, POST, PUT, PATCH, DELETE | the sandbox's own (the work secret) |

Refused with 403: polling (`/work/poll`), the queue list (`/work`), `/work/stats`, any other
work item, environment or session, and every path not in the table. On memory-store routes
the proxy forwards the credential the sandbox sent and never adds the environment key: the
vendor's memory endpoints reject the key and take the per-session work secret, which the
sandbox already holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from urllib.parse import unquote


class Credential(Enum):
    ENVIRONMENT_KEY = "environment-key"
    SANDBOX_OWN = "sandbox-own"


@dataclass(frozen=True)
class Verdict:
    """The decision for one request: forward with `credential`, or refuse for `reason`."""

    credential: Credential | None
    reason: str

    @property
    def allowed(self) -> bool:
        return self.credential is not None


@dataclass(frozen=True)
class Scope:
    """The one environment, work item and session this proxy serves."""

    environment_id: str
    work_id: str
    session_id: str


_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]{1,256}$")
_WORK_ACTIONS = frozenset({"ack", "heartbeat", "stop"})
_SESSION_METHODS = frozenset({"GET", "POST"})
_MEMORY_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


def _deny(reason: str) -> Verdict:
    return Verdict(None, reason)


def _allow(credential: Credential, reason: str) -> Verdict:
    return Verdict(credential, reason)


def split_path(path: str) -> list[str] | None:
    """The path's segments, or None when it is not a plain absolute path.

    Percent-encoding, dot segments, empty segments and odd characters are refused rather than
    normalised: the vendor and the proxy must never disagree about which resource a path names.
    """
    if not path.startswith("/") or unquote(path) != path:
        return None
    parts = path[1:].split("/")
    if path.endswith("/"):
        parts = parts[:-1]
    if not parts or not all(_SEGMENT.fullmatch(p) and p not in {".", ".."} for p in parts):
        return None
    return parts


def classify(method: str, path: str, scope: Scope) -> Verdict:
    """Decide one request. `path` excludes the query string."""
    parts = split_path(path)
    if parts is None:
        return _deny("malformed-path")
    if parts[0] != "v1" or len(parts) < 2:
        return _deny("unknown-path")
    root = parts[1]
    rest = parts[2:]
    if root == "environments":
        return _environment(method, rest, scope)
    if root == "sessions":
        if not rest:
            return _deny("session-list")
        if rest[0] != scope.session_id:
            return _deny("other-session")
        if method not in _SESSION_METHODS:
            return _deny("method")
        return _allow(Credential.ENVIRONMENT_KEY, "own-session")
    if root == "skills":
        return _allow(Credential.ENVIRONMENT_KEY, "skills") if method == "GET" else _deny("method")
    if root == "memory_stores":
        if method not in _MEMORY_METHODS:
            return _deny("method")
        return _allow(Credential.SANDBOX_OWN, "memory-store")
    return _deny("unknown-path")


def _environment(method: str, rest: list[str], scope: Scope) -> Verdict:
    if not rest:
        return _deny("environment-list")
    if rest[0] != scope.environment_id:
        return _deny("other-environment")
    if len(rest) == 1:
        return _allow(Credential.ENVIRONMENT_KEY, "own-environment") if method == "GET" else _deny("method")
    if rest[1] != "work":
        return _deny("unknown-path")
    work = rest[2:]
    if not work:
        return _deny("work-list")
    if work[0] == "poll":
        return _deny("poll")
    if work[0] == "stats":
        return _deny("stats")
    if work[0] != scope.work_id:
        return _deny("other-work-item")
    if len(work) == 1:
        return (
            _allow(Credential.ENVIRONMENT_KEY, "own-work-item")
            if method in {"GET", "POST"}
            else _deny("method")
        )
    if len(work) == 2 and work[1] in _WORK_ACTIONS:
        return _allow(Credential.ENVIRONMENT_KEY, f"own-{work[1]}") if method == "POST" else _deny("method")
    return _deny("unknown-path")
