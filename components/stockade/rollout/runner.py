"""The wave runner: start stacks in plan order under the caps, stop on failures, cancel cleanly.

The main thread schedules; one driver thread per running stack assumes its role (in this
process, so the STS call is made with the operator's credentials) and then relays its
worker's messages. The Pulumi CLI itself only ever runs inside the workers.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from stockade.rollout.credentials import CredentialError, CredentialSource
from stockade.rollout.environment import pulumi_home_for, worker_environment
from stockade.rollout.locks import lock_path
from stockade.rollout.operations import Operation
from stockade.rollout.plan import LoadedPlan, StackTarget, Wave
from stockade.rollout.pool import WorkerPool
from stockade.rollout.process import Exit, WorkerFailedError, WorkerProcess
from stockade.rollout.protocol import Job, Outcome, StackStatus
from stockade.rollout.state import StackRecord, StateStore, StateWriter, current_commit
from stockade.rollout.view import RolloutView, StackView, WaveStatus, WaveView

TICK = 0.1
"""How often the scheduler looks up from waiting; results wake it immediately."""

KILL_WAIT = 3.0
"""After SIGTERM and again after SIGKILL, how long to wait for a worker to go."""

WARM_BEFORE_BAKE_ENDS = 5.0


class Observer(Protocol):
    def event(self, message: str) -> None: ...


class _Silent:
    def event(self, message: str) -> None:
        return None


@dataclass(frozen=True)
class RunOptions:
    operation: Operation
    state_path: Path
    resume: bool = False
    cancel_grace_seconds: float = 30.0
    """After Ctrl-C, how long in-flight stacks get to stop before their workers are terminated."""
    prewarm: bool = True
    """Start workers ahead of need (see pool.py)."""
    worker_env: Mapping[str, str] = field(default_factory=dict)
    """Extra variables for every worker (e.g. PATH to a particular pulumi)."""
    commit: str | None = None
    """The commit results are recorded against; detected with git when unset."""


class StackDriver:
    """Runs one stack: credentials, a worker, the job, and the worker's messages."""

    def __init__(self, rollout: Rollout, target: StackTarget, reserved: WorkerProcess | None) -> None:
        self._rollout = rollout
        self.target = target
        self._reserved = reserved
        self._lock = threading.Lock()
        self._cancelled = False
        self._worker: WorkerProcess | None = None
        self._thread = threading.Thread(target=self._run, name=f"stack-{target.stack}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def interrupt(self) -> None:
        with self._lock:
            self._cancelled = True
            worker = self._worker
        if worker is not None:
            worker.interrupt()

    def terminate(self) -> None:
        if self._worker is not None:
            self._worker.terminate()

    def kill(self) -> None:
        if self._worker is not None:
            self._worker.kill()

    def _run(self) -> None:
        try:
            outcome = self._drive()
        except Exception as exc:  # a driver bug must fail its stack, not hang the rollout
            if self._reserved is not None and self._worker is None:
                self._reserved.dismiss()
            outcome = Outcome(StackStatus.FAILED, error=f"internal error: {type(exc).__name__}: {exc}")
        self._rollout.done(self.target.stack, outcome)

    def _drive(self) -> Outcome:
        rollout, target = self._rollout, self.target
        backend = rollout.loaded.plan.backend_for(target)
        rollout.view.update_stack(
            target.stack, status=StackStatus.STARTING, activity="assuming role", started_at=time.time()
        )
        try:
            credentials = rollout.credentials.credentials_for(target, backend)
        except CredentialError as exc:
            if self._reserved is not None:
                self._reserved.dismiss()
            return Outcome(StackStatus.FAILED, error=str(exc))
        rollout.view.update_stack(target.stack, activity="waiting for a worker")
        try:
            worker = rollout.pool.take(self._reserved)
        except WorkerFailedError as exc:
            return Outcome(StackStatus.FAILED, error=str(exc))
        with self._lock:
            if self._cancelled:
                worker.dismiss()
                return Outcome(StackStatus.CANCELLED, error="cancelled before the operation started")
            self._worker = worker
        state_dir = rollout.state.directory
        job = Job(
            stack=target.stack,
            operation=rollout.options.operation,
            work_dir=str(rollout.loaded.project_dir),
            pulumi_home=str(pulumi_home_for(state_dir, target.stack)),
            lock_path=str(lock_path(state_dir, target.stack)),
            log_path=str(state_dir / "logs" / f"{target.stack}.{rollout.options.operation.value}.log"),
            env={**credentials.environment(target.region), **(backend.environment() if backend else {})},
            cancel_after_seconds=max(1.0, rollout.options.cancel_grace_seconds / 2),
            secrets_provider=backend.secrets_provider if backend else None,
        )
        worker.start(job)
        rollout.view.update_stack(target.stack, status=StackStatus.RUNNING, activity="starting the operation")
        outcome: Outcome | None = None
        code: int | None = None
        for message in worker.messages():
            if isinstance(message, Exit):
                code = message.code
                break
            if message.get("type") == "progress":
                rollout.view.update_stack(target.stack, activity=str(message.get("text", ""))[:120])
            elif message.get("type") == "result":
                outcome = Outcome.from_message(message)
                break
        if outcome is not None:
            with self._lock:
                reusable = not self._cancelled and outcome.status is not StackStatus.CANCELLED
                if reusable:
                    self._worker = None  # an interrupt from now on is not this stack's
            if reusable:
                rollout.pool.release(worker)
            else:
                worker.dismiss()
                worker.reap()
            return outcome
        if self._cancelled:
            return Outcome(
                StackStatus.CANCELLED,
                error="terminated after the cancel grace period; the stack may hold a pending operation "
                "(check `pulumi stack --show-urns` and `pulumi cancel`)",
            )
        return Outcome(
            StackStatus.FAILED,
            error=f"the worker exited with code {code} without a result; see {job.log_path}",
        )


class Rollout:
    def __init__(
        self,
        loaded: LoadedPlan,
        options: RunOptions,
        credentials: CredentialSource,
        observer: Observer | None = None,
    ) -> None:
        self.loaded = loaded
        self.options = options
        self.credentials = credentials
        self.observer: Observer = observer or _Silent()
        self.state = StateStore(options.state_path)
        self.commit = options.commit if options.commit is not None else current_commit(loaded.project_dir)
        self.pool = WorkerPool(
            worker_environment(options.worker_env),
            log_path=self.state.directory / "logs" / "workers.log",
            cwd=loaded.project_dir,
            prewarm=options.prewarm,
        )
        self.view = self._initial_view()
        self._done: queue.Queue[tuple[str, Outcome]] = queue.Queue()
        self._cancel = threading.Event()
        self._force = threading.Event()
        self._writer: StateWriter | None = None  # started by run()

    def _initial_view(self) -> RolloutView:
        plan = self.loaded.plan
        waves = [
            WaveView(
                name=wave.name,
                cap=plan.effective_cap(wave),
                tolerance=wave.failure_tolerance,
                bake_seconds=wave.bake_time,
                stacks=[t.stack for t in wave.stacks],
            )
            for wave in plan.waves
        ]
        stacks = {
            target.stack: StackView(target.stack, wave.name, target.account_id, target.region)
            for _, wave, target in plan.targets()
        }
        return RolloutView(
            operation=self.options.operation,
            plan_path=str(self.loaded.path),
            commit=self.commit,
            waves=waves,
            stacks=stacks,
        )

    # -- called from other threads -------------------------------------------------------

    def cancel(self) -> None:
        """Ctrl-C: stop starting stacks and cancel in-flight ones. A second call stops waiting."""
        if self._cancel.is_set():
            self._force.set()
        self._cancel.set()

    def done(self, stack: str, outcome: Outcome) -> None:
        self._done.put((stack, outcome))

    # -- the schedule ---------------------------------------------------------------------

    def run(self) -> RolloutView:
        self.state.directory.mkdir(parents=True, exist_ok=True)
        done = self.state.done(self.options.operation, self.commit)  # a broken state file stops us here
        if self.options.resume:
            self._mark_resumed(done)
        self._writer = StateWriter(self.state)
        plan = self.loaded.plan
        try:
            for index, wave in enumerate(plan.waves):
                if self._cancel.is_set() or self.view.stopped_reason:
                    self._abandon(index)
                    break
                if not self._run_wave(index, wave):
                    self._abandon(index + 1)
                    break
                # Only a change to the cloud has anything to bake; previews and drift checks go straight on.
                bakes = self.options.operation.changes_cloud and index + 1 < len(plan.waves)
                if bakes and not self._bake(index, wave):
                    self._abandon(index + 1)
                    break
        finally:
            self.pool.close()
            self._writer.close()  # every result is on disk before run() returns
            with self.view.lock:
                self.view.finished_at = time.time()
                self.view.cancelled = self._cancel.is_set()
        return self.view

    def _mark_resumed(self, done: dict[str, StackRecord]) -> None:
        for _, _, target in self.loaded.plan.targets():
            record = done.get(target.stack)
            if record is not None:
                self.view.update_stack(
                    target.stack,
                    status=StackStatus.SKIPPED,
                    changes=dict(record.changes),
                    started_at=record.started_at,
                    finished_at=record.finished_at,
                    activity=f"done at {str(self.commit)[:12]}",
                )
                self.observer.event(f"{target.stack}: skipped (already succeeded at this commit)")

    def _run_wave(self, index: int, wave: Wave) -> bool:
        """Run one wave; True when the rollout may continue to the next one."""
        cap = self.loaded.plan.effective_cap(wave)
        pending = deque(t for t in wave.stacks if self.view.stacks[t.stack].status is StackStatus.PENDING)
        if not pending:
            self.view.update_wave(index, status=WaveStatus.SUCCEEDED)
            return True
        self.view.update_wave(index, status=WaveStatus.RUNNING)
        self.observer.event(f"wave {wave.name}: starting {len(pending)} stack(s), at most {cap} at once")
        running: dict[str, StackDriver] = {}
        failures = 0
        stopping = False
        while (pending and not stopping) or running:
            if self._cancel.is_set():
                self._cancel_running(running)
                self._not_started(pending)
                self.view.update_wave(index, status=WaveStatus.CANCELLED, failures=failures)
                return False
            while pending and not stopping and len(running) < cap:
                target = pending.popleft()
                driver = StackDriver(self, target, self.pool.reserve())
                running[target.stack] = driver
                driver.start()
            self.pool.warm(self._demand(index, pending, cap, stopping, len(running)))
            try:
                stack, outcome = self._done.get(timeout=TICK)
            except queue.Empty:
                continue
            driver = running.pop(stack)
            driver.join()
            self._finish(stack, outcome)
            if outcome.status is StackStatus.FAILED:
                failures += 1
                self.view.update_wave(index, failures=failures)
                if failures > wave.failure_tolerance and not stopping:
                    stopping = True
                    reason = (
                        f"wave {wave.name}: {failures} failure(s), tolerance {wave.failure_tolerance}; "
                        "no further stacks or waves will start"
                    )
                    with self.view.lock:
                        self.view.stopped_reason = reason
                    self.observer.event(reason)
        if stopping:
            self._not_started(pending)
            self.view.update_wave(index, status=WaveStatus.FAILED)
            return False
        self.view.update_wave(index, status=WaveStatus.SUCCEEDED)
        return True

    def _demand(self, index: int, pending: deque[StackTarget], cap: int, stopping: bool, running: int) -> int:
        """Idle workers worth keeping warm, beyond the running stacks' workers (which come back
        to the pool when their stacks finish): for this wave's next starts, else the next wave's."""
        if stopping or self._cancel.is_set():
            return 0
        if pending:
            return max(0, min(cap, len(pending)) - running)
        waves = self.loaded.plan.waves
        baking = self.options.operation.changes_cloud and waves[index].bake_time > WARM_BEFORE_BAKE_ENDS
        if index + 1 < len(waves) and not baking:
            return max(0, self._wave_demand(index + 1) - running)
        return 0

    def _wave_demand(self, index: int) -> int:
        wave = self.loaded.plan.waves[index]
        unstarted = sum(1 for t in wave.stacks if self.view.stacks[t.stack].status is StackStatus.PENDING)
        return min(self.loaded.plan.effective_cap(wave), unstarted)

    def _finish(self, stack: str, outcome: Outcome) -> None:
        finished = time.time()
        self.view.update_stack(
            stack,
            status=outcome.status,
            changes=dict(outcome.changes),
            error=outcome.error,
            preview=outcome.preview,
            finished_at=finished,
            activity="",
        )
        view = self.view.stacks[stack]
        assert self._writer is not None, "stacks finish only inside run()"
        self._writer.put(
            StackRecord(
                stack=stack,
                wave=view.wave,
                operation=self.options.operation,
                status=outcome.status,
                commit=self.commit,
                started_at=view.started_at,
                finished_at=finished,
                changes=dict(outcome.changes),
                error=outcome.error,
            )
        )
        detail = f": {outcome.error}" if outcome.error else ""
        self.observer.event(f"{stack}: {outcome.status.value}{detail}")

    def _not_started(self, pending: deque[StackTarget]) -> None:
        while pending:
            self.view.update_stack(pending.popleft().stack, status=StackStatus.NOT_STARTED)

    def _abandon(self, first_wave: int) -> None:
        status = WaveStatus.CANCELLED if self._cancel.is_set() else WaveStatus.NOT_STARTED
        for index in range(first_wave, len(self.loaded.plan.waves)):
            wave = self.loaded.plan.waves[index]
            if self.view.waves[index].status is WaveStatus.PENDING:
                self.view.update_wave(index, status=status)
            self._not_started(
                deque(t for t in wave.stacks if self.view.stacks[t.stack].status is StackStatus.PENDING)
            )

    def _cancel_running(self, running: dict[str, StackDriver]) -> None:
        if running:
            self.observer.event(f"cancelling {len(running)} running stack(s): {', '.join(sorted(running))}")
        for driver in running.values():
            driver.interrupt()
        self._collect(running, self.options.cancel_grace_seconds)
        if running:
            for driver in running.values():
                driver.terminate()
            self._collect(running, KILL_WAIT, forced=True)
        if running:
            for driver in running.values():
                driver.kill()
            self._collect(running, KILL_WAIT, forced=True)
        for stack in list(running):
            # A driver still blocked (e.g. in an STS call) is recorded now and left behind.
            running.pop(stack)
            self._finish(
                stack, Outcome(StackStatus.CANCELLED, error="cancelled; its driver did not stop in time")
            )

    def _collect(self, running: dict[str, StackDriver], seconds: float, *, forced: bool = False) -> None:
        deadline = time.monotonic() + seconds
        while running and time.monotonic() < deadline:
            if self._force.is_set() and not forced:
                return
            try:
                stack, outcome = self._done.get(timeout=TICK)
            except queue.Empty:
                continue
            driver = running.pop(stack, None)
            if driver is not None:
                driver.join(KILL_WAIT)
            if outcome.status is StackStatus.SUCCEEDED or outcome.status is StackStatus.FAILED:
                self._finish(stack, outcome)  # it ended on its own before the cancel landed
            else:
                self._finish(
                    stack, Outcome(StackStatus.CANCELLED, changes=outcome.changes, error=outcome.error)
                )

    def _bake(self, index: int, wave: Wave) -> bool:
        """Wait out the wave's bake time; False if cancelled meanwhile."""
        if wave.bake_time <= 0:
            return True
        finishes = [self.view.stacks[t.stack].finished_at for t in wave.stacks]
        last = max((f for f in finishes if f is not None), default=time.time())
        until = last + wave.bake_time
        if until <= time.time():
            return True
        self.view.update_wave(index, status=WaveStatus.BAKING, bake_until=until)
        self.observer.event(
            f"wave {wave.name}: baking until {time.strftime('%H:%M:%S', time.localtime(until))}"
        )
        while time.time() < until:
            if self._cancel.is_set():
                self.view.update_wave(index, status=WaveStatus.CANCELLED)
                return False
            if until - time.time() <= WARM_BEFORE_BAKE_ENDS:
                self.pool.warm(self._wave_demand(index + 1))
            time.sleep(min(TICK, max(0.0, until - time.time())))
        self.view.update_wave(index, status=WaveStatus.SUCCEEDED, bake_until=None)
        return True
