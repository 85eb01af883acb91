"""`python -m stockade.rollout.worker`: stacks' operations, one at a time, on the Pulumi Automation API.

A worker starts before its stacks are known: it imports the Automation API and checks the
CLI version (`pulumi version`) once, says `ready`, then runs jobs from stdin one after the
other until stdin closes. Each job brings one stack's assumed-role credentials and backend,
which the worker hands to that stack's `LocalWorkspace` as `env_vars`: the Automation API
merges them into the environment of that workspace's CLI commands only, so they never
enter the worker's own environment and cannot reach the next stack. They are scrubbed
from everything the worker relays or logs.

A worker never runs two operations at once (pulumi/pulumi#7782), and each stack has its
own PULUMI_HOME (pulumi/pulumi#8186). The stack is not selected first: every command the
Automation API sends names `--stack`, so `pulumi stack select` would only rewrite the
stack's private workspace file at the cost of one more CLI start per stack.

Ctrl-C reaches the worker and its CLI together (the rollout signals the worker's process
group): the CLI cancels gracefully, and if it has not stopped after `cancel_after_seconds`
the worker also calls the Automation API's `Stack.cancel()`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from stockade.review.secrets import Scrubber
from stockade.rollout.locks import StackBusyError, StackLock
from stockade.rollout.operations import Operation
from stockade.rollout.protocol import Job, Outcome, StackStatus, encode

if TYPE_CHECKING:
    from pulumi.automation import EngineEvent, PulumiCommand, Stack

PROGRESS_INTERVAL = 0.1
"""Seconds between relayed progress lines; a large update emits thousands of events."""

_SECRET_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


class Channel:
    """JSON lines to the parent; engine events arrive on gRPC threads, so writes are serialized."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        with self._lock:
            self._stream.write(encode(message))
            self._stream.flush()


class Progress:
    """Turns engine events into the one-line "current operation" the rollout displays."""

    def __init__(self, channel: Channel, scrub: Scrubber) -> None:
        self._channel = channel
        self._scrub = scrub
        self._last = 0.0
        self.errors: list[str] = []

    def say(self, text: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= PROGRESS_INTERVAL:
            self._last = now
            self._channel.send({"type": "progress", "text": self._scrub.scrub(text)})

    def on_event(self, event: EngineEvent) -> None:
        if event.diagnostic_event and event.diagnostic_event.severity == "error":
            message = self._scrub.scrub(event.diagnostic_event.message.strip())
            if message:
                self.errors.append(message)
            self.say(f"error: {message.splitlines()[0] if message else ''}", force=True)
        elif event.resource_pre_event:
            meta = event.resource_pre_event.metadata
            self.say(f"{meta.op.value} {meta.type} {meta.urn.rsplit('::', 1)[-1]}")
        elif event.prelude_event:
            self.say("starting", force=True)
        elif event.summary_event:
            self.say("summarizing", force=True)


class Worker:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.cancelled = threading.Event()
        self.job_started = False
        self._stack: Stack | None = None
        self._timer: threading.Timer | None = None
        self._cancel_after = 10.0

    def begin(self) -> None:
        self.cancelled.clear()
        self._stack = None
        self._timer = None
        self.job_started = True

    def on_sigint(self, signum: int, frame: object) -> None:
        if not self.job_started:
            os._exit(0)  # an idle worker has nothing to clean up
        if self.cancelled.is_set():
            return
        self.cancelled.set()
        self._timer = threading.Timer(self._cancel_after, self._api_cancel)
        self._timer.daemon = True
        self._timer.start()

    def _api_cancel(self) -> None:
        # The CLI got SIGINT with us and is expected to stop on its own; this is the backstop
        # for a CLI that does not (for a service backend it also releases the update lock).
        stack = self._stack
        if stack is None:
            return
        try:
            stack.cancel()
        except Exception as exc:  # best effort: the rollout terminates us next
            print(f"Automation API cancel failed: {exc}", file=sys.stderr)

    def run(self, job: Job, command: PulumiCommand) -> Outcome:
        self._cancel_after = job.cancel_after_seconds
        scrub = Scrubber([job.env.get(name, "") for name in _SECRET_VARIABLES])
        try:
            with StackLock(Path(job.lock_path), job.stack, job.operation.value):
                return self._operate(job, command, scrub)
        except StackBusyError as exc:
            return Outcome(StackStatus.FAILED, error=str(exc))
        finally:
            if self._timer is not None:
                self._timer.cancel()
            self.job_started = False

    def _operate(self, job: Job, command: PulumiCommand, scrub: Scrubber) -> Outcome:
        from pulumi import automation as auto

        progress = Progress(self.channel, scrub)
        stderr_tail: deque[str] = deque(maxlen=8)

        def on_output(line: str) -> None:
            print(scrub.scrub(line), file=sys.stderr)

        def on_error(line: str) -> None:
            cleaned = scrub.scrub(line)
            if cleaned.strip():
                stderr_tail.append(cleaned)
            print(cleaned, file=sys.stderr)

        workspace = auto.LocalWorkspace(
            work_dir=job.work_dir,
            pulumi_home=job.pulumi_home,
            env_vars=job.env,  # credentials and PULUMI_BACKEND_URL: this workspace's commands only
            secrets_provider=job.secrets_provider,  # used by `stack init` alone
            pulumi_command=command,
        )
        try:
            self._stack = _unselected_stack(job.stack, workspace)
            if self.cancelled.is_set():
                return Outcome(StackStatus.CANCELLED, error="cancelled before the operation started")
            progress.say(job.operation.command, force=True)
            try:
                return self._dispatch(job.operation, self._stack, progress, on_output, on_error)
            except auto.errors.StackNotFoundError:
                if not job.operation.creates_missing_stack or self.cancelled.is_set():
                    raise
            # A new stack: `stack init` with the plan's secrets provider, then the operation again.
            progress.say("creating stack", force=True)
            workspace.create_stack(job.stack)
            return self._dispatch(job.operation, self._stack, progress, on_output, on_error)
        except auto.errors.CommandError as exc:
            if self.cancelled.is_set():
                return Outcome(StackStatus.CANCELLED, error="cancelled by the operator (SIGINT)")
            return Outcome(StackStatus.FAILED, error=_describe(exc, progress.errors, stderr_tail, scrub))
        except Exception as exc:  # any failure is this stack's result, not a worker crash
            status = StackStatus.CANCELLED if self.cancelled.is_set() else StackStatus.FAILED
            return Outcome(status, error=scrub.scrub(f"{type(exc).__name__}: {exc}"))

    def _dispatch(
        self, operation: Operation, stack: Stack, progress: Progress, on_output: Any, on_error: Any
    ) -> Outcome:
        common: dict[str, Any] = {
            "on_event": progress.on_event,
            "on_output": on_output,
            "on_error": on_error,
            "color": "never",
        }
        if operation is Operation.PREVIEW:
            preview = stack.preview(json=True, **common)
            return Outcome(
                StackStatus.SUCCEEDED,
                changes=_counts(preview.change_summary),
                preview=_parse_preview(preview.stdout),
            )
        if operation is Operation.DRIFT:
            drift = stack.preview_refresh(**common)
            return Outcome(StackStatus.SUCCEEDED, changes=_counts(drift.change_summary))
        if operation is Operation.UP:
            up = stack.up(**common)
            return Outcome(StackStatus.SUCCEEDED, changes=_counts(up.summary.resource_changes))
        destroyed = stack.destroy(**common)
        return Outcome(StackStatus.SUCCEEDED, changes=_counts(destroyed.summary.resource_changes))


def _unselected_stack(name: str, workspace: Any) -> Stack:
    """A `Stack` handle without `pulumi stack select` (see the module docstring).

    `Stack.__init__` always runs select or init; this subclass only records the name and
    workspace, which is all the operations read (they pass `--stack NAME` themselves).
    tests/test_rollout_runner.py checks the CLI sees no select, so an SDK that starts
    reading more state here is noticed.
    """
    from pulumi import automation as auto
    from pulumi.automation._stack import StackInitMode

    class _Unselected(auto.Stack):
        def __init__(self, stack_name: str, stack_workspace: Any) -> None:
            self.name = stack_name
            self.workspace = stack_workspace
            self._mode = StackInitMode.SELECT

    return _Unselected(name, workspace)


def _counts(changes: Any) -> dict[str, int]:
    return {str(op): int(count) for op, count in (changes or {}).items()}


def _parse_preview(stdout: str) -> dict[str, Any] | None:
    try:
        document = json.loads(stdout)
    except json.JSONDecodeError:
        return None
    return document if isinstance(document, dict) else None


def _describe(exc: Exception, diagnostics: list[str], stderr_tail: deque[str], scrub: Scrubber) -> str:
    text = str(exc)  # CommandResult's rendering: "code: N", "stdout: ...", "stderr: ..."
    code = re.search(r"code: (-?\d+)", text)
    head = f"pulumi exited with code {code.group(1)}" if code else "pulumi failed"
    # Workspace commands (stack select, ...) take no on_error callback; their stderr is
    # only in the exception.
    stderr = text.split("\n stderr: ", 1)[1] if "\n stderr: " in text else ""
    from_exception = [line for line in stderr.splitlines() if line.strip()][-4:]
    detail = diagnostics[:3] or list(stderr_tail)[-4:] or from_exception
    summary = head + (": " + " | ".join(line.strip() for line in detail) if detail else "")
    return scrub.scrub(summary[:2000])


def main() -> int:
    channel = Channel(sys.stdout.buffer)
    worker = Worker(channel)
    signal.signal(signal.SIGINT, worker.on_sigint)
    try:
        from pulumi import automation as auto

        command = auto.PulumiCommand()  # runs `pulumi version` now, not on the stack's clock
    except FileNotFoundError:
        channel.send(
            {"type": "fatal", "error": "the pulumi CLI is not on PATH; install it (pulumi.com/docs/install)"}
        )
        return 3
    except Exception as exc:  # reported to the rollout, which fails the stack
        channel.send({"type": "fatal", "error": f"cannot start the Pulumi CLI: {exc}"})
        return 3
    channel.send({"type": "ready", "pid": os.getpid(), "cli": str(command.version)})
    worker_log = os.dup(2)
    while True:
        line = sys.stdin.readline()
        if not line.strip():
            break  # stdin closed (or an empty line): the rollout no longer needs this worker
        job = Job.from_line(line)
        worker.begin()
        _log_to(job.log_path, job)
        outcome = worker.run(job, command)
        sys.stderr.flush()
        os.dup2(worker_log, 2)  # between jobs, back to the workers' own log
        channel.send(outcome.to_message())
    # stdin closed: the rollout no longer needs this worker. Skip interpreter teardown: the
    # SDK's gRPC event servers wind down for seconds, and nothing is left to flush.
    sys.stderr.flush()
    os._exit(0)


def _log_to(path: str, job: Job) -> None:
    """Until the job ends, this worker's stderr (and the CLI output it copies there) is the stack's log."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 2)
    os.close(fd)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    print(
        f"=== {stamp} {job.operation.value} {job.stack} (pid {os.getpid()}) ===", file=sys.stderr, flush=True
    )


if __name__ == "__main__":
    sys.exit(main())
