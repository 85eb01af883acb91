"""The Modal adapter: one Modal Sandbox per session, in an App Stockade names.

SDK: `modal` on PyPI (modal.com/docs/reference/modal.Sandbox). Calls made: `App.lookup`,
`Image.from_registry`, `Secret.from_dict`, `Sandbox.create`, `Sandbox.from_name`,
`Sandbox.list`, `Sandbox.poll`, `Sandbox.terminate`, `Sandbox.get_tags`.
tests/test_orchestrator_adapters.py checks each against the installed SDK's signature.

* The App is `stockade-<environment ID>` (created on first use), the Sandbox
  `stockade-<session ID>`, unique within the App, so a second one for a session cannot exist.
* The Sandbox's command is the worker itself; the work secret travels as an ephemeral Modal
  Secret (`Secret.from_dict`), the identifiers as plain `env`.
* Modal Sandboxes cannot be stopped and kept: a session's files live as long as its Sandbox,
  so `retention: keep` is refused for Modal by stack validation.
* `sandboxAllowedDomains` becomes `outbound_domain_allowlist`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stockade.orchestrators.config import OrchestratorConfig
from stockade.orchestrators.provider import (
    LABEL_SESSION,
    WORKDIR,
    Launched,
    ManagedSandbox,
    RetentionMode,
    SandboxSpec,
    image_name,
    import_sdk,
)
from stockade.workqueue.errors import ConfigError


def app_name(environment_id: str) -> str:
    return f"stockade-{environment_id}"[:64]


class ModalProvider:
    name = "modal"

    def __init__(self, sdk: Any, config: OrchestratorConfig, *, environment_name: str | None = None) -> None:
        if config.retention is RetentionMode.KEEP:
            raise ConfigError(
                "STOCKADE_RETENTION=keep is not possible on Modal (Sandboxes cannot be stopped)"
            )
        self._sdk = sdk
        self._config = config
        self._environment_name = environment_name
        self.app_name = app_name(config.environment_id)
        self.image_label = image_name(config.session_image)
        self._app: Any = None
        self._image: Any = None

    @classmethod
    def from_environ(cls, config: OrchestratorConfig, environ: Mapping[str, str]) -> ModalProvider:
        modal = import_sdk("modal")
        for name in ("MODAL_TOKEN_ID", "MODAL_TOKEN_SECRET"):
            if not environ.get(name, "").strip():
                raise ConfigError(f"{name} is not set; the ProviderBridge sets it")
        return cls(modal, config, environment_name=environ.get("MODAL_ENVIRONMENT", "").strip() or None)

    # -- SandboxProvider ----------------------------------------------------------------------
    def prepare(self) -> None:
        self._app = self._sdk.App.lookup(
            self.app_name, create_if_missing=True, environment_name=self._environment_name
        )
        # Modal builds and caches the image by its reference; pinned by digest, it is one build.
        self._image = self._sdk.Image.from_registry(self._config.session_image)

    def find(self, name: str) -> ManagedSandbox | None:
        try:
            sandbox = self._sdk.Sandbox.from_name(
                self.app_name, name, environment_name=self._environment_name
            )
        except self._sdk.exception.NotFoundError:
            return None
        return self._managed(sandbox, name)

    def launch(self, spec: SandboxSpec, existing: ManagedSandbox | None = None) -> Launched:
        if existing is not None and existing.running:
            # The session's earlier Sandbox still runs an ended item: names are unique per App.
            existing.handle.terminate()
        secret = self._sdk.Secret.from_dict({"ANTHROPIC_WORK_SECRET": spec.work_secret.reveal()})
        sandbox = self._sdk.Sandbox.create(
            *spec.command,
            app=self._app,
            name=spec.name,
            tags=dict(spec.labels),
            image=self._image,
            env=dict(spec.environment),
            secrets=[secret],
            timeout=self._config.session_timeout_seconds,
            workdir=WORKDIR,
            outbound_domain_allowlist=list(spec.allowed_domains) or None,
        )
        return Launched(handle=sandbox, name=spec.name)

    def exit_code(self, sandbox: Launched) -> int | None:
        code = sandbox.handle.poll()
        return code if isinstance(code, int) else None

    def stop(self, sandbox: Launched) -> None:
        sandbox.handle.terminate()

    def delete(self, sandbox: Launched) -> None:
        sandbox.handle.terminate()

    def list_managed(self, labels: Mapping[str, str]) -> list[ManagedSandbox]:
        app_id = getattr(self._app, "app_id", None)
        return [
            self._managed(sandbox, None)
            for sandbox in self._sdk.Sandbox.list(app_id=app_id, tags=dict(labels))
        ]

    def _managed(self, sandbox: Any, name: str | None) -> ManagedSandbox:
        tags = dict(sandbox.get_tags() or {})
        session = tags.get(LABEL_SESSION, "")
        return ManagedSandbox(
            handle=sandbox,
            name=name or (f"stockade-{session}" if session else str(getattr(sandbox, "object_id", ""))),
            labels=tags,
            running=sandbox.poll() is None,
        )
