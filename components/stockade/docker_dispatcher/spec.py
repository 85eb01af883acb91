"""The container spec of one per-session sandbox, and the archive that carries its secrets.

The broker alone builds this spec, from its own configuration plus the session's IDs; a
request cannot change the image, the network, a mount or a limit. The hardening mirrors the
pool workers Pulumi creates (stockade/docker/hardening.py): non-root, read-only root,
every capability dropped, no-new-privileges, an init process, memory/CPU/pids limits, a
30 s stop grace and rotated json-file logs.

Secrets never enter the create body (the daemon logs request bodies in debug mode, and
`docker inspect` shows environment): they are uploaded as files into an anonymous volume
before the container starts, and the entry script reads and empties them.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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
LOG_OPTIONS = {"max-size": "10m", "max-file": "3"}

MANAGED_BY_LABEL = "stockade:managed-by"
MANAGED_BY = "stockade-docker-dispatch"
STACK_LABEL = "stockade:stack"
COMPONENT_LABEL = "stockade:component"
WORK_ID_LABEL = "stockade:work-id"
SESSION_ID_LABEL = "stockade:session-id"


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


SESSION_SCRIPT = "\n".join(
    [
        read_secrets_script(
            ("ANTHROPIC_WORK_SECRET", WORK_SECRET_FILE), ("ANTHROPIC_ENVIRONMENT_KEY", ENVIRONMENT_KEY_FILE)
        ),
        # ant's own --max-idle default, as on the AWS target (sandboxes.maxIdleSeconds is pool-only).
        f"exec ant beta:worker run --workdir {WORKSPACE} --log-format json",
    ]
)
"""The sandbox's entry: secrets from files into the environment, then `ant beta:worker run`."""


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

    def identity_labels(self) -> dict[str, str]:
        """The labels that find this stack's sandboxes (and nothing else) on a shared host."""
        return {MANAGED_BY_LABEL: MANAGED_BY, STACK_LABEL: self.stack}


def container_name(template: SandboxTemplate, request: SessionRequest) -> str:
    return f"stockade-{template.stack}-{request.work_id}"


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
    if request.base_url:
        env["ANTHROPIC_BASE_URL"] = request.base_url
    if template.egress_proxy_url:
        for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
            env[name] = template.egress_proxy_url
        env["NO_PROXY"] = env["no_proxy"] = "localhost,127.0.0.1"
    return [f"{k}={v}" for k, v in sorted(env.items())]


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


def create_body(template: SandboxTemplate, request: SessionRequest) -> dict[str, Any]:
    """The `POST /containers/create` body: no secret in it, ever."""
    labels = {
        **template.labels,
        **template.identity_labels(),
        COMPONENT_LABEL: "sandbox",
        WORK_ID_LABEL: request.work_id,
        SESSION_ID_LABEL: request.session_id,
    }
    return {
        "Image": template.image,
        "User": SANDBOX_USER,
        "Entrypoint": ["/bin/bash", "-c", SESSION_SCRIPT],
        "Cmd": ["stockade-session"],
        "WorkingDir": WORKSPACE,
        "Env": _environment(template, request),
        "Labels": labels,
        "StopSignal": "SIGTERM",
        "StopTimeout": STOP_TIMEOUT_SECONDS,
        "HostConfig": {
            "NetworkMode": template.network,
            "ReadonlyRootfs": True,
            "Privileged": False,
            "CapDrop": ["ALL"],
            "SecurityOpt": ["no-new-privileges:true"],
            "Init": True,
            "Runtime": template.runtime,
            "Memory": template.memory_bytes,
            "MemorySwap": template.memory_bytes,
            "NanoCpus": template.nano_cpus,
            "PidsLimit": template.pids_limit,
            "IpcMode": "private",
            # exec: build tools run what they write to /tmp, and /workspace is executable anyway.
            "Tmpfs": {TMP_DIR: f"rw,exec,nosuid,nodev,size={template.tmp_size_mib}m,mode=1777"},
            "Mounts": _mounts(template, request),
            "LogConfig": {"Type": "json-file", "Config": dict(LOG_OPTIONS)},
            "RestartPolicy": {"Name": "no"},
            "AutoRemove": False,
        },
    }


def secrets_archive(work_secret: Secret, environment_key: Secret) -> bytes:
    """A tar of the two secret files, owned by the sandbox user and readable by it alone."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, secret in ((WORK_SECRET_FILE, work_secret), (ENVIRONMENT_KEY_FILE, environment_key)):
            data = (secret.reveal() + "\n").encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o600  # the entry script empties the file after reading it
            info.uid = info.gid = SANDBOX_UID
            info.mtime = 0
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
