"""The container spec of one per-session sandbox, and the archive that carries its secrets.

The broker alone builds this spec, from its own configuration plus the session's IDs; a
request cannot change the image, the network, a mount or a limit. The hardening mirrors the
pool workers Pulumi creates (stockade/docker/hardening.py): non-root, read-only root,
every capability dropped, no-new-privileges, an init process, memory/CPU/pids limits, a
120 s stop grace (stockade.workqueue.grace) and rotated json-file logs.

With the API proxy on (the default), each session is two containers: the proxy
(stockade.apiproxy, from the same image) on the sandbox network, holding the environment key
as a file, and the sandbox in the proxy's network namespace (`NetworkMode: container:<proxy>`),
so only that sandbox reaches the proxy's loopback port. The sandbox gets a placeholder key and
`ANTHROPIC_BASE_URL=http://127.0.0.1:<port>`; the key never enters it. With the proxy off
(`sandboxes.apiProxy.enabled: false`, a reported weakening), the sandbox gets the key itself.

Secrets never enter a create body (the daemon logs request bodies in debug mode, and
`docker inspect` shows environment): they are uploaded as files into an anonymous volume
before the container starts, and the entry script reads and empties them.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stockade.workqueue.grace import SESSION_STOP_TIMEOUT_SECONDS
from stockade.workqueue.proxy_contract import (
    DEFAULT_UPSTREAM,
    PLACEHOLDER_KEY,
    PROXY_BASE_URL,
    PROXY_ENTRY,
    PROXY_PORT,
)

if TYPE_CHECKING:
    # Annotations only: provisioning (every `stockade synth` of a Docker stack) reads this
    # module's names and scripts, and never parses work items or writes archives.
    from stockade.docker_dispatcher.work import SessionRequest
    from stockade.workqueue.workitem import Secret

SANDBOX_UID = 65532
SANDBOX_USER = f"{SANDBOX_UID}:{SANDBOX_UID}"
WORKSPACE = "/workspace"
MEMORY_DIR = "/mnt/memory"
TMP_DIR = "/tmp"  # noqa: S108 - a private tmpfs inside the sandbox, not the host's /tmp
SECRETS_DIR = "/run/stockade"
WORK_SECRET_FILE = "work-secret"  # noqa: S105 - a file name, not a secret
ENVIRONMENT_KEY_FILE = "environment-key"
STOP_TIMEOUT_SECONDS = 30
"""Containers that hold no session (pool workers, the gateway); sandboxes get SESSION_STOP_TIMEOUT_SECONDS."""
LOG_OPTIONS = {"max-size": "10m", "max-file": "3"}

MANAGED_BY_LABEL = "stockade:managed-by"
MANAGED_BY = "stockade-docker-dispatch"
STACK_LABEL = "stockade:stack"
COMPONENT_LABEL = "stockade:component"
WORK_ID_LABEL = "stockade:work-id"
SESSION_ID_LABEL = "stockade:session-id"
SANDBOX_COMPONENT = "sandbox"
PROXY_COMPONENT = "api-proxy"

PROXY_SECRETS_DIR = "/run/stockade-proxy"
PROXY_CA_FILE = "ca-bundle.pem"
PROXY_NANO_CPUS = 250_000_000
PROXY_MEMORY_BYTES = 128 * 1024 * 1024
PROXY_PIDS_LIMIT = 64


def read_secrets_script(*names: tuple[str, str]) -> str:
    """Bash that loads `(VARIABLE, file)` pairs from SECRETS_DIR and empties each writable file.

    Builtins only (`read`, `:`, redirection), so the image needs nothing but /bin/bash, which
    the vendor's worker contract already requires.
    """
    lines = [
        "set -eu",
        # read VARIABLE < FILE; export it; empty FILE when it is writable (it is not in pool workers).
        'load() { IFS= read -r "$1" < "$2" || [ -n "${!1:-}" ]; export "${1?}"; '
        ': 2>/dev/null > "$2" || true; }',
    ]
    lines += [f"load {variable} {SECRETS_DIR}/{file}" for variable, file in names]
    return "\n".join(lines)


def session_script(*, with_environment_key: bool) -> str:
    """The sandbox's entry: secrets from files into the environment, then `ant beta:worker run`.

    Behind the API proxy only the work secret is a file; the placeholder key is plain Env."""
    names = [("ANTHROPIC_WORK_SECRET", WORK_SECRET_FILE)]
    if with_environment_key:
        names.append(("ANTHROPIC_ENVIRONMENT_KEY", ENVIRONMENT_KEY_FILE))
    return "\n".join(
        [
            read_secrets_script(*names),
            # ant's own --max-idle default, as on the AWS target (sandboxes.maxIdleSeconds is pool-only).
            f"exec ant beta:worker run --workdir {WORKSPACE} --log-format json",
        ]
    )


SESSION_SCRIPT = session_script(with_environment_key=False)
"""The sandbox's entry behind the API proxy (the default)."""
SESSION_SCRIPT_WITH_KEY = session_script(with_environment_key=True)
"""The sandbox's entry with the proxy off: the environment key is a file in the sandbox."""


@dataclass(frozen=True)
class ApiProxyTemplate:
    """The per-session API proxy's settings: where it forwards, and which CAs it trusts there."""

    upstream: str = DEFAULT_UPSTREAM
    ca_bundle: bytes | None = None
    """PEM CA certificates replacing the system roots (private CAs, test vendors), or None."""


@dataclass(frozen=True)
class SandboxTemplate:
    """Everything about a sandbox that does not depend on the session."""

    stack: str
    image: str
    network: str
    runtime: str
    nano_cpus: int
    memory_bytes: int
    pids_limit: int
    tmp_size_mib: int
    environment_id: str
    egress_proxy_url: str | None
    keep_workspaces: bool
    labels: Mapping[str, str] = field(default_factory=dict)
    api_proxy: ApiProxyTemplate | None = field(default_factory=ApiProxyTemplate)
    """None turns the proxy off: the sandbox then holds the environment key (a weakening)."""

    def identity_labels(self) -> dict[str, str]:
        """The labels that find this stack's sandboxes (and nothing else) on a shared host."""
        return {MANAGED_BY_LABEL: MANAGED_BY, STACK_LABEL: self.stack}


def container_name(template: SandboxTemplate, request: SessionRequest) -> str:
    return f"stockade-{template.stack}-{request.work_id}"


def proxy_name(template: SandboxTemplate, request: SessionRequest) -> str:
    return f"stockade-{template.stack}-{request.work_id}-proxy"


def workspace_volume(template: SandboxTemplate, request: SessionRequest) -> str:
    return f"stockade-{template.stack}-{request.work_id}-workspace"


def _environment(template: SandboxTemplate, request: SessionRequest) -> list[str]:
    env = {
        "ANTHROPIC_ENVIRONMENT_ID": template.environment_id,
        "ANTHROPIC_SESSION_ID": request.session_id,
        "ANTHROPIC_WORK_ID": request.work_id,
        # The root filesystem is read-only; tools that write under $HOME get the tmpfs.
        "HOME": TMP_DIR,
    }
    if template.api_proxy is not None:
        env["ANTHROPIC_BASE_URL"] = PROXY_BASE_URL
        env["ANTHROPIC_ENVIRONMENT_KEY"] = PLACEHOLDER_KEY
    elif request.base_url:
        env["ANTHROPIC_BASE_URL"] = request.base_url
    env.update(_egress(template))
    return [f"{k}={v}" for k, v in sorted(env.items())]


def _egress(template: SandboxTemplate) -> dict[str, str]:
    """The egress proxy for HTTPS clients; loopback (where the API proxy listens) goes direct."""
    if not template.egress_proxy_url:
        return {}
    env = {
        name: template.egress_proxy_url for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")
    }
    env["NO_PROXY"] = env["no_proxy"] = "localhost,127.0.0.1"
    return env


def _hardened_host_config(
    network: str, runtime: str, memory: int, nano_cpus: int, pids: int, tmp: str
) -> dict[str, Any]:
    """The HostConfig both containers of a session share: the sandbox's hardening."""
    return {
        "NetworkMode": network,
        "ReadonlyRootfs": True,
        "Privileged": False,
        "CapDrop": ["ALL"],
        "SecurityOpt": ["no-new-privileges:true"],
        "Init": True,
        "Runtime": runtime,
        "Memory": memory,
        "MemorySwap": memory,
        "NanoCpus": nano_cpus,
        "PidsLimit": pids,
        "IpcMode": "private",
        "Tmpfs": {TMP_DIR: tmp},
        "LogConfig": {"Type": "json-file", "Config": dict(LOG_OPTIONS)},
        "RestartPolicy": {"Name": "no"},
        "AutoRemove": False,
    }


def _session_labels(template: SandboxTemplate, request: SessionRequest, component: str) -> dict[str, str]:
    return {
        **template.labels,
        **template.identity_labels(),
        COMPONENT_LABEL: component,
        WORK_ID_LABEL: request.work_id,
        SESSION_ID_LABEL: request.session_id,
    }


def proxy_upstream(template: SandboxTemplate, request: SessionRequest) -> str:
    """Where the proxy forwards: the base URL `ant` polled (https, checked), else the default."""
    if template.api_proxy is None:
        raise ValueError("the API proxy is off in this template")
    return request.base_url or template.api_proxy.upstream


def proxy_create_body(template: SandboxTemplate, request: SessionRequest) -> dict[str, Any]:
    """The API proxy's `POST /containers/create` body: the key arrives later, as a file."""
    proxy = template.api_proxy
    if proxy is None:
        raise ValueError("the API proxy is off in this template")
    env = {
        "ANTHROPIC_ENVIRONMENT_ID": template.environment_id,
        "ANTHROPIC_SESSION_ID": request.session_id,
        "ANTHROPIC_WORK_ID": request.work_id,
        "STOCKADE_STACK": template.stack,
        "STOCKADE_API_PROXY_PORT": str(PROXY_PORT),
        "STOCKADE_API_PROXY_UPSTREAM": proxy_upstream(template, request),
        "STOCKADE_API_PROXY_KEY_FILE": f"{PROXY_SECRETS_DIR}/{ENVIRONMENT_KEY_FILE}",
        "HOME": TMP_DIR,
        **_egress(template),
    }
    if proxy.ca_bundle is not None:
        env["STOCKADE_API_PROXY_CA_BUNDLE"] = f"{PROXY_SECRETS_DIR}/{PROXY_CA_FILE}"
    host = _hardened_host_config(
        template.network,
        template.runtime,
        PROXY_MEMORY_BYTES,
        PROXY_NANO_CPUS,
        PROXY_PIDS_LIMIT,
        "rw,noexec,nosuid,nodev,size=16m,mode=1777",
    )
    host["Mounts"] = [{"Type": "volume", "Target": PROXY_SECRETS_DIR}]
    return {
        "Image": template.image,
        "User": SANDBOX_USER,
        "Entrypoint": [PROXY_ENTRY],
        "Cmd": [],
        "WorkingDir": TMP_DIR,
        "Env": [f"{k}={v}" for k, v in sorted(env.items())],
        "Labels": _session_labels(template, request, PROXY_COMPONENT),
        "StopSignal": "SIGTERM",
        # It must outlive its sandbox's grace: the final flush and heartbeats go through it.
        "StopTimeout": SESSION_STOP_TIMEOUT_SECONDS,
        "HostConfig": host,
    }


def _mounts(template: SandboxTemplate, request: SessionRequest) -> list[dict[str, Any]]:
    labels = {
        **template.identity_labels(),
        WORK_ID_LABEL: request.work_id,
        SESSION_ID_LABEL: request.session_id,
    }
    workspace: dict[str, Any] = {"Type": "volume", "Target": WORKSPACE}
    if template.keep_workspaces:
        # A named volume outlives the container; outputs land in the workdir (docs/vendor-interface.md §1.6).
        workspace["Source"] = workspace_volume(template, request)
        workspace["VolumeOptions"] = {"Labels": labels}
    return [
        workspace,
        # Anonymous volumes, removed with the container. The secrets directory must be a
        # volume: the engine refuses uploads into a read-only root or a tmpfs.
        {"Type": "volume", "Target": MEMORY_DIR},
        {"Type": "volume", "Target": SECRETS_DIR},
    ]


def create_body(
    template: SandboxTemplate, request: SessionRequest, proxy_container: str | None = None
) -> dict[str, Any]:
    """The sandbox's `POST /containers/create` body: no secret in it, ever.

    With the API proxy on, `proxy_container` (its ID) is whose network namespace it joins."""
    if (template.api_proxy is None) != (proxy_container is None):
        raise ValueError("a proxied sandbox needs its proxy container, and only then")
    network = template.network if proxy_container is None else f"container:{proxy_container}"
    host = _hardened_host_config(
        network,
        template.runtime,
        template.memory_bytes,
        template.nano_cpus,
        template.pids_limit,
        # exec: build tools run what they write to /tmp, and /workspace is executable anyway.
        f"rw,exec,nosuid,nodev,size={template.tmp_size_mib}m,mode=1777",
    )
    host["Mounts"] = _mounts(template, request)
    return {
        "Image": template.image,
        "User": SANDBOX_USER,
        "Entrypoint": ["/bin/bash", "-c", SESSION_SCRIPT if proxy_container else SESSION_SCRIPT_WITH_KEY],
        "Cmd": ["stockade-session"],
        "WorkingDir": WORKSPACE,
        "Env": _environment(template, request),
        "Labels": _session_labels(template, request, SANDBOX_COMPONENT),
        "StopSignal": "SIGTERM",
        "StopTimeout": SESSION_STOP_TIMEOUT_SECONDS,
        "HostConfig": host,
    }


def secrets_archive(*files: tuple[str, Secret]) -> bytes:
    """A tar of `(name, secret)` files, owned by the sandbox user and readable by it alone."""
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, secret in files:
            data = (secret.reveal().rstrip("\n") + "\n").encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o600  # the sandbox's entry script empties its files after reading them
            info.uid = info.gid = SANDBOX_UID
            info.mtime = 0
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
