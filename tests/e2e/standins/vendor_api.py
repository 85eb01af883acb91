"""A STAND-IN for the vendor's work-queue API, for tests only. It is not the vendor's service.

It implements the documented queue endpoints Stockade relies on (docs/vendor-interface.md §1.7)
and nothing more:

    GET  /v1/environments/{env}/work/poll           claim the next queued item (returns `secret`)
    POST /v1/environments/{env}/work/{id}/ack        queued/claimed -> starting
    POST /v1/environments/{env}/work/{id}/heartbeat  lease; `expected_last_heartbeat` rule (412)
    POST /v1/environments/{env}/work/{id}/stop       {force}: stopping, or stopped at once
    POST /v1/environments/{env}/work/{id}            metadata merge
    GET  /v1/environments/{env}/work                 list
    GET  /v1/environments/{env}/work/{id}            one item (never its secret)
    GET  /v1/environments/{env}/work/stats           queue statistics
    GET  /v1/sessions/{id}                           the session (its `metadata` tells the stand-in
                                                     worker what to run: see standins/ant.py)

Every request is recorded with the credential it presented, the peer address and the
`X-Standin-Client` header the stand-in tools send, so tests can assert who called what.
Test control lives under /_standin/ (enqueue, redeliver, records, reports) and needs the
control token given at start, so a sandbox under test cannot drive the queue itself.

Stdlib only: it runs in-process on 127.0.0.1 in unit tests, and in a container on a test
network (with TLS) in the Docker end-to-end tests.
"""

from __future__ import annotations

import argparse
import hmac
import json
import re
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

NO_HEARTBEAT = "NO_HEARTBEAT"
DEFAULT_TTL_SECONDS = 30
MAX_BODY = 1024 * 1024
_WORK = re.compile(r"^/v1/environments/(?P<env>[A-Za-z0-9_-]+)/work(?:/(?P<rest>.*))?$")
_SESSION = re.compile(r"^/v1/sessions/(?P<sid>[A-Za-z0-9_-]+)$")


@dataclass
class Item:
    id: str
    session_id: str
    secret: str
    metadata: dict[str, Any] = field(default_factory=dict)
    state: str = "queued"
    claimed: bool = False
    claims: int = 0
    last_heartbeat: str | None = None
    created_at: float = field(default_factory=time.time)
    acknowledged_at: float | None = None
    latest_heartbeat_at: float | None = None
    stop_requested_at: float | None = None
    stopped_at: float | None = None

    def public(self, *, with_secret: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "type": "work",
            "state": self.state,
            "data": {"id": self.session_id, "type": "session"},
            "metadata": self.metadata,
            "created_at": self.created_at,
            "acknowledged_at": self.acknowledged_at,
            "latest_heartbeat_at": self.latest_heartbeat_at,
            "stop_requested_at": self.stop_requested_at,
            "stopped_at": self.stopped_at,
        }
        if with_secret:
            body["secret"] = self.secret
        return body


@dataclass
class Record:
    method: str
    path: str
    status: int
    credential: str | None
    client: str | None
    peer: str
    at: float


class Queue:
    """One environment's queue and the sessions behind it; every method holds the lock."""

    def __init__(self, environment_id: str, environment_key: str) -> None:
        self.environment_id = environment_id
        self.environment_key = environment_key
        self.items: dict[str, Item] = {}
        self.order: list[str] = []
        self.sessions: dict[str, dict[str, Any]] = {}
        self.records: list[Record] = []
        self.reports: list[dict[str, Any]] = []
        self.lock = threading.Condition()

    def enqueue(self, session_metadata: dict[str, Any] | None = None) -> Item:
        with self.lock:
            item = Item(
                id=f"work_{uuid.uuid4().hex[:20]}",
                session_id=f"session_{uuid.uuid4().hex[:20]}",
                secret=f"wsec_{uuid.uuid4().hex}",
            )
            self.items[item.id] = item
            self.order.append(item.id)
            self.sessions[item.session_id] = {"id": item.session_id, "metadata": session_metadata or {}}
            self.lock.notify_all()
            return item

    def redeliver(self, work_id: str) -> None:
        """Hand an item out again, as a reclaim of an unacknowledged or expired lease would."""
        with self.lock:
            item = self.items[work_id]
            item.claimed = False
            item.state = "queued"
            self.lock.notify_all()

    def poll(self, block_ms: int | None) -> Item | None:
        deadline = time.monotonic() + (block_ms or 0) / 1000
        with self.lock:
            while True:
                for work_id in self.order:
                    item = self.items[work_id]
                    if item.state == "queued" and not item.claimed:
                        item.claimed = True
                        item.claims += 1
                        return item
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self.lock.wait(remaining)

    def stats(self) -> dict[str, Any]:
        with self.lock:
            queued = [i for i in self.items.values() if i.state == "queued" and not i.claimed]
            pending = [i for i in self.items.values() if i.state == "queued" and i.claimed]
            return {
                "depth": len(queued),
                "pending": len(pending),
                "oldest_queued_at": min((i.created_at for i in queued), default=None),
                "workers_polling": 1 if any(r.path.endswith("/poll") for r in self.records[-50:]) else 0,
            }


class Handler(BaseHTTPRequestHandler):
    server_version = "stockade-standin-vendor-api"
    sys_version = ""
    queue: Queue
    control_token: str

    # -- plumbing ---------------------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:
        return  # records, not logs: a sandbox's credential must never reach a log line

    def _credential(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return self.headers.get("x-api-key")

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        value = json.loads(raw)
        if not isinstance(value, dict):
            raise ValueError("body is not a JSON object")
        return value

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self._status = status

    def _record(self, path: str) -> None:
        with self.queue.lock:
            self.queue.records.append(
                Record(
                    method=self.command,
                    path=path,
                    status=getattr(self, "_status", 0),
                    credential=self._credential(),
                    client=self.headers.get("X-Standin-Client"),
                    peer=self.client_address[0],
                    at=time.time(),
                )
            )

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            if parts.path.startswith("/_standin/"):
                self._control(parts.path, query)
                return  # control calls are not part of the record
            self._api(parts.path, query)
        except (ValueError, KeyError) as exc:
            self._send(
                HTTPStatus.BAD_REQUEST, {"error": {"type": "invalid_request_error", "message": str(exc)}}
            )
        self._record(parts.path)

    # -- the documented API -----------------------------------------------------------------
    def _authorised(self) -> bool:
        presented = self._credential() or ""
        return hmac.compare_digest(presented.encode(), self.queue.environment_key.encode())

    def _api(self, path: str, query: dict[str, str]) -> None:
        if not self._authorised():
            self._send(HTTPStatus.UNAUTHORIZED, {"error": {"type": "authentication_error"}})
            return
        session = _SESSION.match(path)
        if session and self.command == "GET":
            found = self.queue.sessions.get(session["sid"])
            if found is None:
                self._send(HTTPStatus.NOT_FOUND, {"error": {"type": "not_found_error"}})
            else:
                self._send(HTTPStatus.OK, found)
            return
        match = _WORK.match(path)
        if not match or match["env"] != self.queue.environment_id:
            self._send(HTTPStatus.NOT_FOUND, {"error": {"type": "not_found_error"}})
            return
        rest = match["rest"] or ""
        q = self.queue
        if rest == "poll" and self.command == "GET":
            block = query.get("block_ms")
            block_ms = int(block) if block else None
            if block_ms is not None and not 1 <= block_ms <= 999:
                raise ValueError("block_ms must be 1-999")
            item = q.poll(block_ms)
            if item is None:
                self.send_response(HTTPStatus.NO_CONTENT)
                self.end_headers()
                self._status = HTTPStatus.NO_CONTENT
            else:
                self._send(HTTPStatus.OK, item.public(with_secret=True))
            return
        if rest == "stats" and self.command == "GET":
            self._send(HTTPStatus.OK, q.stats())
            return
        if rest == "" and self.command == "GET":
            with q.lock:
                self._send(HTTPStatus.OK, {"data": [q.items[i].public() for i in q.order]})
            return
        work_id, _, action = rest.partition("/")
        with q.lock:
            item = q.items.get(work_id)
            if item is None:
                self._send(HTTPStatus.NOT_FOUND, {"error": {"type": "not_found_error"}})
                return
            if action == "" and self.command == "GET":
                self._send(HTTPStatus.OK, item.public())
            elif action == "" and self.command == "POST":
                item.metadata.update(self._body().get("metadata", {}))
                self._send(HTTPStatus.OK, item.public())
            elif action == "ack" and self.command == "POST":
                if item.state == "queued":
                    item.state = "starting"
                    item.acknowledged_at = time.time()
                self._send(HTTPStatus.OK, item.public())
            elif action == "heartbeat" and self.command == "POST":
                expected = query.get("expected_last_heartbeat", NO_HEARTBEAT)
                current = item.last_heartbeat or NO_HEARTBEAT
                if expected != current:
                    self._send(HTTPStatus.PRECONDITION_FAILED, {"error": {"type": "precondition_failed"}})
                    return
                ttl = int(query.get("desired_ttl_seconds") or DEFAULT_TTL_SECONDS)
                item.last_heartbeat = f"hb_{uuid.uuid4().hex[:12]}"
                item.latest_heartbeat_at = time.time()
                if item.state == "starting":
                    item.state = "active"
                self._send(
                    HTTPStatus.OK,
                    {
                        "last_heartbeat": item.last_heartbeat,
                        "lease_extended": item.state == "active",
                        "state": item.state,
                        "ttl_seconds": ttl,
                    },
                )
            elif action == "stop" and self.command == "POST":
                force = bool(self._body().get("force", False))
                item.stop_requested_at = item.stop_requested_at or time.time()
                if force or item.state in {"queued", "starting", "stopping"}:
                    item.state = "stopped"
                    item.stopped_at = time.time()
                else:
                    item.state = "stopping"
                self._send(HTTPStatus.OK, item.public())
            else:
                self._send(HTTPStatus.NOT_FOUND, {"error": {"type": "not_found_error"}})

    # -- test control -----------------------------------------------------------------------
    def _control(self, path: str, query: dict[str, str]) -> None:
        token = self.headers.get("X-Standin-Control", "")
        if not hmac.compare_digest(token.encode(), self.control_token.encode()):
            self._send(HTTPStatus.FORBIDDEN, {"error": "control token required"})
            return
        q = self.queue
        if path == "/_standin/enqueue" and self.command == "POST":
            item = q.enqueue(self._body().get("metadata"))
            self._send(
                HTTPStatus.OK, {"work_id": item.id, "session_id": item.session_id, "secret": item.secret}
            )
        elif path == "/_standin/redeliver" and self.command == "POST":
            q.redeliver(self._body()["work_id"])
            self._send(HTTPStatus.OK, {})
        elif path == "/_standin/items" and self.command == "GET":
            with q.lock:
                self._send(
                    HTTPStatus.OK, [q.items[i].public() | {"claims": q.items[i].claims} for i in q.order]
                )
        elif path == "/_standin/records" and self.command == "GET":
            with q.lock:
                self._send(HTTPStatus.OK, [r.__dict__ for r in q.records])
        elif path == "/_standin/reports" and self.command == "GET":
            with q.lock:
                self._send(HTTPStatus.OK, list(q.reports))
        else:
            self._send(HTTPStatus.NOT_FOUND, {"error": "unknown control call"})


class ReportHandler(Handler):
    """Adds the one stand-in-only call the stand-in worker makes: posting what a session saw."""

    def _api(self, path: str, query: dict[str, str]) -> None:
        if path == "/_standin_report" and self.command == "POST":
            # Reports need the work secret of a live item, so a session can only report as itself.
            body = self._body()
            with self.queue.lock:
                item = self.queue.items.get(str(body.get("work_id")))
                secret = self.headers.get("X-Standin-Work-Secret", "")
                if item is None or not hmac.compare_digest(secret.encode(), item.secret.encode()):
                    self._send(HTTPStatus.FORBIDDEN, {"error": "not this session's secret"})
                    return
                self.queue.reports.append(body | {"peer": self.client_address[0], "at": time.time()})
            self._send(HTTPStatus.OK, {})
            return
        super()._api(path, query)


def make_server(
    host: str,
    port: int,
    *,
    environment_id: str,
    environment_key: str,
    control_token: str,
    certfile: str | None = None,
    keyfile: str | None = None,
) -> tuple[ThreadingHTTPServer, Queue]:
    queue = Queue(environment_id, environment_key)
    handler = type("BoundHandler", (ReportHandler,), {"queue": queue, "control_token": control_token})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    if certfile:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certfile, keyfile)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    return server, queue


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Stand-in vendor work-queue API (tests only).")
    parser.add_argument("--host", default="0.0.0.0")  # noqa: S104 - inside a test container
    parser.add_argument("--port", type=int, default=443)
    parser.add_argument("--environment-id", required=True)
    parser.add_argument("--environment-key-file", required=True)
    parser.add_argument("--control-token-file", required=True)
    parser.add_argument("--certfile")
    parser.add_argument("--keyfile")
    args = parser.parse_args(argv)
    with open(args.environment_key_file, encoding="utf-8") as handle:  # noqa: PTH123
        key = handle.read().strip()
    with open(args.control_token_file, encoding="utf-8") as handle:  # noqa: PTH123
        control = handle.read().strip()
    server, _ = make_server(
        args.host,
        args.port,
        environment_id=args.environment_id,
        environment_key=key,
        control_token=control,
        certfile=args.certfile,
        keyfile=args.keyfile,
    )
    print(f"stand-in vendor API listening on {args.host}:{args.port}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
