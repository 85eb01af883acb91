"""Hardened ECS container definitions, the same for every Stockade task.

Fargate cannot express everything the vendor's Compose reference sets:
`no-new-privileges` (dockerSecurityOptions) is rejected on Fargate, and
privileged mode does not exist there. Everything else is kept: non-root user,
read-only root filesystem, every capability dropped, a 30 s stop grace, an init
process to reap children, and logs only to an encrypted log group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from stockade.json_input import json_input

NONROOT_USER = "65532:65532"
# SIGTERM then at least 30 s before SIGKILL (docs/vendor-interface.md §1.8); Fargate allows up to 120 s.
STOP_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Mount:
    """A task volume mounted into a container."""

    volume: str
    path: str
    read_only: bool = False


@dataclass(frozen=True)
class Container:
    """What differs between Stockade's containers; the hardening is not optional."""

    name: str
    image: pulumi.Input[str]
    command: Sequence[str] | None = None
    entry_point: Sequence[str] | None = None
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    secrets: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Environment variable name -> Secrets Manager ARN (`valueFrom`)."""
    mounts: Sequence[Mount] = ()
    essential: bool = True
    user: str = NONROOT_USER
    stop_timeout: int = STOP_TIMEOUT_SECONDS
    depends_on: Mapping[str, str] = field(default_factory=dict)
    """Container name -> condition (START, COMPLETE, SUCCESS, HEALTHY)."""
    health_check: Mapping[str, Any] | None = None
    working_directory: str | None = None
    root_reason: str | None = None
    """Why this container must run as uid 0. Only a non-essential container that finishes before
    the workload starts may (e.g. one writing into a Fargate volume, which is root-owned); it keeps
    every other hardening and the reason is written into the task definition as a label."""

    def __post_init__(self) -> None:
        if self.user.split(":")[0] in ("0", "root") and (self.root_reason is None or self.essential):
            raise ValueError(
                f"container {self.name}: Stockade containers never run as root "
                "(only a non-essential init container with a stated root_reason may)"
            )
        if not STOP_TIMEOUT_SECONDS <= self.stop_timeout <= 120:
            raise ValueError(f"container {self.name}: stop timeout must be 30-120 s")
        overlap = set(self.environment) & set(self.secrets)
        if overlap:
            raise ValueError(f"container {self.name}: {sorted(overlap)} both plain and secret")


def _definition(container: Container, log_group: pulumi.Input[str], region: str) -> dict[str, Any]:
    definition: dict[str, Any] = {
        "name": container.name,
        "image": container.image,
        "essential": container.essential,
        "user": container.user,
        "readonlyRootFilesystem": True,
        "privileged": False,
        "linuxParameters": {"capabilities": {"drop": ["ALL"]}, "initProcessEnabled": True},
        "stopTimeout": container.stop_timeout,
        "environment": [{"name": k, "value": v} for k, v in sorted(container.environment.items())],
        "secrets": [{"name": k, "valueFrom": v} for k, v in sorted(container.secrets.items())],
        "mountPoints": [
            {"sourceVolume": m.volume, "containerPath": m.path, "readOnly": m.read_only}
            for m in container.mounts
        ],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": log_group,
                "awslogs-region": region,
                "awslogs-stream-prefix": container.name,
                "mode": "non-blocking",
                "max-buffer-size": "4m",
            },
        },
    }
    if container.command is not None:
        definition["command"] = list(container.command)
    if container.entry_point is not None:
        definition["entryPoint"] = list(container.entry_point)
    if container.depends_on:
        definition["dependsOn"] = [
            {"containerName": name, "condition": cond} for name, cond in sorted(container.depends_on.items())
        ]
    if container.health_check is not None:
        definition["healthCheck"] = dict(container.health_check)
    if container.working_directory is not None:
        definition["workingDirectory"] = container.working_directory
    if container.root_reason is not None:
        definition["dockerLabels"] = {"stockade.root-reason": container.root_reason}
    return definition


def container_definitions(
    containers: Sequence[Container], *, log_group: pulumi.Input[str], region: str
) -> pulumi.Input[str]:
    """The task's `containerDefinitions` JSON, keys sorted so diffs show only real changes."""
    names = [c.name for c in containers]
    if len(names) != len(set(names)):
        raise ValueError(f"duplicate container names: {names}")
    definitions = [_definition(c, log_group, region) for c in containers]
    return json_input(definitions, sort_keys=True)
