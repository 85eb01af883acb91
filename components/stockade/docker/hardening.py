"""Hardened Docker containers, the same for every long-running container Stockade creates.

The vendor's Compose reference (docs/vendor-interface.md §2.1) sets `user 65532:65532`, `read_only`,
`no-new-privileges`, `cap_drop ALL`, a 30 s stop grace and json-file logs capped at
10m x 3. Every container here gets all of that, plus an init process to reap children,
no privileged mode, memory/CPU limits and a restart policy. What differs between
containers is data (`ContainerSpec`); the hardening is not a parameter.

Pulumi's `destroy_grace_seconds` gets the same 30 s, so `pulumi destroy` and
replacements stop a container the way the vendor asks (docs/vendor-interface.md §1.8).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_docker as docker

from stockade.docker_dispatcher.spec import LOG_OPTIONS, SANDBOX_USER, STOP_TIMEOUT_SECONDS

NONROOT_USER = SANDBOX_USER
NO_NEW_PRIVILEGES = "no-new-privileges:true"
RESTART_POLICY = "unless-stopped"


@dataclass(frozen=True)
class Limits:
    """Memory and CPU ceilings (pulumi-docker 5.2 has no cgroup pids limit; see docs/docker-host.md)."""

    memory_mib: int
    cpus: float

    def __post_init__(self) -> None:
        if self.memory_mib < 32 or self.cpus <= 0:
            raise ValueError("limits need at least 32 MiB and a positive CPU share")


SERVICE_LIMITS = Limits(memory_mib=512, cpus=1.0)
"""For the perimeter's own services (proxies, poller, broker); sandboxes size from settings."""


@dataclass(frozen=True)
class VolumeMount:
    """A named Docker volume at `target`."""

    volume: pulumi.Input[str]
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class BindMount:
    """A host path; only the socket proxy has one (the Docker socket), and only read-only."""

    source: str
    target: str


@dataclass(frozen=True)
class Attachment:
    """A network the container joins, and the DNS names it answers to there."""

    network: pulumi.Input[str]
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContainerSpec:
    """What differs between Stockade's containers; the hardening is not optional."""

    image: pulumi.Input[str]
    component: str
    """Value of the `stockade:component` label."""
    entrypoint: Sequence[str] | None = None
    command: Sequence[str] | None = None
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    secret_env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Name -> value, delivered as a Pulumi secret (state keeps it encrypted, synth shows [secret])."""
    networks: Sequence[Attachment] = ()
    network_mode: pulumi.Input[str] | None = None
    """`container:<id>` to share another container's network namespace (cloudflared)."""
    volumes: Sequence[VolumeMount] = ()
    binds: Sequence[BindMount] = ()
    tmpfs: Mapping[str, str] = field(default_factory=dict)
    user: str = NONROOT_USER
    group_adds: Sequence[str] = ()
    limits: Limits = SERVICE_LIMITS
    runtime: str | None = None
    healthcheck: Mapping[str, Any] | None = None
    working_dir: str | None = None
    labels: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Extra labels on top of the stack's (a content hash that forces replacement, say)."""

    def __post_init__(self) -> None:
        if self.user.split(":")[0] in ("0", "root"):
            raise ValueError(f"{self.component}: Stockade containers never run as root")
        overlap = set(self.env) & set(self.secret_env)
        if overlap:
            raise ValueError(f"{self.component}: {sorted(overlap)} both plain and secret")
        if self.network_mode is not None and self.networks:
            raise ValueError(f"{self.component}: network_mode and networks are exclusive")
        if not self.networks and self.network_mode is None:
            raise ValueError(
                f"{self.component}: a container joins a Stockade network, never the default bridge"
            )


def docker_labels(labels: Mapping[str, pulumi.Input[str]]) -> list[dict[str, pulumi.Input[str]]]:
    """pulumi-docker's label list, sorted so the desired state is stable."""
    return [{"label": key, "value": labels[key]} for key in sorted(labels)]


def _env_entry(key: str, value: pulumi.Input[str]) -> pulumi.Input[str]:
    # A plain string joins as a string: an Output per variable costs the SDK a handful of
    # tasks each, an eighth of the `local` stack's synth, for a value already known.
    if isinstance(value, str):
        return f"{key}={value}"
    return pulumi.Output.concat(key, "=", value)


def _envs(spec: ContainerSpec) -> list[pulumi.Input[str]]:
    plain = [_env_entry(key, spec.env[key]) for key in sorted(spec.env)]
    secret: list[pulumi.Input[str]] = [
        pulumi.Output.concat(key, "=", pulumi.Output.secret(spec.secret_env[key]))
        for key in sorted(spec.secret_env)
    ]
    return plain + secret


def hardened_container(
    name: str,
    spec: ContainerSpec,
    *,
    stack_labels: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> docker.Container:
    """A container with the full hardening; `opts` must carry the parent."""
    labels = {**stack_labels, "stockade:component": spec.component, **spec.labels}
    mounts: list[dict[str, Any]] = [
        {"type": "volume", "source": m.volume, "target": m.target, "read_only": m.read_only}
        for m in spec.volumes
    ]
    mounts += [
        {"type": "bind", "source": b.source, "target": b.target, "read_only": True} for b in spec.binds
    ]
    args: dict[str, Any] = {
        "image": spec.image,
        "user": spec.user,
        "read_only": True,
        "privileged": False,
        "capabilities": {"drops": ["ALL"]},
        "security_opts": [NO_NEW_PRIVILEGES],
        "init": True,
        "stop_signal": "SIGTERM",
        "stop_timeout": STOP_TIMEOUT_SECONDS,
        "destroy_grace_seconds": STOP_TIMEOUT_SECONDS,
        "log_driver": "json-file",
        "log_opts": dict(LOG_OPTIONS),
        "restart": RESTART_POLICY,
        "memory": spec.limits.memory_mib,
        "memory_swap": spec.limits.memory_mib,
        "cpus": f"{spec.limits.cpus:g}",
        "labels": docker_labels(labels),
    }
    if spec.networks:
        # With networks_advanced the provider detaches the default bridge before the first start.
        args["networks_advanced"] = [
            {"name": a.network, "aliases": list(a.aliases)} if a.aliases else {"name": a.network}
            for a in spec.networks
        ]
    if spec.network_mode is not None:
        args["network_mode"] = spec.network_mode
    optional: dict[str, Any] = {
        "envs": _envs(spec) or None,
        "entrypoints": list(spec.entrypoint) if spec.entrypoint is not None else None,
        "command": list(spec.command) if spec.command is not None else None,
        "mounts": mounts or None,
        "tmpfs": dict(spec.tmpfs) or None,
        "group_adds": list(spec.group_adds) or None,
        "runtime": spec.runtime,
        "healthcheck": dict(spec.healthcheck) if spec.healthcheck is not None else None,
        "working_dir": spec.working_dir,
    }
    args.update({k: v for k, v in optional.items() if v is not None})
    return docker.Container(name, opts=opts, **args)


def tmpfs_options(size_mib: int, *, executable: bool = False) -> str:
    """Options for a private tmpfs: no setuid, no devices, capped in size (it counts as memory).

    Services get `noexec` (Docker's default too). Sandboxes and pool workers get `exec` on
    /tmp: build tools run what they write there, and /workspace is executable anyway.
    """
    return f"rw,{'exec' if executable else 'noexec'},nosuid,nodev,size={size_mib}m,mode=1777"
