"""The orchestration loop shared by every provider: claim, launch, watch, retire.

Per work item (docs/providers.md, "How the orchestrator runs a session"):

1. poll only while a slot is free under the concurrency cap, so nothing is claimed that
   cannot start;
2. ack, then take the lease with a first heartbeat (NO_HEARTBEAT);
3. find the session's sandbox by its deterministic name, or launch it: one sandbox per work
   item, also across redeliveries and restarts;
4. heartbeat on a fixed cadence (the 412 rule: on a mismatch, watch the item instead) and
   watch the worker; a stop request stops the sandbox and the item;
5. retire the sandbox: delete it, or stop it and keep it for MAX_IDLE_DAYS.

On SIGTERM it stops claiming, lets sessions already running carry on in the provider's cloud
(the next orchestrator adopts them by label), gives launches in flight the rest of the grace,
and exits within it. At start and every JANITOR_SECONDS it sweeps orphans: sandboxes whose item
is gone or stopped are retired, kept ones past MAX_IDLE_DAYS deleted, live ones adopted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from stockade.dispatcher.logs import emit
from stockade.orchestrators.config import OrchestratorConfig
from stockade.orchestrators.provider import (
    LABEL_ENVIRONMENT,
    LABEL_MANAGED,
    LABEL_SESSION,
    LABEL_WORK,
    MANAGED_BY,
    Launched,
    ManagedSandbox,
    RetentionMode,
    SandboxProvider,
    SandboxSpec,
    bounded,
    sandbox_name,
)
from stockade.orchestrators.queue import DEFAULT_BASE_URL, Lease, QueueClient, QueueError
from stockade.workqueue.errors import DispatchError
from stockade.workqueue.workitem import WorkItem

log = logging.getLogger("stockade.orchestrators")

ENDED_STATES = frozenset({"stopping", "stopped"})
_TICK = 1.0  # how often a session checks its worker between heartbeats
_POLL_BACKOFF = 5.0


@dataclass
class _Session:
    work_id: str
    session_id: str
    thread: threading.Thread | None = None
    sandbox: Launched | None = None
    started: bool = False


@dataclass
class Stats:
    """Counters a test (or a log line at exit) reads; never used for decisions."""

    launched: int = 0
    adopted: int = 0
    retired: int = 0
    orphans: int = 0
    launch_failures: int = 0
    poll_errors: int = 0
    events: list[str] = field(default_factory=list)


class Orchestrator:
    def __init__(
        self,
        config: OrchestratorConfig,
        queue: QueueClient,
        provider: SandboxProvider,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_secret: Callable[[str], None] = lambda _: None,
        tick: float = _TICK,
    ) -> None:
        self.config = config
        self.queue = queue
        self.provider = provider
        self.clock = clock
        self.on_secret = on_secret
        self.tick = tick
        self.stopping = threading.Event()
        self.stats = Stats()
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}
        self._slot_freed = threading.Condition(self._lock)

    # -- labels and specs ---------------------------------------------------------------------
    def _selector(self) -> dict[str, str]:
        return {LABEL_MANAGED: MANAGED_BY, LABEL_ENVIRONMENT: self.config.environment_id}

    def spec_for(self, item: WorkItem) -> SandboxSpec:
        """Only this session's identifiers and work secret; never the environment key."""
        environment = {
            "ANTHROPIC_ENVIRONMENT_ID": self.config.environment_id,
            "ANTHROPIC_SESSION_ID": item.session_id,
            "ANTHROPIC_WORK_ID": item.work_id,
        }
        if self.config.base_url:
            environment["ANTHROPIC_BASE_URL"] = self.config.base_url
        return SandboxSpec(
            name=sandbox_name(item.session_id),
            labels={**self._selector(), LABEL_WORK: item.work_id, LABEL_SESSION: item.session_id},
            environment=environment,
            work_secret=item.secret,
            allowed_domains=self._allowed_domains(),
        )

    def _allowed_domains(self) -> tuple[str, ...]:
        """The configured sandbox allowlist plus the API host the worker itself must reach."""
        if not self.config.allowed_domains:
            return ()
        api_host = urlsplit(self.config.base_url or DEFAULT_BASE_URL).hostname or ""
        return tuple(sorted({*self.config.allowed_domains, api_host} - {""}))

    def _call(self, what: str, call: Callable[[], object], seconds: float | None = None) -> object:
        return bounded(
            call, seconds or self.config.call_timeout, f"{self.provider.name} {what}", self.stopping
        )

    # -- slots --------------------------------------------------------------------------------
    @property
    def live(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _wait_for_slot(self) -> bool:
        with self._slot_freed:
            while len(self._sessions) >= self.config.max_concurrent:
                if self.stopping.is_set():
                    return False
                self._slot_freed.wait(self.tick)
            return not self.stopping.is_set()

    def _register(self, item_work_id: str, session_id: str) -> _Session | None:
        with self._lock:
            if item_work_id in self._sessions:
                return None
            session = _Session(item_work_id, session_id)
            self._sessions[item_work_id] = session
            return session

    def _release(self, work_id: str) -> None:
        with self._slot_freed:
            self._sessions.pop(work_id, None)
            self._slot_freed.notify_all()

    # -- the main loop --------------------------------------------------------------------------
    def run(self) -> None:
        emit(
            log,
            logging.INFO,
            "orchestrator.starting",
            provider=self.provider.name,
            cap=self.config.max_concurrent,
            retention=self.config.retention.value,
        )
        try:
            self._call("prepare", self.provider.prepare, self.config.launch_timeout)
        except DispatchError:
            if self.stopping.is_set():  # SIGTERM while preparing: a clean stop, not a failure
                self.shutdown()
                return
            raise
        self.sweep()
        next_sweep = self.clock() + self.config.janitor_seconds
        while not self.stopping.is_set():
            if self.clock() >= next_sweep:
                self.sweep()
                next_sweep = self.clock() + self.config.janitor_seconds
            if not self._wait_for_slot():
                break
            self.poll_once()
        self.shutdown()

    def poll_once(self) -> bool:
        """Claim and start at most one item; True when one was started."""
        started = time.monotonic()
        try:
            item = self.queue.poll(self.config.poll_block_ms)
        except DispatchError as exc:
            self.stats.poll_errors += 1
            emit(log, logging.WARNING, "poll.failed", error=str(exc))
            self.stopping.wait(max(_POLL_BACKOFF * self.tick, self.tick))
            return False
        if item is None:
            self._pace(started)
            return False
        self.on_secret(item.secret.reveal())  # the log redactor learns it before anything logs
        session = self._register(item.work_id, item.session_id)
        if session is None:
            # A redelivery of an item this orchestrator already runs: never a second sandbox.
            emit(log, logging.INFO, "work.duplicate", work_id=item.work_id, session_id=item.session_id)
            self._pace(started)
            return False
        emit(log, logging.INFO, "work.claimed", work_id=item.work_id, session_id=item.session_id)
        # Daemon threads: a launch still running at the end of the grace must not hold the exit.
        thread = threading.Thread(
            target=self._serve, args=(session, item), name=f"session-{item.work_id}", daemon=True
        )
        session.thread = thread
        thread.start()
        return True

    def _pace(self, started: float) -> None:
        """After a poll that started nothing, let at least the long-poll's block time pass.

        The queue is meant to hold an empty poll for `poll_block_ms`; a server (or proxy) that
        answers at once, or redelivers an item this orchestrator already runs, would otherwise
        turn the loop into a busy spin against the vendor's API.
        """
        remaining = self.config.poll_block_ms / 1000 - (time.monotonic() - started)
        if remaining > 0:
            self.stopping.wait(remaining)

    # -- one session ----------------------------------------------------------------------------
    def _serve(self, session: _Session, item: WorkItem) -> None:
        lease = Lease(self.queue, item.work_id, self.config.lease_ttl_seconds)
        try:
            self.queue.ack(item.work_id)
            lease.beat()
            spec = self.spec_for(item)
            found = self._call("find", lambda: self.provider.find(spec.name))
            existing = found if isinstance(found, ManagedSandbox) else None
            if existing is not None and existing.running and existing.labels.get(LABEL_WORK) == item.work_id:
                # This item's sandbox already runs (a redelivery after a restart): never a second.
                emit(log, logging.INFO, "sandbox.found", work_id=item.work_id, sandbox=existing.name)
                sandbox = existing.launched()
            else:
                launched = self._call(
                    "launch", lambda: self.provider.launch(spec, existing), self.config.launch_timeout
                )
                assert isinstance(launched, Launched)
                sandbox = launched
                self.stats.launched += 1
                emit(
                    log,
                    logging.INFO,
                    "sandbox.launched",
                    work_id=item.work_id,
                    sandbox=sandbox.name,
                    reused=existing is not None,
                )
            session.sandbox, session.started = sandbox, True
            if self.stopping.is_set():
                return  # running in the provider's cloud; the next orchestrator adopts it
            self._watch(session, lease)
        except DispatchError as exc:
            self.stats.launch_failures += 1
            # The lease lapses and the queue hands the item out again (§1.1: work stays queued).
            emit(log, logging.ERROR, exc.event, work_id=item.work_id, error=str(exc))
        except Exception as exc:
            self.stats.launch_failures += 1
            emit(log, logging.ERROR, "session.crashed", work_id=item.work_id, error=type(exc).__name__)
        finally:
            self._release(item.work_id)

    def _watch(self, session: _Session, lease: Lease) -> None:
        sandbox = session.sandbox
        assert sandbox is not None
        next_beat = self.clock() + self.config.heartbeat_seconds
        state = lease.state
        while True:
            if self.stopping.is_set():
                return
            code = self._call("exit_code", lambda: self.provider.exit_code(sandbox))
            if code is not None:
                emit(log, logging.INFO, "worker.exited", work_id=session.work_id, exit_code=code)
                break
            if self.clock() >= next_beat:
                next_beat = self.clock() + self.config.heartbeat_seconds
                try:
                    state = lease.beat()
                except QueueError as exc:
                    emit(log, logging.WARNING, "heartbeat.failed", work_id=session.work_id, error=str(exc))
                else:
                    if state is None or state in ENDED_STATES:
                        emit(log, logging.INFO, "work.stop_requested", work_id=session.work_id, state=state)
                        break
            self.stopping.wait(self.tick)
        self._retire(sandbox, session.work_id)
        if state != "stopped" and state is not None:
            # The worker is gone, so nothing would move the item on from `stopping`: end it
            # (force) rather than leave it to the lease.
            try:
                self.queue.stop(session.work_id, force=True)
            except QueueError as exc:
                emit(log, logging.WARNING, "work.stop_failed", work_id=session.work_id, error=str(exc))

    def _retire(self, sandbox: Launched, work_id: str) -> None:
        """Delete the sandbox, or stop it and keep it (the provider deletes it after MAX_IDLE_DAYS,
        and the sweep is the backstop)."""
        try:
            if self.config.retention is RetentionMode.KEEP:
                self._call("stop", lambda: self.provider.stop(sandbox), self.config.launch_timeout)
            else:
                self._call("delete", lambda: self.provider.delete(sandbox), self.config.launch_timeout)
            self.stats.retired += 1
            emit(
                log,
                logging.INFO,
                "sandbox.retired",
                work_id=work_id,
                sandbox=sandbox.name,
                retention=self.config.retention.value,
            )
        except Exception as exc:
            # The next sweep finds it by its labels and tries again.
            emit(log, logging.WARNING, "sandbox.retire_failed", work_id=work_id, error=type(exc).__name__)

    # -- orphans ---------------------------------------------------------------------------------
    def sweep(self) -> None:
        """Retire sandboxes no session owns, delete kept ones past MAX_IDLE_DAYS, adopt live ones."""
        try:
            found = self._call("list", lambda: self.provider.list_managed(self._selector()))
        except Exception as exc:
            emit(log, logging.WARNING, "sweep.failed", error=type(exc).__name__)
            return
        assert isinstance(found, list)
        for managed in found:
            try:
                self._sweep_one(managed)
            except Exception as exc:
                emit(
                    log, logging.WARNING, "sweep.item_failed", sandbox=managed.name, error=type(exc).__name__
                )

    def _sweep_one(self, managed: ManagedSandbox) -> None:
        work_id = managed.labels.get(LABEL_WORK, "")
        with self._lock:
            if work_id in self._sessions:
                return
        sandbox = managed.launched()
        if not managed.running:
            expired = managed.idle_days is not None and managed.idle_days >= self.config.max_idle_days
            if self.config.retention is RetentionMode.DELETE or expired:
                self._call("delete", lambda: self.provider.delete(sandbox), self.config.launch_timeout)
                self.stats.orphans += 1
                emit(log, logging.INFO, "orphan.deleted", sandbox=managed.name, idle_days=managed.idle_days)
            return
        state = self.queue.state(work_id) if work_id else None
        if state is None or state == "stopped":
            self.stats.orphans += 1
            emit(log, logging.INFO, "orphan.found", sandbox=managed.name, work_id=work_id or None)
            self._retire(sandbox, work_id)
            return
        session = self._register(work_id, managed.labels.get(LABEL_SESSION, ""))
        if session is None:
            return
        # Adopted: its lease's last heartbeat is unknown here, so the item is watched, not leased.
        session.sandbox, session.started = sandbox, True
        self.stats.adopted += 1
        emit(log, logging.INFO, "sandbox.adopted", sandbox=managed.name, work_id=work_id)
        lease = Lease(self.queue, work_id, self.config.lease_ttl_seconds)
        lease.held = False
        thread = threading.Thread(
            target=self._follow, args=(session, lease), name=f"adopted-{work_id}", daemon=True
        )
        session.thread = thread
        thread.start()

    def _follow(self, session: _Session, lease: Lease) -> None:
        try:
            self._watch(session, lease)
        except Exception as exc:
            emit(log, logging.ERROR, "session.crashed", work_id=session.work_id, error=type(exc).__name__)
        finally:
            self._release(session.work_id)

    # -- shutdown --------------------------------------------------------------------------------
    def request_stop(self) -> None:
        self.stopping.set()

    def shutdown(self) -> None:
        """Within the grace: sessions end their watch loops at once; launches in flight get the
        rest of the grace, less a margin for the process to exit."""
        self.stopping.set()
        deadline = self.clock() + max(self.config.grace_seconds - 5.0, 1.0)
        with self._lock:
            threads = [s.thread for s in self._sessions.values() if s.thread is not None]
        for thread in threads:
            thread.join(max(deadline - self.clock(), 0.0))
        with self._lock:
            left = len(self._sessions)
        emit(
            log,
            logging.INFO,
            "orchestrator.stopped",
            sessions_left_running=left,
            launched=self.stats.launched,
            retired=self.stats.retired,
        )
