"""`stockade:sandboxes`: where Claude Managed Agents' tools run (docs/vendor-interface.md §1)."""

import re
from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from stockade.settings.base import BuiltWhenSet, SettingsModel, empty_list
from stockade.settings.problems import invalid
from stockade.settings.providers import (
    CloudflareSettings,
    DaytonaSettings,
    ModalSettings,
    VercelSettings,
    provider_section_errors,
)
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


class CpuArchitecture(StrEnum):
    X86_64 = "x86_64"
    """Intel/AMD Fargate tasks; images built for linux/amd64."""
    ARM64 = "arm64"
    """Graviton Fargate tasks (cheaper per vCPU); images built for linux/arm64."""

    @property
    def docker_platform(self) -> str:
        return "linux/amd64" if self is CpuArchitecture.X86_64 else "linux/arm64"


class SessionResources(SettingsModel):
    """Size of each sandbox."""

    cpu: Annotated[int, Field(le=16384, description="Fargate CPU units.")] = 1024
    """CPU units per sandbox (Fargate values: 256, 512, 1024, 2048, 4096, 8192, 16384)."""

    memory_mib: Annotated[int, Field(ge=512, le=122880)] = 4096
    """Memory per sandbox in MiB; must fit the CPU size's range."""

    ephemeral_storage_gib: Annotated[int, Field(ge=21, le=200)] = 30
    """Task-scoped disk for /workspace, /mnt/memory and /tmp, in GiB (Fargate: 21-200)."""

    pids_limit: Annotated[int, Field(ge=64, le=65536)] = 1024
    """Process limit per sandbox (honoured on Docker hosts; Fargate has a fixed limit)."""

    def rule_errors(self) -> Iterator[PydanticCustomError]:
        if self.cpu not in FARGATE_MEMORY_MIB:
            yield invalid(
                f"{self.cpu} is not a Fargate CPU size",
                "use one of " + ", ".join(str(c) for c in FARGATE_MEMORY_MIB),
                field="cpu",
            )
            return  # the memory range depends on a valid CPU size
        low, high = FARGATE_MEMORY_MIB[self.cpu]
        if not low <= self.memory_mib <= high:
            yield invalid(
                f"memoryMib {self.memory_mib} does not fit cpu {self.cpu}",
                f"with cpu {self.cpu}, use memoryMib between {low} and {high}",
                field="memoryMib",
            )


class ArtifactSettings(SettingsModel):
    """The bucket that keeps session deliverables."""

    expire_days: Annotated[int, Field(ge=1, le=3650)] = 30
    """Days before session artifacts (and old object versions) expire."""


def _relative_path(value: str) -> str:
    parts = value.split("/")
    if not value or value.startswith("/") or ".." in parts or not re.fullmatch(r"[\w./-]+", value):
        raise invalid(
            "not a relative path inside the project",
            "write a path relative to the project directory without '..', e.g. images/session",
        )
    return value


RelativePath = Annotated[str, AfterValidator(_relative_path)]


class ImageBuild(SettingsModel):
    """Build an image from a Dockerfile and push it to an ECR repository Stockade creates
    (`stockade:aws:SandboxImage`: scan on push, immutable tags, KMS-encrypted)."""

    context: RelativePath
    """Build context, relative to the project directory (e.g. `images/session`)."""

    dockerfile: RelativePath | None = None
    """Dockerfile path, relative to the project directory like `docker build -f` (pulumi-docker
    resolves it against the working directory, not the context). Default: `<context>/Dockerfile`.
    The reference images build from the repository root: `context: .`,
    `dockerfile: images/session/Dockerfile`."""

    @property
    def dockerfile_path(self) -> str:
        return self.dockerfile or f"{self.context.rstrip('/')}/Dockerfile"

    tag: Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
    """The image tag. Tags are immutable in the repository, so bump it for every change
    (a version or a commit SHA); the task definition pins the pushed digest either way."""


class ApiProxySettings(SettingsModel):
    """The per-session API proxy (docs/sandbox-fleet.md, "The API proxy")."""

    enabled: bool = True
    """Per-session mode: run a credential-injecting proxy beside each sandbox, so the
    environment key never enters it and the sandbox can reach only its own work item and
    session. Turning it off gives every sandbox the key (as before) and is reported as a
    weakening; do so only if your `ant` version does not honour `ANTHROPIC_BASE_URL` for every
    call or refuses the placeholder key (an unverified vendor behaviour, docs/threat-model.md)."""


class AlarmProtocol(StrEnum):
    EMAIL = "email"
    HTTPS = "https"
    SQS = "sqs"
    LAMBDA = "lambda"


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_ENDPOINT_RULES: dict[AlarmProtocol, tuple[re.Pattern[str], str]] = {
    AlarmProtocol.EMAIL: (_EMAIL, "an email address, e.g. oncall@example.com"),
    AlarmProtocol.HTTPS: (re.compile(r"^https://[^\s/]+(/\S*)?$"), "an https:// URL"),
    AlarmProtocol.SQS: (re.compile(r"^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[\w-]+$"), "an SQS queue ARN"),
    AlarmProtocol.LAMBDA: (
        re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[\w-]+$"),
        "a Lambda function ARN",
    ),
}


class AlarmSubscription(SettingsModel):
    """Where the fleet's alarm topic delivers."""

    protocol: AlarmProtocol
    """`email`, `https`, `sqs` or `lambda`."""

    endpoint: Annotated[str, Field(min_length=3, max_length=512)]
    """The address, URL or ARN for that protocol."""

    def rule_errors(self) -> Iterator[PydanticCustomError]:
        pattern, shape = _ENDPOINT_RULES[self.protocol]
        if not pattern.match(self.endpoint):
            yield invalid(f"not a valid {self.protocol.value} endpoint", f"write {shape}", field="endpoint")


class AlarmSettings(SettingsModel):
    """The fleet's health alarms and where they are sent."""

    subscriptions: list[AlarmSubscription] = Field(default_factory=empty_list, max_length=10)
    """Subscriptions to the (KMS-encrypted) alarm topic. Email subscriptions must be
    confirmed from the inbox before they deliver."""


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
    """Per-session mode: the image each sandbox runs (see images/session/Dockerfile: `ant`,
    the session entry point, `VOLUME /workspace /mnt/memory /tmp`); pin it by digest."""

    session_build: ImageBuild | None = None
    """Per-session mode: build the session image from a Dockerfile instead of `sessionImage`."""

    worker_image: ImageRef | None = None
    """The poller image (per-session mode: `ant` plus the dispatcher, images/poller) or the
    pool workers' image (pool mode: `ant` plus the tools sessions use); pin it by digest."""

    worker_build: ImageBuild | None = None
    """Build the worker image from a Dockerfile instead of `workerImage`."""

    cpu_architecture: CpuArchitecture = CpuArchitecture.X86_64
    """CPU architecture of every fleet task; images must be built for it."""

    resources: SessionResources = Field(default_factory=SessionResources)
    """CPU, memory and disk of each sandbox (per-session) or pool worker (pool)."""

    max_concurrent_sessions: Annotated[int, Field(ge=1, le=5000)] = 20
    """Per-session mode: cap on sandboxes running at once; the dispatcher leaves work queued
    beyond it. Changing it changes one environment variable, never the resource count."""

    pool_size: Annotated[int, Field(ge=1, le=500)] = 2
    """Pool mode: number of long-running workers."""

    poller_replicas: Annotated[int, Field(ge=1, le=10)] = 1
    """Per-session mode: poller/dispatcher replicas; prod needs at least 2."""

    max_idle_seconds: Annotated[int, Field(ge=1, le=3600)] = 60
    """`--max-idle`: how long a worker waits after an idle `end_turn` before exiting."""

    api_proxy: ApiProxySettings = Field(default_factory=ApiProxySettings)
    """Per-session mode: the API proxy that keeps the environment key out of every sandbox."""

    task_scoped_access: bool = True
    """Per-session mode on AWS: each sandbox may write artifacts only under its own task's prefix
    and read only its own work secret, both keyed on its task-role session (`aws:userid`, which
    ECS names after the task). false: any sandbox may write under every task's artifact prefix
    and read any work secret whose name it learns; a reported weakening, for accounts where
    sandboxes fail with AccessDenied on their own secret or artifacts."""

    enable_exec: bool = False
    """ECS Exec into the poller or pool workers (per-session sandboxes are started by the
    dispatcher without it). Off by default; enabling it is reported as a weakening."""

    queue_depth_alarm: Annotated[int, Field(ge=1, le=100000)] = 50
    """Alarm when the work queue's `depth` stays above this many items for 5 minutes."""

    artifacts: ArtifactSettings = Field(default_factory=ArtifactSettings)
    """Artifacts bucket settings."""

    alarms: AlarmSettings = Field(default_factory=AlarmSettings)
    """Where the fleet's health alarms are sent."""

    cloudflare: Annotated[CloudflareSettings | None, BuiltWhenSet()] = None
    """`provider: cloudflare` settings (docs/providers.md)."""

    daytona: Annotated[DaytonaSettings | None, BuiltWhenSet()] = None
    """`provider: daytona` settings (docs/providers.md)."""

    modal: Annotated[ModalSettings | None, BuiltWhenSet()] = None
    """`provider: modal` settings (docs/providers.md)."""

    vercel: Annotated[VercelSettings | None, BuiltWhenSet()] = None
    """`provider: vercel` settings (docs/providers.md)."""

    @property
    def api_proxy_disabled(self) -> bool:
        """Self-hosted per-session sandboxes that would hold the environment key themselves."""
        return (
            self.provider is SandboxProvider.SELF_HOSTED
            and self.mode is WorkerMode.PER_SESSION
            and not self.api_proxy.enabled
        )

    @property
    def task_scoping_off(self) -> bool:
        """Self-hosted per-session sandboxes whose artifacts and work secrets are not task-scoped."""
        return (
            self.provider is SandboxProvider.SELF_HOSTED
            and self.mode is WorkerMode.PER_SESSION
            and not self.task_scoped_access
        )

    def rule_errors(self) -> Iterator[PydanticCustomError]:
        # The chosen managed provider's section is required; the others are refused.
        yield from provider_section_errors(self)
        if self.provider is not SandboxProvider.SELF_HOSTED:
            for name in ("session_build", "worker_build"):
                if getattr(self, name) is not None:
                    key = to_camel(name)
                    yield invalid(
                        f"sandboxes.{key} is only read with provider: self-hosted",
                        f"remove it; the {self.provider.value} images are set under "
                        f"sandboxes.{self.provider.value}",
                        field=key,
                    )
            return
        if self.environment_id is None:
            yield invalid(
                "self-hosted sandboxes need the environment ID",
                "set stockade:sandboxes.environmentId to the env_... ID of a self_hosted environment",
                field="environmentId",
            )
        if self.environment_key is None:
            yield invalid(
                "self-hosted sandboxes need the environment key",
                "run `pulumi config set --secret --path 'stockade:sandboxes.environmentKey' "
                "sk-ant-oat01-...` or give an existing secret's ARN",
                field="environmentKey",
            )
        yield from image_errors(self)
        yield from mode_knob_errors(self)


def image_errors(sandboxes: SandboxSettings) -> Iterator[PydanticCustomError]:
    """Each mode names exactly the images it runs, given either by reference or by build."""
    if sandboxes.session_image is not None and sandboxes.session_build is not None:
        yield invalid(
            "sessionImage and sessionBuild both name the session image",
            "keep one: a pinned reference, or a build Stockade pushes to ECR",
            field="sessionBuild",
        )
    if sandboxes.worker_image is not None and sandboxes.worker_build is not None:
        yield invalid(
            "workerImage and workerBuild both name the worker image",
            "keep one: a pinned reference, or a build Stockade pushes to ECR",
            field="workerBuild",
        )
    has_session = sandboxes.session_image is not None or sandboxes.session_build is not None
    has_worker = sandboxes.worker_image is not None or sandboxes.worker_build is not None
    if sandboxes.mode is WorkerMode.PER_SESSION:
        if not has_session:
            yield invalid(
                "per-session mode needs the session image",
                "set sandboxes.sessionImage (see images/session/Dockerfile) or sessionBuild, or mode: pool",
                field="sessionImage",
            )
        if not has_worker:
            yield invalid(
                "per-session mode needs the poller image (ant plus the dispatcher)",
                "set sandboxes.workerImage (see images/poller/Dockerfile) or workerBuild",
                field="workerImage",
            )
        return
    if has_session:
        yield invalid(
            "pool workers run sessions in their own image; the session image is not used in pool mode",
            "remove sessionImage/sessionBuild and set workerImage to an image with ant and your tools",
            field="sessionBuild" if sandboxes.session_build is not None else "sessionImage",
        )
    if not has_worker:
        yield invalid(
            "pool mode needs the workers' image (ant plus the tools sessions use)",
            "set sandboxes.workerImage or workerBuild",
            field="workerImage",
        )


# Knobs that only one mode reads: setting one in the other mode is a misunderstanding
# worth stopping, not ignoring (e.g. expecting maxConcurrentSessions to cap a pool).
_PER_SESSION_ONLY = ("max_concurrent_sessions", "poller_replicas", "api_proxy", "task_scoped_access")
_POOL_ONLY = ("pool_size",)


def mode_knob_errors(sandboxes: SandboxSettings) -> Iterator[PydanticCustomError]:
    pool = sandboxes.mode is WorkerMode.POOL
    wrong_mode = _PER_SESSION_ONLY if pool else _POOL_ONLY
    for name in wrong_mode:
        if name in sandboxes.model_fields_set:
            key = to_camel(name)
            hint = (
                "in pool mode, poolSize sets how many workers run"
                if pool
                else "in per-session mode, maxConcurrentSessions caps sandboxes, pollerReplicas "
                "sets the pollers, apiProxy guards each sandbox's key and taskScopedAccess its "
                "artifacts and work secret"
            )
            yield invalid(
                f"sandboxes.{key} is not read in {sandboxes.mode.value} mode",
                f"remove it ({hint})",
                field=key,
            )
