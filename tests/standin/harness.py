"""Run rollouts in-process against the stand-in CLI, with STS answered by moto.

The STS step happens in the rollout's own process, so in-process moto serves it; the
workers and the stand-in run as real child processes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from stockade.rollout.backend import Backend
from stockade.rollout.credentials import RoleAssumer, StackCredentials
from stockade.rollout.operations import Operation
from stockade.rollout.plan import LoadedPlan, StackTarget, load_plan
from stockade.rollout.runner import Observer, Rollout, RunOptions
from stockade.rollout.view import RolloutView

from . import StandIn, install
from .project import WaveSpec, make_project

BOUND = 60.0
"""No rollout in these tests may take longer than this."""


class RecordingAssumer(RoleAssumer):
    """The real RoleAssumer, remembering what it issued so tests can look for leaks."""

    def __init__(self) -> None:
        super().__init__(profile=None, duration_seconds=3600)
        self.issued: list[StackCredentials] = []
        self._issued_lock = threading.Lock()

    def credentials_for(self, target: StackTarget, backend: Backend | None = None) -> StackCredentials:
        credentials = super().credentials_for(target, backend)
        with self._issued_lock:
            self.issued.append(credentials)
        return credentials


class Events:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def event(self, message: str) -> None:
        self.lines.append(message)


@dataclass
class Harness:
    root: Path
    standin: StandIn
    credentials: RecordingAssumer = field(default_factory=RecordingAssumer)

    @property
    def project_dir(self) -> Path:
        return self.root / "project"

    @property
    def state_path(self) -> Path:
        return self.project_dir / ".stockade" / "rollout-state.json"

    def project(self, waves: Sequence[WaveSpec], *, max_concurrency: int = 8) -> LoadedPlan:
        plan = make_project(self.project_dir, waves, max_concurrency=max_concurrency)
        return load_plan(plan, self.project_dir)

    def rollout(
        self,
        loaded: LoadedPlan,
        operation: Operation = Operation.PREVIEW,
        *,
        resume: bool = False,
        grace: float = 5.0,
        observer: Observer | None = None,
        prewarm: bool = True,
    ) -> Rollout:
        options = RunOptions(
            operation=operation,
            state_path=self.state_path,
            resume=resume,
            cancel_grace_seconds=grace,
            prewarm=prewarm,
            worker_env=self.standin.env(),
        )
        return Rollout(loaded, options, self.credentials, observer)

    def run(
        self, loaded: LoadedPlan, operation: Operation = Operation.PREVIEW, **kwargs: object
    ) -> RolloutView:
        rollout = self.rollout(loaded, operation, **kwargs)  # type: ignore[arg-type]
        return run_bounded(rollout)


def run_bounded(rollout: Rollout, seconds: float = BOUND) -> RolloutView:
    """Run in a thread and fail (after cancelling) if it takes longer than `seconds`."""
    result: list[RolloutView] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(rollout.run())
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        rollout.cancel()
        rollout.cancel()
        thread.join(30)
        pytest.fail(f"the rollout did not finish within {seconds:.0f}s")
    if errors:
        raise errors[0]
    return result[0]


def harness_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """The body of each test module's `harness` fixture (moto stays active while it is used)."""
    from moto import mock_aws

    # The operator's own credentials: fake, and they must never reach a worker.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAOPERATOR000000000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "operator-secret-key-never-in-a-worker")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield Harness(root=tmp_path, standin=install(tmp_path / "standin"))
