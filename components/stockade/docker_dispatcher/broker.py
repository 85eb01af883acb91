"""The dispatch broker: the only program in the perimeter that talks to the Docker engine.

It listens on the internal dispatch network for one request, `POST /v1/sessions`, from the
on-work handler in the poller, and for each one:

1. lists this stack's sandboxes (by label) and removes those that have exited, with their
   anonymous volumes (the secrets and /mnt/memory go with them);
2. answers 200 if the work item already has a live sandbox (a retried request);
3. answers 429 if STOCKADE_MAX_CONCURRENT_SESSIONS sandboxes are live;
4. creates the session's API proxy (stockade.apiproxy) on the sandbox network, uploads the
   environment key (and the CA bundle, if one is configured) into it as files and starts it;
   then creates the sandbox in the proxy's network namespace, uploads the work secret as a
   file, starts it, and answers 201. With STOCKADE_API_PROXY_ENABLED=false (the reported
   weakening `sandboxes.apiProxy.enabled: false`) there is no proxy and the sandbox gets the
   environment key file itself.

The reaper removes a session's proxy together with its finished sandbox, and any proxy whose
sandbox is gone.

Steps run under one lock, so the cap holds however many requests arrive at once. A
background thread repeats step 1 every STOCKADE_REAP_INTERVAL_SECONDS. Logs are JSON lines
on stderr naming IDs and outcomes, never a secret or a request body.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import ssl
import sys
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

from stockade.docker_dispatcher.contract import (
    DEFAULT_PORT,
    ENV_API_PROXY,
    ENV_API_PROXY_CA_BUNDLE,
    ENV_API_PROXY_UPSTREAM,
    ENV_DOCKER_ENDPOINT,
    ENV_EGRESS_PROXY,
    ENV_ENVIRONMENT_ID,
    ENV_KEEP_WORKSPACES,
    ENV_LABELS,
    ENV_LISTEN_PORT,
    ENV_MAX_CONCURRENT,
    ENV_MEMORY_MIB,
    ENV_NANO_CPUS,
    ENV_PIDS_LIMIT,
    ENV_REAP_INTERVAL,
    ENV_SANDBOX_NETWORK,
    ENV_SANDBOX_RUNTIME,
    ENV_SESSION_IMAGE,
    ENV_STACK,
    ENV_TMP_MIB,
    HEALTH_PATH,
    SESSIONS_PATH,
)
from stockade.docker_dispatcher.engine import EngineClient, parse_endpoint
from stockade.docker_dispatcher.spec import (
    COMPONENT_LABEL,
    ENVIRONMENT_KEY_FILE,
    PROXY_CA_FILE,
    PROXY_COMPONENT,
    PROXY_SECRETS_DIR,
    SECRETS_DIR,
    WORK_ID_LABEL,
    WORK_SECRET_FILE,
    ApiProxyTemplate,
    SandboxTemplate,
    container_name,
    create_body,
    proxy_create_body,
    proxy_name,
    secrets_archive,
)
from stockade.docker_dispatcher.work import SessionRequest, check_base_url
from stockade.workqueue import env
from stockade.workqueue.errors import (
    EXIT_FAILED,
    EXIT_OK,
    ConfigError,
    DispatchError,
    LaunchError,
    NoSlotError,
    WorkItemError,
)
from stockade.workqueue.workitem import MAX_DOCUMENT_BYTES, Secret

log = logging.getLogger("stockade.docker_dispatcher.broker")

LIVE_STATES = frozenset({"created", "running", "restarting", "paused"})
DONE_STATES = frozenset({"exited", "dead"})
MAX_CA_BUNDLE_BYTES = 1024 * 1024

_STACK = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,511}$")
_RUNTIME = re.compile(r"^(runc|runsc)$")
_PROXY_URL = re.compile(r"^http://[A-Za-z0-9.-]{1,253}:\d{1,5}$")
_LABEL_KEY = re.compile(r"^[\w .:/=+@-]{1,128}$")
# How long a new API proxy must stay up before its sandbox starts, and the most the broker waits.
PROXY_SETTLE_SECONDS = 0.5
PROXY_START_TIMEOUT_SECONDS = 15.0
# A created container that never started is a dispatch that died half-way.
STALE_CREATED_SECONDS = 300.0


@dataclass(frozen=True)
class BrokerConfig:
    """Everything the broker reads at start-up."""

    template: SandboxTemplate
    engine_host: str
    engine_port: int
    listen_port: int
    max_concurrent: int
    environment_key: Secret
    reap_interval: float

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], secrets_dir: Path = Path(SECRETS_DIR)) -> BrokerConfig:
        host, port = parse_endpoint(env.required(environ, ENV_DOCKER_ENDPOINT))
        proxy = environ.get(ENV_EGRESS_PROXY, "").strip() or None
        if proxy is not None and not _PROXY_URL.fullmatch(proxy):
            raise ConfigError(f"{ENV_EGRESS_PROXY} is not http://host:port")
        template = SandboxTemplate(
            stack=env.matching(environ, ENV_STACK, _STACK, "a stack name"),
            image=env.matching(environ, ENV_SESSION_IMAGE, _IMAGE, "an image reference"),
            network=env.matching(environ, ENV_SANDBOX_NETWORK, _NAME, "a Docker network name"),
            runtime=env.matching(environ, ENV_SANDBOX_RUNTIME, _RUNTIME, "runc or runsc"),
            nano_cpus=env.integer(environ, ENV_NANO_CPUS, None, 10_000_000, 64_000_000_000),
            memory_bytes=env.integer(environ, ENV_MEMORY_MIB, None, 64, 1_048_576) * 1024 * 1024,
            pids_limit=env.integer(environ, ENV_PIDS_LIMIT, None, 16, 4_194_304),
            tmp_size_mib=env.integer(environ, ENV_TMP_MIB, 512, 16, 65_536),
            environment_id=env.matching(environ, ENV_ENVIRONMENT_ID, env.ENVIRONMENT_ID, "an env_... ID"),
            egress_proxy_url=proxy,
            keep_workspaces=env.boolean(environ, ENV_KEEP_WORKSPACES, True),
            labels=_labels(environ.get(ENV_LABELS, "")),
            api_proxy=_api_proxy(environ),
        )
        return cls(
            template=template,
            engine_host=host,
            engine_port=port,
            listen_port=env.integer(environ, ENV_LISTEN_PORT, DEFAULT_PORT, 1024, 65_535),
            max_concurrent=env.integer(environ, ENV_MAX_CONCURRENT, None, 1, 5000),
            environment_key=_read_secret(secrets_dir / ENVIRONMENT_KEY_FILE),
            reap_interval=float(env.integer(environ, ENV_REAP_INTERVAL, 30, 1, 3600)),
        )


def _labels(raw: str) -> dict[str, str]:
    if not raw.strip():
        return {}
    try:
        labels = json.loads(raw)
    except ValueError:
        raise ConfigError(f"{ENV_LABELS} is not JSON") from None
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and _LABEL_KEY.fullmatch(k) and isinstance(v, str) and len(v) <= 256
        for k, v in labels.items()
    ):
        raise ConfigError(f"{ENV_LABELS} is not an object of short string labels")
    return labels


def _api_proxy(environ: Mapping[str, str]) -> ApiProxyTemplate | None:
    if not env.boolean(environ, ENV_API_PROXY, True):
        return None
    try:
        upstream = check_base_url(environ.get(ENV_API_PROXY_UPSTREAM, "").strip(), ENV_API_PROXY_UPSTREAM)
    except WorkItemError as exc:
        raise ConfigError(str(exc)) from None
    bundle_path = environ.get(ENV_API_PROXY_CA_BUNDLE, "").strip()
    return ApiProxyTemplate(
        upstream=upstream or ApiProxyTemplate.upstream,
        ca_bundle=_read_ca_bundle(Path(bundle_path)) if bundle_path else None,
    )


def _read_ca_bundle(path: Path) -> bytes:
    """PEM CA certificates for the proxies to trust instead of the system roots; checked here."""
    try:
        data = path.read_bytes()[: MAX_CA_BUNDLE_BYTES + 1]
    except OSError:
        raise ConfigError(f"cannot read {ENV_API_PROXY_CA_BUNDLE} ({path})") from None
    if len(data) > MAX_CA_BUNDLE_BYTES:
        raise ConfigError(f"{ENV_API_PROXY_CA_BUNDLE} is larger than {MAX_CA_BUNDLE_BYTES} bytes")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cadata=data.decode("ascii"))
    except (ssl.SSLError, ValueError, UnicodeDecodeError):
        raise ConfigError(f"{ENV_API_PROXY_CA_BUNDLE} ({path}) is not PEM CA certificates") from None
    if not context.get_ca_certs():
        raise ConfigError(f"{ENV_API_PROXY_CA_BUNDLE} ({path}) holds no CA certificate") from None
    return data


def _read_secret(path: Path) -> Secret:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise ConfigError(f"cannot read {path} (the environment key file the fleet mounts)") from None
    value = text.strip()
    if not value:
        raise ConfigError(f"{path} is empty")
    return Secret(value)


@dataclass(frozen=True)
class Started:
    container_id: str
    name: str
    existing: bool


class Broker:
    """Starts and reaps sandboxes; every engine call goes through one lock."""

    def __init__(
        self, config: BrokerConfig, engine: EngineClient, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config
        self.engine = engine
        self.clock = clock
        self._lock = threading.Lock()

    def start_session(self, request: SessionRequest) -> Started:
        template = self.config.template
        with self._lock:
            live = self._reap_locked()
            for container in live:
                if _labels_of(container).get(WORK_ID_LABEL) == request.work_id:
                    return Started(str(container.get("Id")), container_name(template, request), existing=True)
            if len(live) >= self.config.max_concurrent:
                raise NoSlotError(f"{len(live)} of {self.config.max_concurrent} sandboxes are live")
            made: list[str] = []
            try:
                proxy_id = self._start_proxy(request, made) if template.api_proxy is not None else None
                name = container_name(template, request)
                container_id = self.engine.create(name, create_body(template, request, proxy_id))
                made.append(container_id)
                files = [(WORK_SECRET_FILE, request.secret)]
                if proxy_id is None:
                    files.append((ENVIRONMENT_KEY_FILE, self.config.environment_key))
                self.engine.put_archive(container_id, SECRETS_DIR, secrets_archive(*files))
                self.engine.start(container_id)
            except DispatchError:
                # Nothing half-made stays behind; the anonymous secrets volumes go with it.
                for made_id in reversed(made):
                    with suppress(DispatchError):
                        self.engine.remove(made_id, volumes=True)
                raise
            return Started(container_id, name, existing=False)

    def _start_proxy(self, request: SessionRequest, made: list[str]) -> str:
        """The session's API proxy, running with the key file, before its sandbox exists."""
        template = self.config.template
        proxy_id = self.engine.create(proxy_name(template, request), proxy_create_body(template, request))
        made.append(proxy_id)
        files = [(ENVIRONMENT_KEY_FILE, self.config.environment_key)]
        if template.api_proxy is not None and template.api_proxy.ca_bundle is not None:
            files.append((PROXY_CA_FILE, Secret(template.api_proxy.ca_bundle.decode("ascii"))))
        self.engine.put_archive(proxy_id, PROXY_SECRETS_DIR, secrets_archive(*files))
        self.engine.start(proxy_id)
        self._wait_until_settled(proxy_id)
        return proxy_id

    def _wait_until_settled(self, proxy_id: str) -> None:
        """Start the sandbox only behind a proxy that stayed up: one that refuses its configuration
        exits at once, and a sandbox behind it could reach nothing (ECS has the same guard as a
        health-check dependency)."""
        deadline = time.monotonic() + PROXY_START_TIMEOUT_SECONDS
        running_since: float | None = None
        while True:
            state = self.engine.inspect(proxy_id).get("State") or {}
            if not state.get("Running"):
                if state.get("Status") in DONE_STATES:
                    raise LaunchError(
                        f"the session's API proxy exited with code {state.get('ExitCode')} at start; "
                        "its log names the setting it refused"
                    )
                running_since = None
            elif running_since is None:
                running_since = time.monotonic()
            elif time.monotonic() - running_since >= PROXY_SETTLE_SECONDS:
                return
            if time.monotonic() > deadline:
                raise LaunchError("the session's API proxy did not start in time")
            time.sleep(0.1)

    def reap(self) -> int:
        """Remove finished sandboxes and their proxies; returns how many sandboxes are still live."""
        with self._lock:
            return len(self._reap_locked())

    def _reap_locked(self) -> list[dict[str, Any]]:
        """Live sandboxes, after removing finished ones, stale half-made ones and orphaned proxies."""
        live: list[dict[str, Any]] = []
        proxies: list[dict[str, Any]] = []
        now = self.clock()
        for container in self.engine.list_containers(self.config.template.identity_labels()):
            state = str(container.get("State", "")).lower()
            container_id = str(container.get("Id", ""))
            stale = state == "created" and now - _created(container) > STALE_CREATED_SECONDS
            if state in DONE_STATES or stale:
                self.engine.remove(container_id, volumes=True)
                _event("sandbox.removed", container=container_id[:12], state=state)
            elif _labels_of(container).get(COMPONENT_LABEL) == PROXY_COMPONENT:
                proxies.append(container)
            elif state in LIVE_STATES:
                live.append(container)
        sessions = {_labels_of(c).get(WORK_ID_LABEL) for c in live}
        for proxy in proxies:
            # Under the lock no start is half-way, so a proxy without a live sandbox is an orphan.
            if _labels_of(proxy).get(WORK_ID_LABEL) not in sessions:
                proxy_id = str(proxy.get("Id", ""))
                self.engine.remove(proxy_id, volumes=True)
                _event("proxy.removed", container=proxy_id[:12])
        return live


def _labels_of(container: Mapping[str, Any]) -> dict[str, str]:
    labels = container.get("Labels")
    return labels if isinstance(labels, dict) else {}


def _created(container: Mapping[str, Any]) -> float:
    created = container.get("Created")
    return float(created) if isinstance(created, int | float) else 0.0


def _event(event: str, **fields: object) -> None:
    log.info(json.dumps({"event": event, **fields}, sort_keys=True))


class _Handler(BaseHTTPRequestHandler):
    broker: Broker
    server_version = "stockade-dispatch-broker"
    sys_version = ""

    def do_GET(self) -> None:
        if self.path == HEALTH_PATH:
            self._answer(HTTPStatus.OK, {"ok": True})
        else:
            self._answer(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def do_POST(self) -> None:
        if self.path != SESSIONS_PATH:
            self._answer(HTTPStatus.NOT_FOUND, {"error": "not found"})
            return
        try:
            request = SessionRequest.from_json(self._body())
            started = self.broker.start_session(request)
        except WorkItemError as exc:
            self._answer(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
        except NoSlotError as exc:
            self._answer(HTTPStatus.TOO_MANY_REQUESTS, {"error": str(exc)}, retry_after=5)
        except DispatchError as exc:
            _event("session.failed", error=str(exc))
            self._answer(HTTPStatus.BAD_GATEWAY, {"error": str(exc)})
        except Exception as exc:  # a bug: answer, log the type only, keep serving
            _event("session.failed", error=type(exc).__name__)
            self._answer(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error"})
        else:
            _event(
                "session.existing" if started.existing else "session.started",
                workId=request.work_id,
                sessionId=request.session_id,
                container=started.name,
            )
            status = HTTPStatus.OK if started.existing else HTTPStatus.CREATED
            self._answer(status, {"container": started.name, "existing": started.existing})

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise WorkItemError("send the request with a Content-Length")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise WorkItemError("the request has no Content-Length") from None
        if not 0 < length <= MAX_DOCUMENT_BYTES:
            raise WorkItemError(f"the request body must be 1 to {MAX_DOCUMENT_BYTES} bytes")
        return self.rfile.read(length)

    def _answer(self, status: HTTPStatus, body: dict[str, Any], retry_after: int | None = None) -> None:
        payload = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if retry_after is not None:
            self.send_header("Retry-After", str(retry_after))
        self.end_headers()
        self.wfile.write(payload)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The default writes the raw request line; the method, path and status are enough.
        _event("http", method=self.command, path=self.path, status=str(code))

    def log_message(self, format: str, *args: Any) -> None:
        _event("http.error", detail=format % args)


def make_server(broker: Broker, host: str, port: int) -> ThreadingHTTPServer:
    handler = type("Handler", (_Handler,), {"broker": broker})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def reap_forever(broker: Broker, stop: threading.Event, interval: float) -> None:
    while not stop.wait(interval):
        try:
            broker.reap()
        except DispatchError as exc:
            _event("reap.failed", error=str(exc))


def main(environ: Mapping[str, str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        config = BrokerConfig.from_environ(os.environ if environ is None else environ)
    except DispatchError as exc:
        _event("config.invalid", error=str(exc))
        return exc.exit_code
    broker = Broker(config, EngineClient(config.engine_host, config.engine_port))
    # Every interface of the container: it sits only on the internal dispatch network.
    server = make_server(broker, "0.0.0.0", config.listen_port)  # noqa: S104
    stop = threading.Event()
    reaper = threading.Thread(target=reap_forever, args=(broker, stop, config.reap_interval), daemon=True)

    def shutdown(signum: int, frame: FrameType | None) -> None:
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    reaper.start()
    _event("broker.listening", port=config.listen_port, stack=config.template.stack)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    # Sandboxes keep running: they belong to their sessions, not to this process.
    _event("broker.stopped")
    return EXIT_OK if stop.is_set() else EXIT_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
