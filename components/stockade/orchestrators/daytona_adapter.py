"""The Daytona adapter: one Daytona sandbox per session, from a snapshot Stockade names.

SDK: `daytona` on PyPI (daytona.io/docs/en/python-sdk). Calls made, each with its timeout:
`Daytona.snapshot.get/create`, `Daytona.create`, `Daytona.get`, `Daytona.list`,
`Daytona.start/stop/delete`, `Sandbox.set_labels`, `Sandbox.fs.upload_file`,
`Sandbox.process.create_session/execute_session_command/get_session_command`.
tests/test_orchestrator_adapters.py checks each against the installed SDK's signature.

The work secret reaches the sandbox as a 0600 file the worker command sources and deletes
before `exec ant beta:worker run`: never in a command line, never in the sandbox's creation
request (which Daytona keeps with the sandbox and shows in its dashboard), and a kept sandbox
restarted for the session's next work item gets that item's secret the same way.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from stockade.orchestrators.config import OrchestratorConfig
from stockade.orchestrators.provider import (
    WORKDIR,
    Launched,
    ManagedSandbox,
    RetentionMode,
    SandboxSpec,
    image_name,
    import_sdk,
)
from stockade.workqueue.errors import ConfigError, LaunchError

SECRET_FILE = "/tmp/.stockade-work.env"  # noqa: S105, S108 - a path inside the session sandbox
LABEL_COMMAND = "stockade.command-id"
LABEL_PROCESS_SESSION = "stockade.process-session"
# The reference snapshot's size (daytonaio/daytona guides/python/claude/claude-managed-agents).
DEFAULT_RESOURCES = {"cpu": 2, "memory": 8, "disk": 10}
_MINUTES_PER_DAY = 24 * 60


def worker_command(command: tuple[str, ...] | list[str]) -> str:
    """Source the secret file, delete it, then exec the worker: the secret never sits in argv."""
    secret = shlex.quote(SECRET_FILE)
    return f"set -a && . {secret} && set +a && rm -f {secret} && cd {WORKDIR} && exec " + " ".join(
        shlex.quote(part) for part in command
    )


def secret_file(environment: Mapping[str, str]) -> bytes:
    return "".join(f"{name}={shlex.quote(value)}\n" for name, value in sorted(environment.items())).encode()


class DaytonaProvider:
    name = "daytona"

    def __init__(
        self, client: Any, sdk: Any, config: OrchestratorConfig, *, target: str | None = None
    ) -> None:
        self._client = client
        self._sdk = sdk
        self._config = config
        self._target = target
        self.snapshot = image_name(config.session_image)

    @classmethod
    def from_environ(cls, config: OrchestratorConfig, environ: Mapping[str, str]) -> DaytonaProvider:
        daytona = import_sdk("daytona")
        key = environ.get("DAYTONA_API_KEY", "").strip()
        if not key:
            raise ConfigError("DAYTONA_API_KEY is not set; the ProviderBridge delivers it as a secret")
        target = environ.get("DAYTONA_TARGET", "").strip() or None
        client = daytona.Daytona(
            daytona.DaytonaConfig(
                api_key=key, api_url=environ.get("DAYTONA_API_URL", "").strip() or None, target=target
            )
        )
        return cls(client, daytona, config, target=target)

    # -- SandboxProvider ----------------------------------------------------------------------
    def prepare(self) -> None:
        """Create the snapshot `stockade-session-<sha12 of the image>` unless it exists."""
        try:
            self._client.snapshot.get(self.snapshot)
            return
        except self._sdk.DaytonaNotFoundError:
            pass
        params = self._sdk.CreateSnapshotParams(
            name=self.snapshot,
            image=self._config.session_image,
            resources=self._sdk.Resources(**DEFAULT_RESOURCES),
        )
        self._client.snapshot.create(params, timeout=self._config.launch_timeout)

    def find(self, name: str) -> ManagedSandbox | None:
        try:
            sandbox = self._client.get(name, request_timeout=self._config.call_timeout)
        except self._sdk.DaytonaNotFoundError:
            return None
        return self._managed(sandbox)

    def launch(self, spec: SandboxSpec, existing: ManagedSandbox | None = None) -> Launched:
        timeout = self._config.launch_timeout
        created = False
        if existing is not None:
            sandbox = existing.handle
            if not existing.running:
                self._client.start(sandbox, timeout=timeout)
        else:
            sandbox = self._client.create(self._create_params(spec), timeout=timeout)
            created = True
        try:
            return self._start_worker(sandbox, spec)
        except BaseException:
            if created:  # a sandbox without a worker helps nobody: remove it at once
                self._client.delete(sandbox, timeout=timeout)
            raise

    def exit_code(self, sandbox: Launched) -> int | None:
        session_id = sandbox.extra.get("process_session")
        command_id = sandbox.extra.get("command_id")
        if not session_id or not command_id:
            # Adopted without its command's ID: the sandbox's state is all there is to watch.
            refreshed = self._client.get(sandbox.name, request_timeout=self._config.call_timeout)
            return None if str(getattr(refreshed, "state", "")).endswith("started") else 0
        command = sandbox.handle.process.get_session_command(
            session_id, command_id, request_timeout=self._config.call_timeout
        )
        code = getattr(command, "exit_code", None)
        return code if isinstance(code, int) else None

    def stop(self, sandbox: Launched) -> None:
        self._client.stop(sandbox.handle, timeout=self._config.launch_timeout)

    def delete(self, sandbox: Launched) -> None:
        self._client.delete(sandbox.handle, timeout=self._config.launch_timeout)

    def list_managed(self, labels: Mapping[str, str]) -> list[ManagedSandbox]:
        query = self._sdk.ListSandboxesQuery(labels=dict(labels))
        return [self._managed(s) for s in self._client.list(query, request_timeout=self._config.call_timeout)]

    # -- helpers ------------------------------------------------------------------------------
    def _create_params(self, spec: SandboxSpec) -> Any:
        keep = self._config.retention is RetentionMode.KEEP
        return self._sdk.CreateSandboxFromSnapshotParams(
            name=spec.name,
            snapshot=self.snapshot,
            labels=dict(spec.labels),
            # Only the identifiers; the work secret goes through the file (module docstring).
            env_vars=dict(spec.environment),
            # Stockade stops or deletes the sandbox itself when the session ends.
            auto_stop_interval=0,
            # Kept: Daytona deletes it after MAX_IDLE_DAYS stopped (the sweep is the backstop).
            auto_delete_interval=self._config.max_idle_days * _MINUTES_PER_DAY if keep else 0,
            domain_allow_list=",".join(spec.allowed_domains) if spec.allowed_domains else None,
            public=False,
            target=self._target,
        )

    def _start_worker(self, sandbox: Any, spec: SandboxSpec) -> Launched:
        timeout = int(self._config.call_timeout)
        sandbox.fs.upload_file(secret_file(spec.full_environment()), SECRET_FILE, timeout=timeout)
        process_session = f"stockade-worker-{spec.labels.get('stockade.work-id', 'item')}"
        sandbox.process.create_session(process_session, request_timeout=self._config.call_timeout)
        response = sandbox.process.execute_session_command(
            process_session,
            self._sdk.SessionExecuteRequest(command=worker_command(list(spec.command)), run_async=True),
            timeout=timeout,
        )
        command_id = getattr(response, "cmd_id", None)
        if not command_id:
            raise LaunchError("daytona: the worker command was not started (no command ID returned)")
        sandbox.set_labels(
            {**spec.labels, LABEL_PROCESS_SESSION: process_session, LABEL_COMMAND: command_id},
            request_timeout=self._config.call_timeout,
        )
        return Launched(
            handle=sandbox,
            name=spec.name,
            extra={"process_session": process_session, "command_id": command_id},
        )

    def _managed(self, sandbox: Any) -> ManagedSandbox:
        labels = dict(getattr(sandbox, "labels", None) or {})
        state = str(getattr(sandbox, "state", "") or "")
        running = state.endswith("started") or state.endswith("starting")
        return ManagedSandbox(
            handle=sandbox,
            name=str(getattr(sandbox, "name", "")),
            labels=labels,
            running=running,
            idle_days=None if running else _days_since(getattr(sandbox, "updated_at", None)),
            extra={
                "process_session": labels.get(LABEL_PROCESS_SESSION),
                "command_id": labels.get(LABEL_COMMAND),
            },
        )


def _days_since(stamp: object) -> float | None:
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        then = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    return (datetime.now(UTC) - then).total_seconds() / 86400
