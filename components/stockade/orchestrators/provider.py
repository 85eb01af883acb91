"""What an adapter implements, and the names Stockade gives provider objects.

The core never touches a provider SDK: it hands an adapter a `SandboxSpec` and gets back an
opaque handle. Names are deterministic, so a restarted orchestrator (or a redelivered work
item) finds the sandbox of a session instead of starting a second one.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from stockade.workqueue.errors import ConfigError, LaunchError
from stockade.workqueue.workitem import Secret

WORKER_COMMAND = ("ant", "beta:worker", "run", "--workdir", "/workspace")
"""The contract's per-session command (§1.4); credentials come from the environment only."""
WORKDIR = "/workspace"

LABEL_MANAGED = "stockade.managed-by"
LABEL_ENVIRONMENT = "stockade.environment-id"
LABEL_WORK = "stockade.work-id"
LABEL_SESSION = "stockade.session-id"
MANAGED_BY = "stockade-orchestrator"


def sandbox_name(session_id: str) -> str:
    """One name per session: `stockade-<session_id>` (session IDs are [A-Za-z0-9_-])."""
    return f"stockade-{session_id}"


def image_name(session_image: str) -> str:
    """The provider-side snapshot/image name for a session image: `stockade-session-<sha12>`.

    Derived from the image reference, so a new pinned digest is a new name (never a silently
    reused old build) and every orchestrator of the stack agrees on it.
    """
    return "stockade-session-" + hashlib.sha256(session_image.encode()).hexdigest()[:12]


def import_sdk(module: str) -> Any:
    """The provider's SDK module, or a ConfigError saying how to get it (it is an optional extra)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            f"the {module} SDK is not installed; use Stockade's orchestrator image or "
            "pip install 'stockade[orchestrators]'"
        ) from None


class RetentionMode(StrEnum):
    DELETE = "delete"
    """Delete the sandbox when its session ends."""
    KEEP = "keep"
    """Stop it and keep its filesystem for `maxIdleDays` (Daytona)."""


@dataclass(frozen=True)
class SandboxSpec:
    """Everything one session's sandbox gets: its name, labels, IDs and the work secret."""

    name: str
    labels: Mapping[str, str]
    environment: Mapping[str, str]
    """Non-secret variables: the session's identifiers and the API base URL."""
    work_secret: Secret
    command: Sequence[str] = WORKER_COMMAND
    allowed_domains: Sequence[str] = ()
    """Sandbox egress allowlist, applied through the provider's network controls when set."""

    def full_environment(self) -> dict[str, str]:
        """The variables the sandbox's process sees; the only place the secret is revealed."""
        return {**self.environment, "ANTHROPIC_WORK_SECRET": self.work_secret.reveal()}


@dataclass(frozen=True)
class ManagedSandbox:
    """A sandbox the adapter found carrying Stockade's labels (orphan sweep, adoption)."""

    handle: Any
    name: str
    labels: Mapping[str, str]
    running: bool
    idle_days: float | None = None
    """Days since it stopped (None when running or unknown)."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """What the adapter needs to watch an adopted sandbox's worker (e.g. a command ID)."""

    def launched(self) -> Launched:
        return Launched(handle=self.handle, name=self.name, extra=dict(self.extra))


@dataclass
class Launched:
    """A started sandbox: the adapter's handle and whatever it needs to watch the worker."""

    handle: Any
    name: str
    extra: dict[str, Any] = field(default_factory=dict)


class SandboxProvider(Protocol):
    """The adapter interface. Each call must return or raise within its own timeout; the core
    also bounds every call (`bounded`) so a hung SDK call cannot hang the orchestrator."""

    name: str

    def prepare(self) -> None:
        """One-time setup: make sure the deterministically named snapshot/app exists."""

    def find(self, name: str) -> ManagedSandbox | None:
        """The sandbox with this name (running, or stopped and kept), if any."""

    def launch(self, spec: SandboxSpec, existing: ManagedSandbox | None = None) -> Launched:
        """Start the worker command in a new sandbox, or in `existing` (the session's kept
        sandbox, whose earlier work item has ended); on failure remove what it created."""

    def exit_code(self, sandbox: Launched) -> int | None:
        """The worker's exit code, or None while it runs."""

    def stop(self, sandbox: Launched) -> None:
        """Stop the sandbox, keeping its filesystem where the provider can."""

    def delete(self, sandbox: Launched) -> None:
        """Remove the sandbox."""

    def list_managed(self, labels: Mapping[str, str]) -> list[ManagedSandbox]:
        """Sandboxes carrying at least these labels."""


_T = TypeVar("_T")


class ProviderTimeoutError(LaunchError, event="provider.timeout"):
    """A provider call did not return within its bound."""


def bounded(
    call: Callable[[], _T], seconds: float, what: str, interrupt: threading.Event | None = None
) -> _T:
    """Run `call` with a deadline. A call past it, or still running when `interrupt` is set
    (a SIGTERM), is abandoned on a daemon thread (Python cannot kill a thread), and the
    orchestrator carries on with a ProviderTimeoutError."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=run, name=f"provider-{what}", daemon=True)
    worker.start()
    deadline = time.monotonic() + seconds
    while worker.is_alive() and time.monotonic() < deadline:
        worker.join(min(0.2, max(deadline - time.monotonic(), 0.0)))
        if interrupt is not None and interrupt.is_set() and worker.is_alive():
            raise ProviderTimeoutError(f"{what} was abandoned: the orchestrator is stopping")
    if worker.is_alive():
        raise ProviderTimeoutError(f"{what} did not return within {seconds:g}s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
