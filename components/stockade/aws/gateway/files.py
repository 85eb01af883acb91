"""How the proxy's config and TLS files reach read-only containers on Fargate.

mcp-proxy reads `/etc/mcp-gateway/config.yaml` and `/data/tls.{crt,key}` from
files; Fargate has no file secrets and no host paths. So each value lives in
its own Secrets Manager secret (under the stack's CMK), an init container gets
them as ECS `secrets` (resolved by the agent at task start, never written into
the task definition) and writes them into two task-scoped volumes, which the
proxy mounts read-only at the vendor's paths. The volumes vanish with the task.

Why Secrets Manager for the config and the certificate too, though neither is
secret: plain `environment` values are part of the task definition, which
anyone with `ecs:DescribeTaskDefinition` (most read-only roles) can read. The
config maps every internal MCP server's address; keeping it out of the task
definition keeps that map as private as the key. It also keeps task definitions
small (64 KiB limit) and makes one IAM grant cover every file.

Why the init container runs as uid 0: an empty Fargate bind-mount volume is
owned by root with mode 0755, and only an image's own `VOLUME` directive can
change that. With a stock busybox, a non-root writer cannot create the files. It
drops every capability like the others, keeps a read-only root filesystem, is
not essential, writes files mode 0444 and exits before the proxy starts.

Alternatives considered: SSM parameters (4-8 KiB limit, a second API to grant),
EFS (a persistent network file system holding a private key, plus NFS egress and
an ingress rule), a custom init image with `VOLUME` directives owned by 65532
(no root at all, but one more image for every customer to build and mirror).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from stockade.aws.shared.containers import Container, Mount

CONFIG_VOLUME = "mcp-gateway-config"
DATA_VOLUME = "mcp-gateway-data"
INIT_CONTAINER = "tunnel-files"
ROOT_REASON = "writes the proxy's files into Fargate volumes, which are root-owned 0755; exits first"
_STAGING = "/stockade"

# Each file's env var (from Secrets Manager) and its path inside the init container.
FILE_VARIABLES: dict[str, str] = {
    "PROXY_CONFIG": f"{_STAGING}/config/config.yaml",
    "TLS_CERT": f"{_STAGING}/data/tls.crt",
    "TLS_KEY": f"{_STAGING}/data/tls.key",
    "UPSTREAM_CA": f"{_STAGING}/data/upstream-ca.pem",
}
OPTIONAL_VARIABLES = frozenset({"UPSTREAM_CA"})

# A PEM check first, so a gateway whose setup task never ran fails with a sentence, not a TLS error.
_SCRIPT_HEAD = """set -eu
umask 0222
case "$TLS_CERT" in
  *"BEGIN CERTIFICATE"*) ;;
  *) echo "stockade: no TLS certificate yet; run the tunnel setup task (docs/tunnel-gateway.md)" >&2
     exit 1 ;;
esac
"""


def init_script(variables: list[str]) -> str:
    """The init container's shell script: write each variable's value to its file, exactly."""
    lines = [_SCRIPT_HEAD]
    for variable in variables:
        path = FILE_VARIABLES[variable]
        write = f"printf '%s' \"${variable}\" > {path}"
        if variable in OPTIONAL_VARIABLES:
            write = f'if [ -n "${{{variable}:-}}" ]; then {write}; fi'
        lines.append(write + "\n")
    lines.append('echo "stockade: wrote the proxy config and TLS files"\n')
    return "".join(lines)


@dataclass(frozen=True)
class FileSecrets:
    """Secrets Manager ARNs for each file, plus a fingerprint of the public ones."""

    arns: Mapping[str, pulumi.Input[str]]
    """Env var name -> secret ARN; keys are those of FILE_VARIABLES that apply."""
    fingerprint: pulumi.Input[str]
    """SHA-256 over the config and the certificate when Stockade knows them, so a change rolls the
    service (ECS reads secrets only when a task starts)."""


def fingerprint(*parts: pulumi.Input[str]) -> pulumi.Output[str]:
    def digest(values: list[str]) -> str:
        hasher = hashlib.sha256()
        for value in values:
            # None: a provider output not known to this run (Pulumi's plain test mocks).
            hasher.update((value or "").encode())
            hasher.update(b"\0")
        return hasher.hexdigest()

    return pulumi.Output.all(*parts).apply(digest)


def init_container(image: pulumi.Input[str], files: FileSecrets) -> Container:
    variables = [v for v in FILE_VARIABLES if v in files.arns]
    return Container(
        name=INIT_CONTAINER,
        image=image,
        entry_point=["/bin/sh", "-c"],
        command=[init_script(variables)],
        secrets={v: files.arns[v] for v in variables},
        environment={"STOCKADE_FILES_SHA256": files.fingerprint},
        mounts=(
            Mount(CONFIG_VOLUME, f"{_STAGING}/config"),
            Mount(DATA_VOLUME, f"{_STAGING}/data"),
        ),
        essential=False,
        user="0:0",
        root_reason=ROOT_REASON,
    )


def proxy_mounts() -> tuple[Mount, ...]:
    """The vendor's paths, read-only (docs/vendor-interface.md §2.1: config.yaml:ro and data:ro)."""
    return (
        Mount(CONFIG_VOLUME, "/etc/mcp-gateway", read_only=True),
        Mount(DATA_VOLUME, "/data", read_only=True),
    )
