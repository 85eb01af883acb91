"""The proxy's configuration: the environment its container gets (docs/sandbox-fleet.md lists it).

Errors name the variable and the expected shape, never the value (stockade.workqueue.env).
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

from stockade.apiproxy.routes import Scope
from stockade.workqueue import env
from stockade.workqueue.errors import ConfigError
from stockade.workqueue.proxy_contract import DEFAULT_UPSTREAM, PROXY_PORT, split_upstream
from stockade.workqueue.workitem import SAFE_ID, Secret

ENV_PORT = "STOCKADE_API_PROXY_PORT"
ENV_UPSTREAM = "STOCKADE_API_PROXY_UPSTREAM"
ENV_CA_BUNDLE = "STOCKADE_API_PROXY_CA_BUNDLE"
ENV_KEY_FILE = "STOCKADE_API_PROXY_KEY_FILE"
ENV_AUTH_HEADER = "STOCKADE_API_PROXY_AUTH_HEADER"
ENV_WORKSPACE_ID = "STOCKADE_API_PROXY_WORKSPACE_ID"
ENV_MAX_BODY = "STOCKADE_API_PROXY_MAX_BODY_BYTES"
ENV_TIMEOUT = "STOCKADE_API_PROXY_TIMEOUT_SECONDS"
ENV_STACK = "STOCKADE_STACK"
ENV_KEY = "ANTHROPIC_ENVIRONMENT_KEY"

DEFAULT_PORT = PROXY_PORT
DEFAULT_MAX_BODY = 32 * 1024 * 1024
AUTH_HEADERS = ("authorization", "x-api-key")
_WORKSPACE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_PROXY = re.compile(r"^http://(?P<host>[A-Za-z0-9.-]{1,253}):(?P<port>\d{1,5})/?$")


@dataclass(frozen=True)
class Upstream:
    host: str
    port: int


@dataclass(frozen=True)
class ProxyConfig:
    scope: Scope
    port: int
    upstream: Upstream
    tls: ssl.SSLContext
    key: Secret
    auth_header: str
    workspace_id: str | None
    egress_proxy: Upstream | None
    max_body_bytes: int
    timeout_seconds: float
    stack: str

    @classmethod
    def from_environ(cls, environ: MutableMapping[str, str]) -> ProxyConfig:
        """Reads the configuration; removes the key from `environ` once read (no child sees it)."""
        upstream = parse_upstream(environ.get(ENV_UPSTREAM, "").strip() or DEFAULT_UPSTREAM)
        auth_header = environ.get(ENV_AUTH_HEADER, "").strip().lower() or AUTH_HEADERS[0]
        if auth_header not in AUTH_HEADERS:
            raise ConfigError(f"{ENV_AUTH_HEADER} is not one of {', '.join(AUTH_HEADERS)}")
        workspace = environ.get(ENV_WORKSPACE_ID, "").strip() or None
        if workspace is not None and not _WORKSPACE.fullmatch(workspace):
            raise ConfigError(f"{ENV_WORKSPACE_ID} is not a workspace ID ([A-Za-z0-9_-], 1-128)")
        config = cls(
            scope=Scope(
                environment_id=env.matching(
                    environ, "ANTHROPIC_ENVIRONMENT_ID", env.ENVIRONMENT_ID, "an env_... ID"
                ),
                work_id=env.matching(environ, "ANTHROPIC_WORK_ID", SAFE_ID, "a work item ID"),
                session_id=env.matching(environ, "ANTHROPIC_SESSION_ID", SAFE_ID, "a session ID"),
            ),
            port=env.integer(environ, ENV_PORT, DEFAULT_PORT, 1024, 65_535),
            upstream=upstream,
            tls=tls_context(environ.get(ENV_CA_BUNDLE, "").strip() or None),
            key=read_key(environ),
            auth_header=auth_header,
            workspace_id=workspace,
            egress_proxy=egress_proxy(environ, upstream.host),
            max_body_bytes=env.integer(environ, ENV_MAX_BODY, DEFAULT_MAX_BODY, 1024, 256 * 1024 * 1024),
            timeout_seconds=env.seconds(environ, ENV_TIMEOUT, 300.0, 1.0, 3600.0),
            stack=environ.get(ENV_STACK, "").strip() or "-",
        )
        environ.pop(ENV_KEY, None)
        return config


def parse_upstream(value: str) -> Upstream:
    """The vendor API's base URL: https, a host, an optional port, nothing else."""
    try:
        host, port = split_upstream(value)
    except ValueError as exc:
        raise ConfigError(f"{ENV_UPSTREAM} {exc}") from None
    return Upstream(host, port)


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Certificate and hostname checking always on; `ca_bundle` replaces the system roots."""
    if ca_bundle is None:
        return ssl.create_default_context()
    path = Path(ca_bundle)
    if not path.is_absolute() or not path.is_file():
        raise ConfigError(f"{ENV_CA_BUNDLE} is not an absolute path to a readable PEM file")
    # PROTOCOL_TLS_CLIENT checks certificates and hostnames; only the bundle's CAs are trusted.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_verify_locations(cafile=str(path))
    except (ssl.SSLError, OSError, ValueError):
        raise ConfigError(f"{ENV_CA_BUNDLE} holds no PEM CA certificate") from None
    if not context.get_ca_certs():
        raise ConfigError(f"{ENV_CA_BUNDLE} holds no CA certificate (only leaf certificates?)")
    return context


def read_key(environ: Mapping[str, str]) -> Secret:
    """The environment key: from STOCKADE_API_PROXY_KEY_FILE (Docker) or the ECS secret (AWS)."""
    key_file = environ.get(ENV_KEY_FILE, "").strip()
    if key_file:
        try:
            value = Path(key_file).read_text(encoding="utf-8").strip()
        except OSError:
            raise ConfigError(f"cannot read {ENV_KEY_FILE} (the key file the broker uploads)") from None
    else:
        value = environ.get(ENV_KEY, "").strip()
    if not value:
        raise ConfigError(f"no environment key: set {ENV_KEY_FILE} or {ENV_KEY}")
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ConfigError("the environment key contains whitespace or control characters")
    return Secret(value)


def egress_proxy(environ: Mapping[str, str], upstream_host: str) -> Upstream | None:
    """HTTPS_PROXY (the stack's egress proxy), unless NO_PROXY names the upstream host."""
    raw = (environ.get("HTTPS_PROXY") or environ.get("https_proxy") or "").strip()
    if not raw:
        return None
    match = _PROXY.fullmatch(raw)
    if not match:
        raise ConfigError("HTTPS_PROXY is not http://host:port")
    no_proxy = (environ.get("NO_PROXY") or environ.get("no_proxy") or "").split(",")
    for entry in (e.strip().lstrip(".").lower() for e in no_proxy):
        if entry and (upstream_host.lower() == entry or upstream_host.lower().endswith("." + entry)):
            return None
    return Upstream(match["host"], int(match["port"]))
