"""`stockade:sandboxes`: where Claude Managed Agents' tools run (vendor contract section 1)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from stockade.settings.base import SettingsModel
from stockade.settings.problems import invalid
from stockade.settings.secrets import SecretInput
from stockade.settings.types import ImageRef

# Fargate's valid CPU units and the memory range (MiB) each allows.
FARGATE_MEMORY_MIB: dict[int, tuple[int, int]] = {
    256: (512, 2048),
    512: (1024, 4096),
    1024: (2048, 8192),
    2048: (4096, 16384),
    4096: (8192, 30720),
    8192: (16384, 61440),
    16384: (32768, 122880),
}


class SandboxProvider(StrEnum):
    SELF_HOSTED = "self-hosted"
    """Workers run on this stack's target (AWS ECS or a Docker host)."""
    CLOUDFLARE = "cloudflare"
    DAYTONA = "daytona"
    MODAL = "modal"
    VERCEL = "vercel"


class WorkerMode(StrEnum):
    PER_SESSION = "per-session"
    """Default: a dispatcher starts one isolated sandbox (Fargate task / container) per
    work item."""
    POOL = "pool"
    """N long-running workers run sessions in-process: faster, weaker isolation (sessions
    on one worker share a kernel, filesystem and memory). Flagged in synth and policy."""


class SessionResources(SettingsModel):
    """Size of each sandbox."""

    cpu: Annotated[int, Field(description="Fargate CPU units.")] = 1024
    """CPU units per sandbox (Fargate values: 256, 512, 1024, 2048, 4096, 8192, 16384)."""

    memory_mib: Annotated[int, Field(ge=512, le=122880)] = 4096
    """Memory per sandbox in MiB; must fit the CPU size's range."""

    ephemeral_storage_gib: Annotated[int, Field(ge=21, le=200)] = 30
    """Task-scoped disk for /workspace, /mnt/memory and /tmp, in GiB (Fargate: 21-200)."""

    pids_limit: Annotated[int, Field(ge=64, le=65536)] = 1024
    """Process limit per sandbox (honoured on Docker hosts; Fargate has a fixed limit)."""

    @model_validator(mode="after")
    def _fargate_size(self) -> SessionResources:
        if self.cpu not in FARGATE_MEMORY_MIB:
            raise invalid(
                f"{self.cpu} is not a Fargate CPU size",
                "use one of " + ", ".join(str(c) for c in FARGATE_MEMORY_MIB),
                field="cpu",
            )
        low, high = FARGATE_MEMORY_MIB[self.cpu]
        if not low <= self.memory_mib <= high:
            raise invalid(
                f"memoryMib {self.memory_mib} does not fit cpu {self.cpu}",
                f"with cpu {self.cpu}, use memoryMib between {low} and {high}",
                field="memoryMib",
            )
        return self


class ArtifactSettings(SettingsModel):
    """The bucket that keeps session deliverables."""

    expire_days: Annotated[int, Field(ge=1, le=3650)] = 30
    """Days before session artifacts (and old object versions) expire."""


class SandboxSettings(SettingsModel):
    """Sandbox workers and sessions."""

    provider: SandboxProvider = SandboxProvider.SELF_HOSTED
    """Who runs the sandboxes: this stack's own target, or a certified managed provider."""

    mode: WorkerMode = WorkerMode.PER_SESSION
    """`per-session` (default, one isolated sandbox per work item) or `pool`."""

    environment_id: Annotated[str, Field(pattern=r"^env_[A-Za-z0-9]{4,64}$")] | None = None
    """The self-hosted environment's ID (`env_...`), from the Console or `POST /v1/environments`."""

    environment_key: SecretInput | None = None
    """The environment key (`sk-ant-oat01-...`): a Pulumi secret or an existing secret's ARN.
    Generated in the Console only. Never the organization API key."""

    session_image: ImageRef | None = None
    """Image each per-session sandbox runs (entrypoint `ant beta:worker run`); pin by digest."""

    worker_image: ImageRef | None = None
    """Image of the poller (per-session) or pool workers (`ant beta:worker poll`)."""

    resources: SessionResources = Field(default_factory=SessionResources)
    """CPU, memory and disk of each sandbox."""

    max_concurrent_sessions: Annotated[int, Field(ge=1, le=5000)] = 20
    """Cap on sandboxes running at once; the dispatcher refuses work beyond it."""

    pool_size: Annotated[int, Field(ge=1, le=500)] = 2
    """Pool mode: number of long-running workers."""

    poller_replicas: Annotated[int, Field(ge=1, le=10)] = 1
    """Per-session mode: poller/dispatcher replicas; prod needs at least 2."""

    max_idle_seconds: Annotated[int, Field(ge=1, le=3600)] = 60
    """`--max-idle`: how long a worker waits after an idle `end_turn` before exiting."""

    enable_exec: bool = False
    """ECS Exec into sandboxes. Off by default; enabling it is reported as a weakening."""

    queue_depth_alarm: Annotated[int, Field(ge=1, le=100000)] = 50
    """Alarm when the work queue's `depth` stays above this many items."""

    artifacts: ArtifactSettings = Field(default_factory=ArtifactSettings)
    """Artifacts bucket settings."""

    @model_validator(mode="after")
    def _self_hosted_needs_what_it_runs(self) -> SandboxSettings:
        if self.provider is not SandboxProvider.SELF_HOSTED:
            return self
        if self.environment_id is None:
            raise invalid(
                "self-hosted sandboxes need the environment ID",
                "set sandboxes.environmentId to the env_... ID of a self_hosted environment",
                field="environmentId",
            )
        if self.environment_key is None:
            raise invalid(
                "self-hosted sandboxes need the environment key",
                "run `pulumi config set --secret --path 'stockade:sandboxes.environmentKey' "
                "sk-ant-oat01-...` or give an existing secret's ARN",
                field="environmentKey",
            )
        if self.mode is WorkerMode.PER_SESSION and self.session_image is None:
            raise invalid(
                "per-session mode needs the session image",
                "set sandboxes.sessionImage (see images/session/Dockerfile), or mode: pool",
                field="sessionImage",
            )
        return self
