"""The per-session API proxy, in-process, against the stand-in vendor API over TLS on 127.0.0.1.

The stand-in (tests/e2e/standins/vendor_api.py) is not the vendor's service: it implements the
documented queue endpoints and records the credential each request presented.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import select
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from stockade.apiproxy.config import ProxyConfig
from stockade.apiproxy.routes import Credential, Scope, classify
from stockade.apiproxy.server import ProxyHandler, make_server
from stockade.workqueue.errors import ConfigError
from tests.e2e.standins.vendor_api import Item, Queue
from tests.e2e.standins.vendor_api import make_server as make_vendor

ENV_ID = "env_test0001"
KEY = "sk-ant-oat01-the-real-environment-key"
PLACEHOLDER = "sk-ant-placeholder"


# -- a test CA and a server certificate for 127.0.0.1 ---------------------------------------
def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_ca(directory: Path, label: str) -> tuple[Path, Path, Path]:
    """A CA (written as `label`-ca.pem) and a certificate for localhost/127.0.0.1 it signed."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{label} test CA"))
        .issuer_name(_name(f"{label} test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress

    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = directory / f"{label}-ca.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path = directory / f"{label}-cert.pem"
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_path = directory / f"{label}-key.pem"
    key_path.write_bytes(_pem_key(leaf_key))
    return ca_path, cert_path, key_path


# -- a CONNECT-only egress proxy standing in for the stack's egress proxy -----------------------
class ConnectProxy:
    """Records every CONNECT target and relays bytes; a stand-in, not the stack's egress proxy."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.targets: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 8192:
                data = client.recv(1024)
                if not data:
                    return
                head += data
            target = head.split(b" ")[1].decode()
            self.targets.append(target)
            host, port = target.rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=5) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                for _ in range(10_000):  # bounded relay loop
                    ready, _, _ = select.select([client, upstream], [], [], 5)
                    if not ready:
                        return
                    for source in ready:
                        data = source.recv(65536)
                        if not data:
                            return
                        (upstream if source is client else client).sendall(data)

    def close(self) -> None:
        self.listener.close()


@dataclass
class Rig:
    queue: Queue
    item: Item
    other: Item
    proxy_port: int
    metrics: Any
    tmp: Path

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.proxy_port, timeout=10)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            sent = {"Authorization": f"Bearer {PLACEHOLDER}", "Content-Type": "application/json"}
            sent.update(headers or {})
            connection.request(method, path, body=payload, headers=sent)
            response = connection.getresponse()
            raw = response.read()
            return response.status, (json.loads(raw) if raw else None)
        finally:
            connection.close()

    def vendor_saw(self, suffix: str) -> list[Any]:
        with self.queue.lock:
            return [r for r in self.queue.records if r.path.endswith(suffix)]


def _environ(item: Item, tmp: Path, upstream_port: int, ca: Path, **extra: str) -> dict[str, str]:
    key_file = tmp / "environment-key"
    key_file.write_text(KEY + "\n")
    return {
        "ANTHROPIC_ENVIRONMENT_ID": ENV_ID,
        "ANTHROPIC_WORK_ID": item.id,
        "ANTHROPIC_SESSION_ID": item.session_id,
        "STOCKADE_API_PROXY_UPSTREAM": f"https://localhost:{upstream_port}",
        "STOCKADE_API_PROXY_CA_BUNDLE": str(ca),
        "STOCKADE_API_PROXY_KEY_FILE": str(key_file),
        "STOCKADE_API_PROXY_PORT": "8790",
        **extra,
    }


@pytest.fixture
def vendor(tmp_path: Path) -> Iterator[tuple[Queue, int, Path]]:
    ca, cert, key = make_ca(tmp_path, "vendor")
    server, queue = make_vendor(
        "127.0.0.1",
        0,
        environment_id=ENV_ID,
        environment_key=KEY,
        control_token="control",
        certfile=str(cert),
        keyfile=str(key),
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield queue, server.server_address[1], ca
    server.shutdown()
    server.server_close()


def _rig(vendor: tuple[Queue, int, Path], tmp_path: Path, **extra: str) -> Iterator[Rig]:
    queue, port, ca = vendor
    item = queue.enqueue({"task": "mine"})
    other = queue.enqueue({"task": "theirs"})
    queue.poll(None)  # the dispatcher claimed ours
    config = ProxyConfig.from_environ(_environ(item, tmp_path, port, ca, **extra))
    server, metrics = make_server(config, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Rig(queue, item, other, server.server_address[1], metrics, tmp_path)
    server.shutdown()
    server.server_close()


@pytest.fixture
def rig(vendor: tuple[Queue, int, Path], tmp_path: Path) -> Iterator[Rig]:
    yield from _rig(vendor, tmp_path)


# -- the allowlist -------------------------------------------------------------------------
SCOPE = Scope(ENV_ID, "work_mine", "session_mine")


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", f"/v1/environments/{ENV_ID}/work/work_mine/ack", "own-ack"),
        ("POST", f"/v1/environments/{ENV_ID}/work/work_mine/heartbeat", "own-heartbeat"),
        ("POST", f"/v1/environments/{ENV_ID}/work/work_mine/stop", "own-stop"),
        ("POST", f"/v1/environments/{ENV_ID}/work/work_mine", "own-work-item"),
        ("GET", f"/v1/environments/{ENV_ID}/work/work_mine", "own-work-item"),
        ("GET", f"/v1/environments/{ENV_ID}", "own-environment"),
        ("GET", "/v1/sessions/session_mine", "own-session"),
        ("POST", "/v1/sessions/session_mine/events", "own-session"),
        ("GET", "/v1/skills/skill_1/versions/2/content", "skills"),
        ("PUT", "/v1/memory_stores/mem_1/files/notes.md", "memory-store"),
    ],
)
def test_the_session_s_own_requests_are_allowed(method: str, path: str, expected: str) -> None:
    verdict = classify(method, path, SCOPE)
    assert verdict.allowed and verdict.reason == expected


@pytest.mark.parametrize(
    ("method", "path", "reason"),
    [
        ("GET", f"/v1/environments/{ENV_ID}/work/poll", "poll"),
        ("GET", f"/v1/environments/{ENV_ID}/work", "work-list"),
        ("GET", f"/v1/environments/{ENV_ID}/work/", "work-list"),
        ("GET", f"/v1/environments/{ENV_ID}/work/stats", "stats"),
        ("POST", f"/v1/environments/{ENV_ID}/work/work_other/heartbeat", "other-work-item"),
        ("POST", f"/v1/environments/{ENV_ID}/work/work_other/stop", "other-work-item"),
        ("GET", f"/v1/environments/{ENV_ID}/work/work_other", "other-work-item"),
        ("POST", "/v1/environments/env_other001/work/work_mine/ack", "other-environment"),
        ("GET", "/v1/environments", "environment-list"),
        ("POST", f"/v1/environments/{ENV_ID}", "method"),
        ("GET", "/v1/sessions/session_other", "other-session"),
        ("GET", "/v1/sessions", "session-list"),
        ("DELETE", "/v1/sessions/session_mine", "method"),
        ("GET", f"/v1/environments/{ENV_ID}/work/work_mine/../poll", "malformed-path"),
        ("GET", f"/v1/environments/{ENV_ID}/work/%70oll", "malformed-path"),
        ("GET", "/v1/environments//work/poll", "malformed-path"),
        ("POST", "/v1/skills/skill_1", "method"),
        ("GET", "/v1/messages", "unknown-path"),
        ("POST", "/v1/organizations/keys", "unknown-path"),
        ("GET", "/", "malformed-path"),
        ("POST", f"/v1/environments/{ENV_ID}/work/work_mine/heartbeat/x", "unknown-path"),
    ],
)
def test_everything_else_is_refused(method: str, path: str, reason: str) -> None:
    verdict = classify(method, path, SCOPE)
    assert not verdict.allowed and verdict.reason == reason


def test_memory_store_routes_keep_the_sandbox_s_own_credential() -> None:
    assert classify("GET", "/v1/memory_stores/m/files", SCOPE).credential is Credential.SANDBOX_OWN
    assert classify("GET", "/v1/sessions/session_mine", SCOPE).credential is Credential.ENVIRONMENT_KEY


# -- end to end through the proxy (in-process, loopback) --------------------------------------
def test_own_work_is_forwarded_with_the_real_key_only(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    base = f"/v1/environments/{ENV_ID}/work/{rig.item.id}"
    assert rig.call("POST", f"{base}/ack")[0] == 200
    status, beat = rig.call(
        "POST", f"{base}/heartbeat?expected_last_heartbeat=NO_HEARTBEAT&desired_ttl_seconds=30"
    )
    assert status == 200 and beat["state"] == "active"
    # The vendor's 412 rule passes through unchanged.
    assert rig.call("POST", f"{base}/heartbeat?expected_last_heartbeat=NO_HEARTBEAT")[0] == 412
    status, session = rig.call(
        "GET", f"/v1/sessions/{rig.item.session_id}", headers={"x-api-key": PLACEHOLDER}
    )
    assert status == 200 and session["metadata"] == {"task": "mine"}
    assert rig.call("POST", base, {"metadata": {"progress": "half"}})[0] == 200
    assert rig.call("POST", f"{base}/stop", {"force": False})[0] == 200
    with rig.queue.lock:
        seen = [(r.path, r.credential) for r in rig.queue.records if "/_standin" not in r.path]
    assert len(seen) == 6 and all(credential == KEY for _, credential in seen)
    assert rig.metrics.forwarded == 6 and not rig.metrics.denied
    assert KEY not in caplog.text and PLACEHOLDER not in caplog.text


def test_hostile_requests_get_403_a_log_line_and_a_count_and_never_reach_the_vendor(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    env = f"/v1/environments/{ENV_ID}"
    attempts = [
        ("GET", f"{env}/work/poll?block_ms=999", "poll"),
        ("GET", f"{env}/work", "work-list"),
        ("GET", f"{env}/work/stats", "stats"),
        ("POST", f"{env}/work/{rig.other.id}/ack", "other-work-item"),
        ("POST", f"{env}/work/{rig.other.id}/stop", "other-work-item"),
        ("GET", f"/v1/sessions/{rig.other.session_id}", "other-session"),
        ("GET", "/v1/environments/env_elsewhere1/work/poll", "other-environment"),
    ]
    for method, path, reason in attempts:
        status, body = rig.call(method, path)
        assert status == 403, path
        assert reason in body["error"]["message"]
    assert rig.vendor_saw("") == []
    assert sum(rig.metrics.denied.values()) == len(attempts)
    assert rig.metrics.denied["other-work-item"] == 2
    denied = [json.loads(r.getMessage()) for r in caplog.records if '"proxy.denied"' in r.getMessage()]
    assert [d["reason"] for d in denied] == [a[2] for a in attempts]
    assert all("block_ms" not in d["path"] for d in denied)  # queries never logged
    with rig.queue.lock:
        assert rig.queue.items[rig.other.id].state == "queued"  # the other session is untouched


def test_a_fragment_cannot_smuggle_another_path_past_the_check(rig: Rig) -> None:
    env = f"/v1/environments/{ENV_ID}"
    # The checked path is the session's own; what follows `#` would name the queue upstream.
    smuggled = f"/v1/sessions/{rig.item.session_id}#/../..{env}/work/poll"
    status, _ = rig.call("GET", smuggled)
    assert status == 403
    assert rig.vendor_saw("/poll") == [] and rig.vendor_saw(rig.item.session_id) == []


def test_a_non_ascii_content_length_is_refused_cleanly(rig: Rig) -> None:
    status, body = rig.call("POST", f"/v1/sessions/{rig.item.session_id}", headers={"Content-Length": "²"})
    assert status == 400 and "Content-Length" in body["error"]["message"]


def test_memory_store_calls_carry_the_sandbox_s_own_credential_never_the_key(rig: Rig) -> None:
    status, _ = rig.call("GET", "/v1/memory_stores/mem_1/files", headers={"Authorization": "Bearer wsec_own"})
    # The stand-in accepts only the environment key, so it answers 401: what matters is what it got.
    assert status == 401
    (record,) = rig.vendor_saw("/v1/memory_stores/mem_1/files")
    assert record.credential == "wsec_own"


def test_oversized_and_chunked_bodies_are_refused(rig: Rig) -> None:
    path = f"/v1/sessions/{rig.item.session_id}/events"
    connection = http.client.HTTPConnection("127.0.0.1", rig.proxy_port, timeout=10)
    connection.putrequest("POST", path)
    connection.putheader("Content-Length", str(64 * 1024 * 1024))
    connection.endheaders()
    assert connection.getresponse().status == 413
    connection.close()
    connection = http.client.HTTPConnection("127.0.0.1", rig.proxy_port, timeout=10)
    connection.putrequest("POST", path)
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()  # the proxy answers from the headers, before any body
    assert connection.getresponse().status == 411
    connection.close()
    assert rig.vendor_saw("/events") == []


def test_a_certificate_from_another_ca_is_refused(vendor: tuple[Queue, int, Path], tmp_path: Path) -> None:
    queue, port, _ = vendor
    wrong_ca, _, _ = make_ca(tmp_path, "stranger")
    item = queue.enqueue()
    config = ProxyConfig.from_environ(_environ(item, tmp_path, port, wrong_ca))
    server, metrics = make_server(config, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
        connection.request("GET", f"/v1/sessions/{item.session_id}")
        response = connection.getresponse()
        assert response.status == 502
        assert b"certificate" in response.read()
        connection.close()
    finally:
        server.shutdown()
        server.server_close()
    assert metrics.forwarded == 0
    with queue.lock:
        assert queue.records == []


def test_the_egress_proxy_carries_the_tls_tunnel(vendor: tuple[Queue, int, Path], tmp_path: Path) -> None:
    egress = ConnectProxy()
    try:
        rig = next(_rig(vendor, tmp_path, HTTPS_PROXY=f"http://127.0.0.1:{egress.port}"))
        status, _ = rig.call("GET", f"/v1/sessions/{rig.item.session_id}")
        assert status == 200
        assert egress.targets == [f"localhost:{vendor[1]}"]
    finally:
        egress.close()


def test_no_proxy_naming_the_upstream_bypasses_the_egress_proxy(
    vendor: tuple[Queue, int, Path], tmp_path: Path
) -> None:
    item = vendor[0].enqueue()
    environ = _environ(
        item, tmp_path, vendor[1], vendor[2], HTTPS_PROXY="http://127.0.0.1:9", NO_PROXY="localhost"
    )
    assert ProxyConfig.from_environ(environ).egress_proxy is None


# -- configuration ------------------------------------------------------------------------
def _base(tmp_path: Path, ca: Path) -> dict[str, str]:
    return {
        "ANTHROPIC_ENVIRONMENT_ID": ENV_ID,
        "ANTHROPIC_WORK_ID": "work_1",
        "ANTHROPIC_SESSION_ID": "session_1",
        "ANTHROPIC_ENVIRONMENT_KEY": KEY,
        "STOCKADE_API_PROXY_CA_BUNDLE": str(ca),
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"STOCKADE_API_PROXY_UPSTREAM": "http://api.anthropic.com"},
            "STOCKADE_API_PROXY_UPSTREAM is not an https:// URL",
        ),
        ({"STOCKADE_API_PROXY_UPSTREAM": "https://u:p@api.anthropic.com"}, "STOCKADE_API_PROXY_UPSTREAM"),
        ({"STOCKADE_API_PROXY_UPSTREAM": "https://api.anthropic.com/v1"}, "STOCKADE_API_PROXY_UPSTREAM"),
        ({"STOCKADE_API_PROXY_CA_BUNDLE": "relative.pem"}, "STOCKADE_API_PROXY_CA_BUNDLE is not an absolute"),
        ({"ANTHROPIC_ENVIRONMENT_KEY": ""}, "no environment key"),
        ({"ANTHROPIC_WORK_ID": "work/../x"}, "ANTHROPIC_WORK_ID"),
        ({"STOCKADE_API_PROXY_AUTH_HEADER": "cookie"}, "STOCKADE_API_PROXY_AUTH_HEADER"),
        ({"STOCKADE_API_PROXY_WORKSPACE_ID": "ws id"}, "STOCKADE_API_PROXY_WORKSPACE_ID"),
        ({"HTTPS_PROXY": "socks5://proxy:1080"}, "HTTPS_PROXY"),
        ({"STOCKADE_API_PROXY_MAX_BODY_BYTES": "10"}, "STOCKADE_API_PROXY_MAX_BODY_BYTES"),
    ],
)
def test_bad_configuration_is_named(tmp_path: Path, overrides: dict[str, str], message: str) -> None:
    ca, _, _ = make_ca(tmp_path, "cfg")
    environ = _base(tmp_path, ca) | overrides
    with pytest.raises(ConfigError, match=message.replace("/", ".")) as raised:
        ProxyConfig.from_environ(environ)
    assert KEY not in str(raised.value)


def test_a_ca_bundle_without_a_certificate_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match="STOCKADE_API_PROXY_CA_BUNDLE holds no"):
        ProxyConfig.from_environ(_base(tmp_path, bogus))


def test_the_key_leaves_the_environment_once_read(tmp_path: Path) -> None:
    ca, _, _ = make_ca(tmp_path, "cfg")
    environ = _base(tmp_path, ca)
    config = ProxyConfig.from_environ(environ)
    assert "ANTHROPIC_ENVIRONMENT_KEY" not in environ
    assert config.key.reveal() == KEY and KEY not in repr(config)


def test_claude_platform_on_aws_headers(vendor: tuple[Queue, int, Path], tmp_path: Path) -> None:
    """Workspace header added, x-api-key carrying the key; the sandbox cannot choose a workspace."""
    rig = next(
        _rig(
            vendor,
            tmp_path,
            STOCKADE_API_PROXY_AUTH_HEADER="x-api-key",
            STOCKADE_API_PROXY_WORKSPACE_ID="wrkspc_1",
        )
    )
    seen: list[dict[str, str]] = []
    # The stand-in records credentials, not headers: watch what the proxy builds.
    original = ProxyHandler._upstream_headers

    def spy(self: ProxyHandler, verdict: Any) -> dict[str, str]:
        headers = original(self, verdict)
        seen.append(headers)
        return headers

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ProxyHandler, "_upstream_headers", spy)
        status, _ = rig.call(
            "GET", f"/v1/sessions/{rig.item.session_id}", headers={"anthropic-workspace-id": "wrkspc_evil"}
        )
    assert status == 200
    (record,) = rig.vendor_saw(f"/v1/sessions/{rig.item.session_id}")
    assert record.credential == KEY
    (headers,) = seen
    assert headers["anthropic-workspace-id"] == "wrkspc_1" and headers["x-api-key"] == KEY
    assert "Authorization" not in headers and "authorization" not in headers


# -- the wiring: what each target gives the proxy is a configuration it accepts ---------------
def test_the_docker_broker_s_proxy_container_configures_the_proxy(tmp_path: Path) -> None:
    from stockade.docker_dispatcher.spec import (
        ENVIRONMENT_KEY_FILE,
        PROXY_CA_FILE,
        PROXY_SECRETS_DIR,
        ApiProxyTemplate,
        SandboxTemplate,
        proxy_create_body,
    )
    from stockade.docker_dispatcher.work import SessionRequest
    from stockade.workqueue.workitem import Secret

    ca, _, _ = make_ca(tmp_path, "wiring")
    template = SandboxTemplate(
        stack="local",
        image="stockade-session:local",
        network="sandbox",
        runtime="runsc",
        nano_cpus=1_000_000_000,
        memory_bytes=1 << 30,
        pids_limit=256,
        tmp_size_mib=64,
        environment_id=ENV_ID,
        egress_proxy_url="http://egress-proxy:3128",
        keep_workspaces=False,
        api_proxy=ApiProxyTemplate(ca_bundle=ca.read_bytes()),
    )
    body = proxy_create_body(template, SessionRequest("work_1", "session_1", Secret("wsec")))
    environ = dict(e.split("=", 1) for e in body["Env"])
    # The container's files, where the broker uploads them, stand in under tmp_path.
    (tmp_path / ENVIRONMENT_KEY_FILE).write_text(KEY + "\n")
    (tmp_path / PROXY_CA_FILE).write_bytes(ca.read_bytes())
    for name, value in environ.items():
        environ[name] = value.replace(PROXY_SECRETS_DIR, str(tmp_path))
    config = ProxyConfig.from_environ(environ)
    assert config.scope == Scope(ENV_ID, "work_1", "session_1")
    assert (config.upstream.host, config.upstream.port) == ("api.anthropic.com", 443)
    assert config.egress_proxy is not None and config.egress_proxy.host == "egress-proxy"
    assert config.key.reveal() == KEY and config.stack == "local"


def test_the_aws_session_task_and_run_task_overrides_configure_the_proxy(tmp_path: Path) -> None:
    from stockade.aws.fleet.tasks import API_PROXY_CONTAINER, FleetEnvironment, api_proxy_container
    from stockade.dispatcher.launch import TaskTarget, run_task_request
    from stockade.workqueue.workitem import Secret, WorkItem

    container = api_proxy_container(FleetEnvironment("dev", ENV_ID, "arn:aws:secretsmanager:x"), "image")
    target = TaskTarget("cluster", "taskdef:1", "session", ("subnet-1",), ("sg-1",), API_PROXY_CONTAINER)
    item = WorkItem("work_1", "session_1", Secret("wsec"), base_url="https://vendor.example")
    request = run_task_request(target, item, "arn:aws:secretsmanager:secret")
    (override,) = [o for o in request["overrides"]["containerOverrides"] if o["name"] == API_PROXY_CONTAINER]
    environ = {**container.environment, **{e["name"]: e["value"] for e in override["environment"]}}
    environ["ANTHROPIC_ENVIRONMENT_KEY"] = KEY  # what ECS injects from the container's `secrets`
    assert set(container.secrets) == {"ANTHROPIC_ENVIRONMENT_KEY"}
    config = ProxyConfig.from_environ(environ)
    assert config.scope == Scope(ENV_ID, "work_1", "session_1")
    assert config.upstream.host == "vendor.example" and config.stack == "dev"


def test_a_chunked_event_stream_arrives_whole_and_in_order(tmp_path: Path) -> None:
    """Server-sent events without a Content-Length (as a session's event stream may be) flow
    through: the proxy relays the decoded body and closes, so the client reads to the end."""
    import ssl
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    ca, cert, key = make_ca(tmp_path, "events")
    events = [f'event: message\ndata: {{"n": {n}}}\n\n'.encode() for n in range(5)]

    class Events(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for event in events:
                self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")

    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Events)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    upstream.socket = context.wrap_socket(upstream.socket, server_side=True)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    item = Item(id="work_1", session_id="session_1", secret="wsec")
    config = ProxyConfig.from_environ(_environ(item, tmp_path, upstream.server_address[1], ca))
    server, _ = make_server(config, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
        connection.request("GET", "/v1/sessions/session_1/events/stream")
        response = connection.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Type") == "text/event-stream"
        assert response.getheader("Transfer-Encoding") is None
        assert response.read() == b"".join(events)
        connection.close()
    finally:
        for running in (server, upstream):
            running.shutdown()
            running.server_close()


@pytest.mark.parametrize("url", ["https://x.example/v1", "https://x.example:99999", "https://x.example?a=b"])
def test_the_broker_refuses_every_base_url_the_proxy_would_refuse(url: str) -> None:
    """One checker on both sides: a base URL the broker accepts never stops the proxy after the
    sandbox has started (it would leave a sandbox with nothing to talk to)."""
    from stockade.apiproxy.config import parse_upstream
    from stockade.docker_dispatcher.work import check_base_url
    from stockade.workqueue.errors import ConfigError, WorkItemError

    with pytest.raises(WorkItemError):
        check_base_url(url, "baseUrl")
    with pytest.raises(ConfigError):
        parse_upstream(url)
    assert check_base_url("https://x.example:8443", "baseUrl") == "https://x.example:8443"
    assert parse_upstream("https://x.example:8443").port == 8443


def test_on_sigterm_the_proxy_drains_until_its_sandbox_is_quiet() -> None:
    """Both containers get SIGTERM together on a Docker host; the final flush still needs the proxy."""
    import threading
    import time

    from stockade.apiproxy.server import Activity, drain_then_stop

    activity = Activity()
    stopped = threading.Event()
    activity.begin()  # a flush in flight when the signal arrives
    drainer = threading.Thread(
        target=drain_then_stop, args=(activity, stopped.set), kwargs={"idle": 0.5, "limit": 10}
    )
    started = time.monotonic()
    drainer.start()
    time.sleep(1.0)
    assert not stopped.is_set(), "never while a request is in flight"
    activity.end()
    drainer.join(5)
    assert stopped.is_set()
    assert 1.4 <= time.monotonic() - started < 5, "stops once quiet for the idle window"

    capped = Activity()
    capped.begin()
    started = time.monotonic()
    drain_then_stop(capped, lambda: None, idle=60, limit=0.5)
    assert time.monotonic() - started < 2, "the cap holds even if the sandbox never goes quiet"
