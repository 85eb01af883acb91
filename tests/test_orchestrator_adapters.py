"""The Daytona and Modal adapters against STAND-INS of their SDKs' interfaces.

Every stand-in method binds its arguments to `inspect.signature` of the installed SDK's own
function or class before recording the call, so a call the real SDK would reject (a renamed
keyword, a missing argument, a field that no longer exists) fails here, and so does drift
in the SDK after an upgrade. The stand-ins are not the SDKs: they keep sandboxes in a dict.
The last tests run the orchestration core with each adapter against the stand-in vendor API.
"""

from __future__ import annotations

import inspect
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

daytona = pytest.importorskip("daytona", reason="the orchestrators extra (daytona) is not installed")
modal = pytest.importorskip("modal", reason="the orchestrators extra (modal) is not installed")

from daytona._sync.filesystem import FileSystem  # noqa: E402 - after the importorskip
from daytona._sync.process import Process  # noqa: E402
from daytona._sync.snapshot import SnapshotService  # noqa: E402

from stockade.orchestrators.config import OrchestratorConfig  # noqa: E402
from stockade.orchestrators.core import Orchestrator  # noqa: E402
from stockade.orchestrators.daytona_adapter import (  # noqa: E402
    SECRET_FILE,
    DaytonaProvider,
)
from stockade.orchestrators.modal_adapter import ModalProvider, app_name  # noqa: E402
from stockade.orchestrators.provider import (  # noqa: E402
    LABEL_WORK,
    ManagedSandbox,
    SandboxSpec,
    image_name,
    sandbox_name,
)
from stockade.orchestrators.queue import QueueClient  # noqa: E402
from stockade.workqueue.errors import ConfigError  # noqa: E402
from stockade.workqueue.workitem import Secret  # noqa: E402

from .orchestrator_support import config_environ, running, standin_queue, wait_until  # noqa: E402

SECRET = "wsec_" + "s" * 40
KEY = "sk-ant-oat01-orchestrator-adapter-test"
_SELF = object()  # stands for `self` when binding an instance method's signature


@dataclass
class Calls:
    log: list[tuple[str, inspect.BoundArguments]] = field(default_factory=list)

    def record(
        self, name: str, real: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> inspect.BoundArguments:
        bound = inspect.signature(real).bind(*args, **kwargs)  # TypeError = the SDK would reject it
        self.log.append((name, bound))
        return bound

    def named(self, name: str) -> list[inspect.BoundArguments]:
        return [b for n, b in self.log if n == name]


def checked_class(calls: Calls, real: type) -> Callable[..., Any]:
    def build(*args: Any, **kwargs: Any) -> Any:
        calls.record(real.__name__, real, *args, **kwargs)
        return real(*args, **kwargs)

    return build


def config(**overrides: str) -> OrchestratorConfig:
    return OrchestratorConfig.from_environ(config_environ("https://api.anthropic.com", KEY, **overrides))


def spec(
    work_id: str = "work_1", session_id: str = "session_1", domains: tuple[str, ...] = ()
) -> SandboxSpec:
    return SandboxSpec(
        name=sandbox_name(session_id),
        labels={
            "stockade.environment-id": "env_01StandinOrchestrator",
            LABEL_WORK: work_id,
            "stockade.session-id": session_id,
        },
        environment={"ANTHROPIC_SESSION_ID": session_id, "ANTHROPIC_WORK_ID": work_id},
        work_secret=Secret(SECRET),
        allowed_domains=domains,
    )


# -- Daytona --------------------------------------------------------------------------------------


class StandinDaytonaSandbox:
    def __init__(self, calls: Calls, params: Any) -> None:
        self._calls = calls
        self.name = params.name
        self.labels = dict(params.labels or {})
        self.env_vars = dict(params.env_vars or {})
        self.state = "started"
        self.updated_at = "2026-01-01T00:00:00Z"
        self.uploads: dict[str, bytes] = {}
        self.commands: dict[str, str] = {}
        self.exit_codes: dict[str, int | None] = {}
        self.fs = SimpleNamespace(upload_file=self._upload_file)
        self.process = SimpleNamespace(
            create_session=self._create_session,
            execute_session_command=self._execute,
            get_session_command=self._get_command,
        )

    def set_labels(self, *args: Any, **kwargs: Any) -> dict[str, str]:
        bound = self._calls.record("Sandbox.set_labels", daytona.Sandbox.set_labels, _SELF, *args, **kwargs)
        self.labels = dict(bound.arguments["labels"])
        return self.labels

    def _upload_file(self, *args: Any, **kwargs: Any) -> None:
        bound = self._calls.record("FileSystem.upload_file", FileSystem.upload_file, _SELF, *args, **kwargs)
        self.uploads[bound.arguments["dst"]] = bound.arguments["src"]

    def _create_session(self, *args: Any, **kwargs: Any) -> None:
        self._calls.record("Process.create_session", Process.create_session, _SELF, *args, **kwargs)

    def _execute(self, *args: Any, **kwargs: Any) -> Any:
        bound = self._calls.record(
            "Process.execute_session_command", Process.execute_session_command, _SELF, *args, **kwargs
        )
        command_id = f"cmd-{len(self.commands) + 1}"
        self.commands[command_id] = bound.arguments["req"].command
        self.exit_codes[command_id] = None
        return SimpleNamespace(cmd_id=command_id)

    def _get_command(self, *args: Any, **kwargs: Any) -> Any:
        bound = self._calls.record(
            "Process.get_session_command", Process.get_session_command, _SELF, *args, **kwargs
        )
        return SimpleNamespace(exit_code=self.exit_codes[bound.arguments["command_id"]])


class StandinDaytona:
    """Records `daytona.Daytona` calls after binding them to the installed SDK's signatures."""

    def __init__(self, calls: Calls, snapshots: set[str] | None = None, fail_worker: bool = False) -> None:
        self.calls = calls
        self.sandboxes: dict[str, StandinDaytonaSandbox] = {}
        self.snapshots = snapshots if snapshots is not None else set()
        self.fail_worker = fail_worker
        self.snapshot = SimpleNamespace(get=self._snapshot_get, create=self._snapshot_create)

    def _snapshot_get(self, *args: Any, **kwargs: Any) -> Any:
        bound = self.calls.record("SnapshotService.get", SnapshotService.get, _SELF, *args, **kwargs)
        if bound.arguments["name"] not in self.snapshots:
            raise daytona.DaytonaNotFoundError("no such snapshot")
        return SimpleNamespace(name=bound.arguments["name"])

    def _snapshot_create(self, *args: Any, **kwargs: Any) -> Any:
        bound = self.calls.record("SnapshotService.create", SnapshotService.create, _SELF, *args, **kwargs)
        self.snapshots.add(bound.arguments["params"].name)
        return SimpleNamespace(name=bound.arguments["params"].name)

    def create(self, *args: Any, **kwargs: Any) -> StandinDaytonaSandbox:
        bound = self.calls.record("Daytona.create", daytona.Daytona.create, _SELF, *args, **kwargs)
        params = bound.arguments["params"]
        assert params.snapshot in self.snapshots
        box = StandinDaytonaSandbox(self.calls, params)
        if self.fail_worker:
            box.process.execute_session_command = lambda *a, **k: (_ for _ in ()).throw(
                daytona.DaytonaError("stand-in: command failed")
            )
        self.sandboxes[params.name] = box
        return box

    def get(self, *args: Any, **kwargs: Any) -> StandinDaytonaSandbox:
        bound = self.calls.record("Daytona.get", daytona.Daytona.get, _SELF, *args, **kwargs)
        try:
            return self.sandboxes[bound.arguments["sandbox_id_or_name"]]
        except KeyError:
            raise daytona.DaytonaNotFoundError("no such sandbox") from None

    def list(self, *args: Any, **kwargs: Any) -> Any:
        bound = self.calls.record("Daytona.list", daytona.Daytona.list, _SELF, *args, **kwargs)
        wanted = bound.arguments["query"].labels or {}
        return iter(
            [b for b in self.sandboxes.values() if all(b.labels.get(k) == v for k, v in wanted.items())]
        )

    def start(self, *args: Any, **kwargs: Any) -> None:
        bound = self.calls.record("Daytona.start", daytona.Daytona.start, _SELF, *args, **kwargs)
        bound.arguments["sandbox"].state = "started"

    def stop(self, *args: Any, **kwargs: Any) -> None:
        bound = self.calls.record("Daytona.stop", daytona.Daytona.stop, _SELF, *args, **kwargs)
        bound.arguments["sandbox"].state = "stopped"

    def delete(self, *args: Any, **kwargs: Any) -> None:
        bound = self.calls.record("Daytona.delete", daytona.Daytona.delete, _SELF, *args, **kwargs)
        self.sandboxes.pop(bound.arguments["sandbox"].name, None)


def daytona_sdk(calls: Calls) -> SimpleNamespace:
    """The real SDK's parameter classes, each construction bound to its signature first."""
    names = (
        "CreateSnapshotParams",
        "Resources",
        "CreateSandboxFromSnapshotParams",
        "SessionExecuteRequest",
        "ListSandboxesQuery",
    )
    return SimpleNamespace(
        DaytonaNotFoundError=daytona.DaytonaNotFoundError,
        **{name: checked_class(calls, getattr(daytona, name)) for name in names},
    )


def daytona_provider(**overrides: str) -> tuple[DaytonaProvider, StandinDaytona, Calls]:
    calls = Calls()
    client = StandinDaytona(calls)
    return DaytonaProvider(client, daytona_sdk(calls), config(**overrides), target="eu"), client, calls


def test_daytona_creates_its_deterministically_named_snapshot_once() -> None:
    provider, _client, calls = daytona_provider()
    provider.prepare()
    provider.prepare()
    expected = image_name("registry.example.com/stockade/session@sha256:" + "a" * 64)
    assert provider.snapshot == expected and expected.startswith("stockade-session-")
    [created] = calls.named("SnapshotService.create")
    params = created.arguments["params"]
    assert params.name == expected and params.image.endswith("a" * 64)
    assert (params.resources.cpu, params.resources.memory, params.resources.disk) == (2, 8, 10)
    assert created.arguments["timeout"] == 5.0


def test_daytona_launch_keeps_the_secret_out_of_argv_and_the_creation_request() -> None:
    provider, client, calls = daytona_provider(STOCKADE_SANDBOX_ALLOWED_DOMAINS="pypi.org")
    provider.prepare()
    launched = provider.launch(spec(domains=("api.anthropic.com", "pypi.org")))
    [create] = calls.named("Daytona.create")
    params = create.arguments["params"]
    assert params.name == "stockade-session_1" and params.snapshot == provider.snapshot
    assert params.auto_stop_interval == 0 and params.auto_delete_interval == 0  # delete mode
    assert params.domain_allow_list == "api.anthropic.com,pypi.org" and params.public is False
    assert params.target == "eu"
    assert SECRET not in repr(params) and KEY not in repr(params)
    box = client.sandboxes["stockade-session_1"]
    uploaded = box.uploads[SECRET_FILE].decode()
    assert f"ANTHROPIC_WORK_SECRET={shlex.quote(SECRET)}" in uploaded and KEY not in uploaded
    [execute] = calls.named("Process.execute_session_command")
    request = execute.arguments["req"]
    assert request.run_async is True
    assert SECRET not in request.command and "ant beta:worker run --workdir /workspace" in request.command
    assert request.command.index("rm -f") < request.command.index("exec ant")
    assert launched.extra["command_id"] == "cmd-1"
    assert box.labels["stockade.command-id"] == "cmd-1"
    assert provider.exit_code(launched) is None
    box.exit_codes["cmd-1"] = 0
    assert provider.exit_code(launched) == 0
    for name, bound in calls.log:
        if "timeout" in bound.arguments or "request_timeout" in bound.arguments:
            value = bound.arguments.get("timeout", bound.arguments.get("request_timeout"))
            assert value, f"{name} was called without a timeout"


def test_daytona_keep_mode_sets_auto_delete_and_reuses_the_kept_sandbox() -> None:
    provider, client, calls = daytona_provider(STOCKADE_RETENTION="keep", MAX_IDLE_DAYS="3")
    provider.prepare()
    first = provider.launch(spec("work_1"))
    assert calls.named("Daytona.create")[0].arguments["params"].auto_delete_interval == 3 * 24 * 60
    provider.stop(first)
    found = provider.find("stockade-session_1")
    assert isinstance(found, ManagedSandbox) and not found.running
    second = provider.launch(spec("work_2"), existing=found)
    assert len(calls.named("Daytona.create")) == 1 and len(calls.named("Daytona.start")) == 1
    assert second.extra["command_id"] == "cmd-2"
    assert client.sandboxes["stockade-session_1"].labels[LABEL_WORK] == "work_2"


def test_daytona_removes_a_sandbox_whose_worker_did_not_start() -> None:
    calls = Calls()
    client = StandinDaytona(calls, fail_worker=True)
    provider = DaytonaProvider(client, daytona_sdk(calls), config())
    provider.prepare()
    with pytest.raises(daytona.DaytonaError):
        provider.launch(spec())
    assert len(calls.named("Daytona.delete")) == 1 and client.sandboxes == {}


def test_daytona_lists_by_labels_and_reports_idle_days() -> None:
    provider, _client, calls = daytona_provider()
    provider.prepare()
    provider.stop(provider.launch(spec()))
    [managed] = provider.list_managed({"stockade.environment-id": "env_01StandinOrchestrator"})
    assert calls.named("ListSandboxesQuery")[0].arguments["labels"] == {
        "stockade.environment-id": "env_01StandinOrchestrator"
    }
    assert not managed.running and managed.idle_days is not None and managed.idle_days > 30
    assert provider.list_managed({"stockade.environment-id": "env_other"}) == []


def test_daytona_needs_its_api_key() -> None:
    with pytest.raises(ConfigError, match="DAYTONA_API_KEY"):
        DaytonaProvider.from_environ(config(), {})


# -- Modal -----------------------------------------------------------------------------------------


class StandinModalSandbox:
    def __init__(self, calls: Calls, bound: inspect.BoundArguments) -> None:
        self._calls = calls
        self.args = bound.arguments
        self.tags = dict(bound.arguments.get("tags") or {})
        self.returncode: int | None = None
        self.object_id = "sb-standin"

    def poll(self, *args: Any, **kwargs: Any) -> int | None:
        self._calls.record("Sandbox.poll", modal.Sandbox.poll, _SELF, *args, **kwargs)
        return self.returncode

    def terminate(self, *args: Any, **kwargs: Any) -> None:
        self._calls.record("Sandbox.terminate", modal.Sandbox.terminate, _SELF, *args, **kwargs)
        self.returncode = 137 if self.returncode is None else self.returncode

    def get_tags(self, *args: Any, **kwargs: Any) -> dict[str, str]:
        self._calls.record("Sandbox.get_tags", modal.Sandbox.get_tags, _SELF, *args, **kwargs)
        return dict(self.tags)


class StandinModal:
    """A `modal` module stand-in: App, Image, Secret, Sandbox and exception, signature-checked."""

    def __init__(self, calls: Calls) -> None:
        self.calls = calls
        self.exception = modal.exception
        self.boxes: dict[str, StandinModalSandbox] = {}
        outer = self

        class App:
            @staticmethod
            def lookup(*args: Any, **kwargs: Any) -> Any:
                bound = calls.record("App.lookup", modal.App.lookup, *args, **kwargs)
                return SimpleNamespace(app_id="ap-standin", name=bound.arguments["name"])

        class Image:
            @staticmethod
            def from_registry(*args: Any, **kwargs: Any) -> Any:
                bound = calls.record("Image.from_registry", modal.Image.from_registry, *args, **kwargs)
                return SimpleNamespace(tag=bound.arguments["tag"])

        class Secret:
            @staticmethod
            def from_dict(*args: Any, **kwargs: Any) -> Any:
                bound = calls.record("Secret.from_dict", modal.Secret.from_dict, *args, **kwargs)
                return SimpleNamespace(values=dict(bound.arguments["env_dict"]))

        class Sandbox:
            @staticmethod
            def create(*args: Any, **kwargs: Any) -> StandinModalSandbox:
                bound = calls.record("Sandbox.create", modal.Sandbox.create, *args, **kwargs)
                box = StandinModalSandbox(calls, bound)
                outer.boxes[bound.arguments["name"]] = box
                return box

            @staticmethod
            def from_name(*args: Any, **kwargs: Any) -> StandinModalSandbox:
                bound = calls.record("Sandbox.from_name", modal.Sandbox.from_name, *args, **kwargs)
                box = outer.boxes.get(bound.arguments["name"])
                if box is None or box.returncode is not None:
                    raise modal.exception.NotFoundError("no running sandbox")
                return box

            @staticmethod
            def list(*args: Any, **kwargs: Any) -> Any:
                bound = calls.record("Sandbox.list", modal.Sandbox.list, *args, **kwargs)
                wanted = bound.arguments.get("tags") or {}
                return iter(
                    [
                        b
                        for b in outer.boxes.values()
                        if b.returncode is None and all(b.tags.get(k) == v for k, v in wanted.items())
                    ]
                )

        self.App, self.Image, self.Secret, self.Sandbox = App, Image, Secret, Sandbox


def test_modal_launch_runs_the_worker_with_the_secret_as_a_modal_secret_only() -> None:
    calls = Calls()
    sdk = StandinModal(calls)
    provider = ModalProvider(sdk, config(), environment_name="sandboxes")
    provider.prepare()
    [lookup] = calls.named("App.lookup")
    assert (
        lookup.arguments["name"]
        == app_name("env_01StandinOrchestrator")
        == "stockade-env_01StandinOrchestrator"
    )
    assert (
        lookup.arguments["create_if_missing"] is True and lookup.arguments["environment_name"] == "sandboxes"
    )
    launched = provider.launch(spec(domains=("api.anthropic.com",)))
    [create] = calls.named("Sandbox.create")
    arguments = create.arguments
    assert arguments["args"] == ("ant", "beta:worker", "run", "--workdir", "/workspace")
    assert arguments["name"] == "stockade-session_1" and arguments["workdir"] == "/workspace"
    assert SECRET not in repr(arguments["env"]) and KEY not in repr(arguments)
    assert arguments["secrets"][0].values == {"ANTHROPIC_WORK_SECRET": SECRET}
    assert arguments["outbound_domain_allowlist"] == ["api.anthropic.com"]
    assert arguments["timeout"] == 86400
    assert provider.exit_code(launched) is None
    sdk.boxes["stockade-session_1"].returncode = 0
    assert provider.exit_code(launched) == 0


def test_modal_finds_lists_and_terminates() -> None:
    calls = Calls()
    sdk = StandinModal(calls)
    provider = ModalProvider(sdk, config())
    provider.prepare()
    assert provider.find("stockade-session_1") is None
    launched = provider.launch(spec())
    found = provider.find("stockade-session_1")
    assert found is not None and found.running and found.labels[LABEL_WORK] == "work_1"
    [listed] = provider.list_managed({LABEL_WORK: "work_1"})
    assert listed.name == "stockade-session_1"
    assert calls.named("Sandbox.list")[0].arguments["app_id"] == "ap-standin"
    provider.delete(launched)
    assert provider.find("stockade-session_1") is None


def test_modal_refuses_keep_retention() -> None:
    with pytest.raises(ConfigError, match="keep"):
        ModalProvider(StandinModal(Calls()), config(STOCKADE_RETENTION="keep"))


def test_the_signature_check_catches_a_call_the_sdk_would_reject() -> None:
    calls = Calls()
    with pytest.raises(TypeError):
        calls.record("Sandbox.create", modal.Sandbox.create, image=None, no_such_option=True)
    with pytest.raises(TypeError):
        checked_class(calls, daytona.CreateSandboxFromSnapshotParams)(snapshot="x", no_such_field=1)


# -- each adapter under the core, against the stand-in vendor API ------------------------------------


def _orchestrate(
    provider_for: Callable[[OrchestratorConfig], Any], finish: Callable[[Any, str], None]
) -> Any:
    with standin_queue() as h:
        item = h.queue.enqueue()
        cfg = OrchestratorConfig.from_environ(config_environ(h.base_url, h.key))
        provider = provider_for(cfg)
        client = QueueClient(
            environment_id=cfg.environment_id,
            environment_key=cfg.environment_key,
            worker_id=cfg.worker_id,
            base_url=cfg.base_url,
            timeout=cfg.call_timeout,
        )
        orchestrator = Orchestrator(cfg, client, provider, tick=0.05)
        with running(orchestrator):
            wait_until(lambda: h.queue.items[item.id].state == "active", what="lease")
            time.sleep(0.1)
            finish(provider, sandbox_name(item.session_id))
            wait_until(lambda: h.queue.items[item.id].state == "stopped", what="item stopped")
        assert all(r.credential == h.key for r in h.queue.records)
        return provider


def test_the_daytona_adapter_under_the_core() -> None:
    calls = Calls()
    client = StandinDaytona(calls)

    def finish(provider: DaytonaProvider, name: str) -> None:
        box = client.sandboxes[name]
        box.exit_codes[next(iter(box.commands))] = 0

    _orchestrate(lambda cfg: DaytonaProvider(client, daytona_sdk(calls), cfg), finish)
    assert len(calls.named("Daytona.create")) == 1 and len(calls.named("Daytona.delete")) == 1


def test_the_modal_adapter_under_the_core() -> None:
    calls = Calls()
    sdk = StandinModal(calls)

    def finish(provider: ModalProvider, name: str) -> None:
        sdk.boxes[name].returncode = 0

    _orchestrate(lambda cfg: ModalProvider(sdk, cfg), finish)
    assert len(calls.named("Sandbox.create")) == 1
