"""A standard-library client of the environment's work queue (docs/vendor-interface.md §1.7).

Only the calls an orchestrator makes: `poll` (claim, the one response carrying the work
secret), `ack`, `heartbeat` (the lease, with the `expected_last_heartbeat` rule), `stop` and
`get`. Every request has a timeout. Errors name the call and the HTTP status, never a
response body or a header value: bodies can echo request data, and headers carry the key.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from stockade.workqueue.errors import DispatchError
from stockade.workqueue.workitem import Secret, WorkItem, check_id, check_secret, json_object

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
BETA = "managed-agents-2026-04-01"
NO_HEARTBEAT = "NO_HEARTBEAT"
"""`expected_last_heartbeat` on a lease's first heartbeat (§1.7)."""
MAX_RESPONSE_BYTES = 1024 * 1024


class QueueError(DispatchError, event="queue.failed"):
    """A queue call failed (network, timeout or an unexpected HTTP status)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class LeaseLostError(QueueError, event="lease.lost"):
    """HTTP 412 on a heartbeat: the lease moved on without us (§1.7's mismatch rule)."""


@dataclass(frozen=True)
class HeartbeatResult:
    last_heartbeat: str
    state: str
    lease_extended: bool
    ttl_seconds: int | None


Opener = Callable[[urllib.request.Request, float], Any]


def _default_opener(request: urllib.request.Request, timeout: float) -> Any:
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - https/loopback only (config)


class QueueClient:
    """One environment's queue, authenticated with its environment key (never the org key)."""

    def __init__(
        self,
        *,
        environment_id: str,
        environment_key: Secret,
        worker_id: str,
        base_url: str | None = None,
        timeout: float = 30.0,
        opener: Opener | None = None,
    ) -> None:
        self._base = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self._environment_id = environment_id
        self._key = environment_key
        self._worker_id = worker_id
        self._timeout = timeout
        self._open = opener or _default_opener

    # -- plumbing ---------------------------------------------------------------------------
    def _url(self, suffix: str, query: Mapping[str, object] | None = None) -> str:
        url = f"{self._base}/v1/environments/{quote(self._environment_id, safe='')}/work{suffix}"
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        return url

    def _call(
        self,
        what: str,
        method: str,
        suffix: str,
        *,
        query: Mapping[str, object] | None = None,
        body: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> tuple[int, dict[str, Any] | None]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self._url(suffix, query), data=data, method=method)  # noqa: S310
        request.add_header("Authorization", f"Bearer {self._key.reveal()}")
        request.add_header("anthropic-version", API_VERSION)
        request.add_header("anthropic-beta", BETA)
        request.add_header("Anthropic-Worker-ID", self._worker_id)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with self._open(request, timeout if timeout is not None else self._timeout) as response:
                status = int(response.status)
                raw = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            status = exc.code
            exc.close()
            if status == 412:
                raise LeaseLostError(
                    f"{what}: HTTP 412, the lease's last heartbeat is not ours", 412
                ) from None
            raise QueueError(f"{what}: HTTP {status}", status) from None
        except (OSError, ValueError) as exc:
            # URLError, timeouts and resets; the type is enough and carries no secret.
            raise QueueError(f"{what}: {type(exc).__name__}") from None
        if status == 204 or not raw.strip():
            return status, None
        if len(raw) > MAX_RESPONSE_BYTES:
            raise QueueError(f"{what}: response larger than {MAX_RESPONSE_BYTES} bytes", status)
        try:
            return status, json_object(raw, f"the {what} response")
        except DispatchError:
            raise QueueError(f"{what}: response is not a JSON object", status) from None

    # -- the documented calls ---------------------------------------------------------------
    def poll(self, block_ms: int, reclaim_older_than_ms: int | None = None) -> WorkItem | None:
        """Claim the next item, or None when the queue stayed empty for `block_ms` (1-999)."""
        if not 1 <= block_ms <= 999:
            raise ValueError("block_ms must be 1-999 (§1.7)")
        query: dict[str, object] = {"block_ms": block_ms}
        if reclaim_older_than_ms is not None:
            query["reclaim_older_than_ms"] = reclaim_older_than_ms
        # The server may hold the request for block_ms: allow for it on top of the timeout.
        _, document = self._call("poll", "GET", "/poll", query=query, timeout=self._timeout + block_ms / 1000)
        if document is None:
            return None
        secret = check_secret(document.get("secret"), ".secret", "the polled work item")
        data = document.get("data")
        if not isinstance(data, dict) or data.get("type") not in (None, "session"):
            raise QueueError("poll: the work item is not a session item")
        return WorkItem(
            work_id=check_id(document.get("id"), "the work ID"),
            session_id=check_id(data.get("id"), "the session ID"),
            secret=secret,
            base_url=self._base,
        )

    def ack(self, work_id: str) -> None:
        self._call("ack", "POST", f"/{quote(work_id, safe='')}/ack", body={})

    def heartbeat(self, work_id: str, expected: str, ttl_seconds: int) -> HeartbeatResult:
        _, document = self._call(
            "heartbeat",
            "POST",
            f"/{quote(work_id, safe='')}/heartbeat",
            query={"desired_ttl_seconds": ttl_seconds, "expected_last_heartbeat": expected},
            body={},
        )
        document = document or {}
        last = document.get("last_heartbeat")
        state = document.get("state")
        if not isinstance(last, str) or not last or not isinstance(state, str):
            raise QueueError("heartbeat: response has no last_heartbeat or state")
        ttl = document.get("ttl_seconds")
        return HeartbeatResult(
            last_heartbeat=last,
            state=state,
            lease_extended=bool(document.get("lease_extended")),
            ttl_seconds=ttl if isinstance(ttl, int) else None,
        )

    def stop(self, work_id: str, *, force: bool) -> str | None:
        _, document = self._call("stop", "POST", f"/{quote(work_id, safe='')}/stop", body={"force": force})
        state = (document or {}).get("state")
        return state if isinstance(state, str) else None

    def state(self, work_id: str) -> str | None:
        """The item's state, or None when the queue no longer knows it (HTTP 404)."""
        try:
            _, document = self._call("get", "GET", f"/{quote(work_id, safe='')}")
        except QueueError as exc:
            if exc.status == 404:
                return None
            raise
        state = (document or {}).get("state")
        if not isinstance(state, str):
            raise QueueError("get: the work item has no state")
        return state


class Lease:
    """The lease on one claimed item, kept by heartbeats that follow the 412 rule.

    The first heartbeat sends NO_HEARTBEAT, each later one echoes the server's last value. A
    412 means someone else heartbeated since (the sandbox's own worker took the lease over, or
    the item was reclaimed): the lease is never fought for with a guessed value. From then on
    the item is only watched (`state` via GET), which still shows stop requests.
    """

    def __init__(self, queue: QueueClient, work_id: str, ttl_seconds: int) -> None:
        self._queue = queue
        self.work_id = work_id
        self._ttl = ttl_seconds
        self._expected = NO_HEARTBEAT
        self._lock = threading.Lock()
        self.held = True
        self.state: str | None = None

    def beat(self) -> str | None:
        """Heartbeat while the lease is ours, else read the state; returns the item's state."""
        with self._lock:
            if self.held:
                try:
                    result = self._queue.heartbeat(self.work_id, self._expected, self._ttl)
                except LeaseLostError:
                    self.held = False
                else:
                    self._expected = result.last_heartbeat
                    self.state = result.state
                    return self.state
            self.state = self._queue.state(self.work_id)
            return self.state
