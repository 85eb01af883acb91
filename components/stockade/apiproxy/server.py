"""The proxy's HTTP server: loopback in, certificate-checked TLS out.

For each request from the sandbox: classify it (routes.py); refuse it with 403, a log line
(`proxy.denied`, which the fleet's metric filter counts) and an in-process count; or forward
it to the vendor with every credential the sandbox sent removed and the real one added
(memory-store routes keep the sandbox's own credential and never get the key). Request bodies
are bounded and need a Content-Length; responses stream through in fixed-size chunks, so
server-sent events flow as they arrive. Logs never contain a credential, a body or a query.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import signal
import ssl
import sys
import threading
import time
from collections import Counter
from collections.abc import MutableMapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from stockade.apiproxy.config import ProxyConfig
from stockade.apiproxy.routes import Credential, Verdict, classify
from stockade.workqueue.errors import EXIT_OK, DispatchError

log = logging.getLogger("stockade.apiproxy")

LISTEN_HOST = "127.0.0.1"
CONNECT_TIMEOUT_SECONDS = 10.0
CHUNK_BYTES = 64 * 1024
MAX_CONCURRENT_REQUESTS = 64
# On SIGTERM the proxy keeps serving until its sandbox has gone quiet: on a Docker host both
# containers get the signal together, and `ant`'s final memory flush (up to 30 s) and last
# heartbeats still need the proxy. It stops once no request has been seen for DRAIN_IDLE_SECONDS,
# and in any case after DRAIN_MAX_SECONDS, inside the 120 s stop timeout (workqueue/grace.py).
DRAIN_IDLE_SECONDS = 10.0
DRAIN_MAX_SECONDS = 100.0


class Activity:
    """Requests in flight and when the last one began: what the drain on SIGTERM waits for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.in_flight = 0
        self.last = time.monotonic()

    def begin(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.last = time.monotonic()

    def end(self) -> None:
        with self._lock:
            self.in_flight -= 1
            self.last = time.monotonic()

    def quiet_for(self) -> float:
        """Seconds since the last request ended, or 0 while one is in flight."""
        with self._lock:
            return 0.0 if self.in_flight else time.monotonic() - self.last


def drain_then_stop(
    activity: Activity,
    stop: Any,
    *,
    idle: float = DRAIN_IDLE_SECONDS,
    limit: float = DRAIN_MAX_SECONDS,
) -> None:
    """Call `stop()` once the sandbox has been quiet for `idle` seconds, or after `limit`."""
    deadline = time.monotonic() + limit
    while activity.quiet_for() < idle and time.monotonic() < deadline:
        time.sleep(0.2)
    stop()


DENIED_EVENT = "proxy.denied"
# Never forwarded in either direction: hop-by-hop headers, and everything that carries a credential.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key", "cookie", "anthropic-workspace-id"})
_OWN_CREDENTIAL_HEADERS = ("authorization", "x-api-key")


class Metrics:
    """Counts of refused requests by reason, and of forwarded ones (for tests and the final log)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.denied: Counter[str] = Counter()
        self.forwarded = 0

    def deny(self, reason: str) -> None:
        with self._lock:
            self.denied[reason] += 1

    def forward(self) -> None:
        with self._lock:
            self.forwarded += 1


def _event(event: str, **fields: object) -> None:
    log.info(json.dumps({"event": event, **fields}, sort_keys=True))


class ProxyHandler(BaseHTTPRequestHandler):
    config: ProxyConfig
    metrics: Metrics
    slots: threading.BoundedSemaphore
    activity: Activity
    server_version = "stockade-api-proxy"
    sys_version = ""
    timeout = 60  # reading a request from the sandbox

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._refuse(Verdict(None, "method"), self._path())

    def do_OPTIONS(self) -> None:
        self._refuse(Verdict(None, "method"), self._path())

    def do_CONNECT(self) -> None:
        self._refuse(Verdict(None, "connect"), "-")

    def _path(self) -> str:
        # Absolute-form targets (a client treating the proxy as a forward proxy) are refused too,
        # and so is a fragment: a client never sends one, and the upstream might read the target
        # differently from the path checked here.
        if not self.path.startswith("/") or "#" in self.path:
            return "-"
        return urlsplit(self.path).path

    def _upstream_target(self) -> str:
        """The target sent upstream: rebuilt from the checked path and the query, nothing else."""
        parts = urlsplit(self.path)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def _handle(self) -> None:
        if not self.slots.acquire(blocking=False):
            self._json(
                HTTPStatus.SERVICE_UNAVAILABLE, _error("overloaded_error", "too many requests in flight")
            )
            return
        self.activity.begin()
        try:
            path = self._path()
            verdict = (
                classify(self.command, path, self.config.scope)
                if path != "-"
                else Verdict(None, "absolute-form")
            )
            if not verdict.allowed:
                self._refuse(verdict, path)
                return
            body = self._request_body()
            if body is None:
                return
            self._forward(verdict, body)
        finally:
            self.activity.end()
            self.slots.release()

    # -- refusing -------------------------------------------------------------------------
    def _refuse(self, verdict: Verdict, path: str) -> None:
        self.metrics.deny(verdict.reason)
        _event(
            DENIED_EVENT,
            stack=self.config.stack,
            workId=self.config.scope.work_id,
            reason=verdict.reason,
            method=self.command[:16],
            path=path[:200],
        )
        self._json(
            HTTPStatus.FORBIDDEN,
            _error(
                "permission_error", f"the Stockade API proxy does not forward this request ({verdict.reason})"
            ),
        )

    def _request_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._json(HTTPStatus.LENGTH_REQUIRED, _error("invalid_request_error", "send a Content-Length"))
            return None
        raw = self.headers.get("Content-Length", "").strip() or "0"
        if not (raw.isascii() and raw.isdigit()):
            self._json(HTTPStatus.BAD_REQUEST, _error("invalid_request_error", "bad Content-Length"))
            return None
        length = int(raw)
        if length > self.config.max_body_bytes:
            self._json(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                _error(
                    "request_too_large", f"request bodies are limited to {self.config.max_body_bytes} bytes"
                ),
            )
            return None
        return self.rfile.read(length) if length else b""

    # -- forwarding -----------------------------------------------------------------------
    def _upstream_headers(self, verdict: Verdict) -> dict[str, str]:
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            lower = name.lower()
            if lower in HOP_BY_HOP or lower in CREDENTIAL_HEADERS:
                continue
            headers[name] = value
        config = self.config
        upstream = config.upstream
        headers["Host"] = upstream.host if upstream.port == 443 else f"{upstream.host}:{upstream.port}"
        if verdict.credential is Credential.ENVIRONMENT_KEY:
            key = config.key.reveal()
            if config.auth_header == "authorization":
                headers["Authorization"] = f"Bearer {key}"
            else:
                headers["x-api-key"] = key
        else:
            for name in _OWN_CREDENTIAL_HEADERS:
                own = self.headers.get(name)
                if own is not None and config.key.reveal() not in own:
                    headers[name] = own
        if config.workspace_id:
            headers["anthropic-workspace-id"] = config.workspace_id
        return headers

    def _connection(self) -> http.client.HTTPSConnection:
        config = self.config
        if config.egress_proxy is not None:
            connection = http.client.HTTPSConnection(
                config.egress_proxy.host,
                config.egress_proxy.port,
                context=config.tls,
                timeout=CONNECT_TIMEOUT_SECONDS,
            )
            connection.set_tunnel(config.upstream.host, config.upstream.port)
        else:
            connection = http.client.HTTPSConnection(
                config.upstream.host,
                config.upstream.port,
                context=config.tls,
                timeout=CONNECT_TIMEOUT_SECONDS,
            )
        return connection

    def _forward(self, verdict: Verdict, body: bytes) -> None:
        connection = self._connection()
        try:
            try:
                connection.connect()
                if connection.sock is not None:
                    connection.sock.settimeout(self.config.timeout_seconds)
                connection.request(
                    self.command,
                    self._upstream_target(),
                    body=body or None,
                    headers=self._upstream_headers(verdict),
                )
                response = connection.getresponse()
            except ssl.SSLCertVerificationError as exc:
                _event("proxy.upstream_failed", reason="certificate", detail=str(exc.verify_message)[:200])
                self._json(
                    HTTPStatus.BAD_GATEWAY, _error("api_error", "the vendor API's certificate did not verify")
                )
                return
            except (OSError, http.client.HTTPException) as exc:
                _event("proxy.upstream_failed", reason=type(exc).__name__)
                self._json(HTTPStatus.BAD_GATEWAY, _error("api_error", "the vendor API could not be reached"))
                return
            self.metrics.forward()
            _event("proxy.forwarded", route=verdict.reason, method=self.command, status=response.status)
            self._relay(response)
        finally:
            connection.close()

    def _relay(self, response: http.client.HTTPResponse) -> None:
        self.send_response_only(response.status, response.reason)
        length = response.getheader("Content-Length")
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP and name.lower() != "set-cookie":
                self.send_header(name, value)
        if length is not None and length.isascii() and length.isdigit():
            self.send_header("Content-Length", length)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            while True:
                chunk = response.read1(CHUNK_BYTES)
                if not chunk:
                    break
                self.wfile.write(chunk)
                self.wfile.flush()
        except (OSError, http.client.HTTPException) as exc:
            _event("proxy.stream_broken", reason=type(exc).__name__)

    def _json(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode("utf-8")
        self.send_response_only(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        self.wfile.write(payload)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return  # forwarded and denied requests each log their own event, without the query

    def log_message(self, format: str, *args: Any) -> None:
        # The stdlib passes malformed request lines here; a query may carry a credential, so only
        # the template and the status-like arguments are kept, never the request line itself.
        _event("proxy.http_error", detail=format.split("%", 1)[0][:80] or "malformed request")


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def make_server(
    config: ProxyConfig, host: str = LISTEN_HOST, port: int | None = None
) -> tuple[ThreadingHTTPServer, Metrics]:
    metrics = Metrics()
    handler = type(
        "BoundProxyHandler",
        (ProxyHandler,),
        {
            "config": config,
            "metrics": metrics,
            "slots": threading.BoundedSemaphore(MAX_CONCURRENT_REQUESTS),
            "activity": Activity(),
        },
    )
    server = ThreadingHTTPServer((host, config.port if port is None else port), handler)
    server.daemon_threads = True
    return server, metrics


def main(environ: MutableMapping[str, str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        config = ProxyConfig.from_environ(os.environ if environ is None else environ)
        server, metrics = make_server(config)
    except DispatchError as exc:
        _event("config.invalid", error=str(exc))
        return exc.exit_code
    except OSError as exc:
        _event("proxy.listen_failed", error=type(exc).__name__)
        return 1

    activity: Activity = server.RequestHandlerClass.activity  # type: ignore[attr-defined]
    draining = threading.Event()

    def shutdown(signum: int, frame: FrameType | None) -> None:
        if not draining.is_set():
            draining.set()
            _event("proxy.draining", idleSeconds=DRAIN_IDLE_SECONDS, maxSeconds=DRAIN_MAX_SECONDS)
            threading.Thread(target=drain_then_stop, args=(activity, server.shutdown), daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    _event(
        "proxy.listening", port=config.port, workId=config.scope.work_id, sessionId=config.scope.session_id
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()
    _event("proxy.stopped", forwarded=metrics.forwarded, denied=sum(metrics.denied.values()))
    return EXIT_OK
