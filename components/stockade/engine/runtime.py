"""The mock-runtime pieces: offline mocks and a monitor that records every registration."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, TypeVar, TypeVarTuple, Unpack

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc

from stockade.emulators import emulate, resource_id
from stockade.engine.context import OfflineContext
from stockade.engine.invokes import OfflineInvokeError, answer
from stockade.engine.redact import Redactor, is_secret, unwrap
from stockade.engine.stack_references import STACK_REFERENCE, answer_stack_reference

_UNKNOWN_BYTES = rpc.UNKNOWN.encode()
"""How the SDK's marker for a value not known yet appears in a serialized request."""
_RESOURCE_REFERENCE_BYTES = b"5cf8f73096256a8f31e491e813e4eb8e"
"""Pulumi's wire signature of a resource reference (a resource passed as an input)."""
_T = TypeVar("_T")
_Args = TypeVarTuple("_Args")


def _current_loop(policy: asyncio.AbstractEventLoopPolicy) -> asyncio.AbstractEventLoop | None:
    try:
        return policy.get_event_loop()
    except RuntimeError:  # none set on this thread
        return None


class _MonitorCallLoop(asyncio.SelectorEventLoop):
    """The loop a monitor call runs with, as a pool thread's own; it keeps the tasks started on it.

    Decoding a resource reference reads the resource back (`getResource`) as a task on this
    loop; `InProcessMonitorLoop` finishes such tasks before the call returns. Listing them
    here is what makes that check cheap: `asyncio.all_tasks(loop)` walks every task of every
    loop, thousands by the end of a large stack, on each of its hundreds of monitor calls.
    """

    def __init__(self) -> None:
        super().__init__()
        self.started: list[asyncio.Task[Any]] = []

    def create_task(self, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        task = super().create_task(coro, **kwargs)
        self.started.append(task)
        return task

    def finish_started(self) -> None:
        """Run the tasks started on this loop until none is left pending."""
        while self.started:
            pending = [task for task in self.started if not task.done()]
            self.started.clear()
            if pending:
                self.run_until_complete(asyncio.gather(*pending))


class InProcessMonitorLoop(asyncio.SelectorEventLoop):
    """An event loop that runs the SDK's monitor calls inline instead of on a thread pool.

    The SDK hands every call to the resource monitor (register, invoke, read) to the loop's
    default executor, because the real monitor is a gRPC server that may take a while. The
    offline monitor answers in-process, so a thread per call only adds a handoff, a wake-up
    and the GIL passing back and forth: about a tenth of a small stack's synth.

    A call still runs as it would on a pool thread: with no running loop and a loop of its
    own as the current one. The mock monitor finishes each registration by waiting for a
    coroutine; on this loop, that wait would pump this loop from inside one of its own
    callbacks and start the next registration inside it, nesting ever deeper (about 700
    frames for `prod-use1`, near Python's recursion limit). An explicit executor is honoured.
    """

    def __init__(self) -> None:
        super().__init__()
        self._monitor_loop = _MonitorCallLoop()

    def run_in_executor(
        self, executor: Executor | None, func: Callable[[Unpack[_Args]], _T], *args: *_Args
    ) -> asyncio.Future[_T]:
        if executor is not None:
            return super().run_in_executor(executor, func, *args)
        future: asyncio.Future[_T] = self.create_future()
        policy = asyncio.get_event_loop_policy()
        running, current = asyncio._get_running_loop(), _current_loop(policy)
        asyncio._set_running_loop(None)
        policy.set_event_loop(self._monitor_loop)
        try:
            result = func(*args)
            # Left pending, a read back would be awaited by the program's loop at the end of
            # the run, across loops: a hang or an error. On a pool thread, the next call on
            # the same thread happens to finish it.
            self._monitor_loop.finish_started()
        except Exception as exc:  # the SDK awaits it and handles the error as from a thread
            future.set_exception(exc)
        else:
            future.set_result(result)
        finally:
            policy.set_event_loop(current)
            asyncio._set_running_loop(running)
        return future

    def close(self) -> None:
        self._monitor_loop.close()
        super().close()


class OfflineMocks(pulumi.runtime.Mocks):
    """Answers registrations with emulated outputs and invokes from the offline context."""

    def __init__(self, context: OfflineContext, redactor: Redactor) -> None:
        self.context = context
        self.redactor = redactor
        self.unanswered: list[OfflineInvokeError] = []
        self.last_inputs: dict[str, Any] = {}
        """The inputs of the latest registration, as the mock monitor decoded them for `new_resource`."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        self.last_inputs = args.inputs
        if args.typ == STACK_REFERENCE:
            # A read (MockMonitor.ReadResource), which the mocks mark as not custom.
            plain = {k: unwrap(v) for k, v in args.inputs.items()}
            return str(args.resource_id or plain.get("name")), answer_stack_reference(plain, self.context)
        if not args.custom:
            return "", {}
        plain = {k: unwrap(v) for k, v in args.inputs.items()}
        outputs = emulate(args.typ, args.name, plain, self.context)
        rid = outputs.pop("id", None) or resource_id(args.typ, args.name)
        for value in outputs.values():
            # A secret an emulator made up (a generated private key) must be scrubbed even if
            # a later apply drops its secret marker on the way into another resource.
            if is_secret(value) and isinstance(unwrap(value), str):
                self.redactor.add(unwrap(value))
        for key, value in args.inputs.items():
            if is_secret(value):
                outputs[key] = value
        return str(rid), outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        try:
            return answer(args.token, args.args, self.context), []
        except OfflineInvokeError as exc:
            self.unanswered.append(exc)
            raise


@dataclass(frozen=True)
class Registration:
    """One resource registration as the engine received it: inputs, parent, provider and options."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    provider: str
    inputs: dict[str, Any]
    dependencies: tuple[str, ...]
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    aliases: tuple[str, ...]
    additional_secret_outputs: tuple[str, ...]
    ignore_changes: tuple[str, ...]
    replace_on_changes: tuple[str, ...]


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A MockMonitor that keeps what the engine would see: parent, provider, options, aliases."""

    def __init__(self, mocks: OfflineMocks) -> None:
        super().__init__(mocks)
        self._mocks = mocks
        self.registrations: list[Registration] = []
        self.holds_resource_references = False
        """Whether some registration's inputs hold a resource object (see `synth._name_resources`)."""

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method name
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        inputs = self._recorded_inputs(request)
        self.registrations.append(
            Registration(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                custom=bool(request.custom),
                provider=request.provider,
                inputs=dict(inputs),
                dependencies=tuple(sorted(set(request.dependencies))),
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                delete_before_replace=bool(request.deleteBeforeReplace),
                aliases=tuple(sorted(self._alias_urns(request))),
                additional_secret_outputs=tuple(request.additionalSecretOutputs),
                ignore_changes=tuple(request.ignoreChanges),
                replace_on_changes=tuple(request.replaceOnChanges),
            )
        )
        return response

    def _recorded_inputs(self, request: Any) -> dict[str, Any]:
        # The mock monitor has just decoded these inputs for the mocks; decoding them again
        # was a few percent of a synth. Its decoding drops unknown values, which the record
        # keeps, so a request that carries one is decoded again, keeping them.
        wire = request.object.SerializeToString()
        if _RESOURCE_REFERENCE_BYTES in wire:
            self.holds_resource_references = True
        if _UNKNOWN_BYTES not in wire:
            return self._mocks.last_inputs
        return rpc.deserialize_properties(request.object, keep_unknowns=True)

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The real engine qualifies a type with the parent's whole type chain and leaves
        # the root stack out of it; MockMonitor keeps only the last link and includes the
        # stack. Diffs compare URNs across revisions, so they must be the engine's URNs.
        qualified = type_
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != "pulumi:pulumi:Stack":
                qualified = f"{parent_type}${type_}"
        return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), qualified, name])

    def _alias_urns(self, request: Any) -> set[str]:
        urns = set(request.aliasURNs)
        for alias in request.aliases:
            if alias.urn:
                urns.add(alias.urn)
            elif alias.HasField("spec"):
                spec = alias.spec
                parent = "" if spec.noParent else (spec.parentUrn or request.parent)
                urns.add(self.make_urn(parent, spec.type or request.type, spec.name or request.name))
        return urns
