"""Run a stack's real Pulumi program in-process under the mock runtime.

No Pulumi CLI, no provider plugins, no credentials: the program's config comes
from the stack file (secure values replaced by placeholders that are never the
real secret), invokes are answered offline, and every registration is recorded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import runpy
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config
from pulumi.runtime import resource as resource_runtime
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.proto import source_pb2

from stockade.engine.context import OFFLINE_ACCOUNT_ID, OFFLINE_REGION, OfflineContext
from stockade.engine.errors import SynthError, SynthInputError
from stockade.engine.model import ResourceOptions, SynthResource, SynthResult
from stockade.engine.project import find_project_dir
from stockade.engine.redact import REDACTED, Redactor, reveal
from stockade.engine.runtime import InProcessMonitorLoop, OfflineMocks, RecordingMonitor, Registration
from stockade.settings.load import read_stack_file, validate

PROJECT = "stockade"
PLACEHOLDER_PREFIX = "stockade-offline-secret:"


class _WeakeningsShownOnce(logging.Filter):
    """Drop the program's weakening log lines: offline, SynthResult.weakenings carries them and every
    command prints them from there, so a user sees each weakening once."""

    def filter(self, record: logging.LogRecord) -> bool:
        from stockade.program import WEAKENING_LOG_PREFIX

        return not record.getMessage().startswith(WEAKENING_LOG_PREFIX)


# The program's own log lines under the mock runtime (warnings still reach stderr).
_PROGRAM_LOG = logging.getLogger("stockade.engine.program")
_PROGRAM_LOG.addFilter(_WeakeningsShownOnce())


def _engine_config(
    raw: dict[str, Any], secret_values: Mapping[str, str] | None = None
) -> tuple[dict[str, str], list[str], list[str]]:
    """Stack-file config as the engine passes it: strings, JSON for objects, secrets flagged.

    A `secure:` value becomes a placeholder named after its key path, or the value
    `secret_values` gives for that path (the Docker end-to-end tests plant canaries this way).
    """
    placeholders: list[str] = []

    def replace(node: Any, path: str) -> tuple[Any, bool]:
        if isinstance(node, dict) and set(node) == {"secure"}:
            token = (secret_values or {}).get(path, f"{PLACEHOLDER_PREFIX}{path}")
            placeholders.append(token)
            return token, True
        if isinstance(node, dict):
            found = False
            out = {}
            for key, value in node.items():
                out[key], hit = replace(value, f"{path}.{key}")
                found = found or hit
            return out, found
        if isinstance(node, list):
            items = [replace(v, f"{path}[{i}]") for i, v in enumerate(node)]
            return [v for v, _ in items], any(h for _, h in items)
        return node, False

    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in raw.items():
        plain, secret = replace(value, key)
        if secret:
            secret_keys.append(key)
        if isinstance(plain, dict | list):
            config[key] = json.dumps(plain, sort_keys=True)
        elif isinstance(plain, bool):
            config[key] = "true" if plain else "false"
        else:
            config[key] = "" if plain is None else str(plain)
    return config, secret_keys, placeholders


def synthesize(stack: str, project_dir: Path | None = None) -> SynthResult:
    """Synthesize one stack's desired state from its stack file.

    Raises SettingsError for a bad stack file and SynthError when the program fails.
    """
    project_dir = find_project_dir(project_dir)
    stack_file = read_stack_file(project_dir, stack)
    program = project_dir / "__main__.py"
    if not program.is_file():
        raise SynthInputError(f"{program} does not exist")

    def run_program() -> None:
        sys.path.insert(0, str(project_dir))
        try:
            runpy.run_path(str(program), run_name="__main__")
        finally:
            sys.path.remove(str(project_dir))

    return synthesize_config(stack, stack_file.config, run_program)


def synthesize_config(
    stack: str,
    raw_config: dict[str, Any],
    program: Callable[[], None] | None = None,
    *,
    secret_values: Mapping[str, str] | None = None,
    reveal_secrets: bool = False,
) -> SynthResult:
    """Synthesize from namespaced config (as in a stack file's `config:`), in-process.

    `program` defaults to Stockade's own program; tests pass a smaller one to
    exercise a single component under the same engine.

    `secret_values` and `reveal_secrets` exist for one caller, the Docker end-to-end tests'
    applier, which must create the desired state with real values: secrets planted by key
    path, and left in the result instead of `[secret]`. No command exposes them.
    """
    settings = validate(stack, raw_config)
    config, secret_keys, placeholders = _engine_config(raw_config, secret_values)
    context = OfflineContext(
        project=PROJECT,
        stack=stack,
        region=settings.aws_region or OFFLINE_REGION,
        account_id=settings.aws.account_id if settings.aws else OFFLINE_ACCOUNT_ID,
    )
    redactor = Redactor(placeholders)
    mocks = OfflineMocks(context, redactor)
    monitor = RecordingMonitor(mocks)
    if program is None:
        from stockade.program import run

        program = run
    entry: Callable[[], None] = program

    loop = InProcessMonitorLoop()
    capture_stack = _skip_source_positions()
    try:
        runtime_settings.reset_options(project=PROJECT, stack=stack)
        asyncio.set_event_loop(loop)
        runtime_config.set_all_config(config, secret_keys)
        pulumi.runtime.set_mocks(
            mocks, project=PROJECT, stack=stack, preview=False, logger=_PROGRAM_LOG, monitor=monitor
        )
        loop.run_until_complete(pulumi.runtime.stack.run_pulumi_func(entry))
        root = runtime_settings.get_root_resource()
        exported = getattr(root, "outputs", {}) or {}
        stack_outputs = loop.run_until_complete(_resolve_outputs(exported))
        registrations = monitor.registrations
        if monitor.holds_resource_references:
            registrations = loop.run_until_complete(_name_resources(registrations))
    except pulumi.RunError as exc:
        raise SynthError(str(exc)) from None
    except Exception as exc:
        if mocks.unanswered:
            raise SynthError(str(mocks.unanswered[0])) from None
        raise SynthError(f"the program failed under the offline engine: {exc}") from exc
    finally:
        _restore_source_positions(capture_stack)
        _drain(loop)
        runtime_config.set_all_config({}, [])
        runtime_settings.reset_options()
        asyncio.set_event_loop(None)
        loop.close()

    clean: Callable[[Any], Any] = reveal if reveal_secrets else redactor.clean
    resources = tuple(sorted((_resource(r, clean) for r in registrations), key=lambda r: r.urn))
    return SynthResult(
        project=PROJECT,
        stack=stack,
        resources=resources,
        outputs=redactor.clean(stack_outputs),
        weakenings=tuple(settings.weakenings()),
    )


def _skip_source_positions() -> Callable[[], Any] | None:
    """Stop the SDK from capturing a stack trace per resource, for the length of one synth.

    The SDK walks the Python stack (reading every frame's source file) so the engine can
    show where a resource was declared. The offline engine records no source positions,
    and the walk costs a tenth of a large stack's synth. Returns what to restore.
    """
    original = getattr(resource_runtime, "_get_stack_trace", None)
    if original is None:
        return None  # an SDK without the hook: nothing to skip
    resource_runtime._get_stack_trace = _no_stack_trace
    return original


def _restore_source_positions(original: Callable[[], Any] | None) -> None:
    if original is not None:
        resource_runtime._get_stack_trace = original


def _no_stack_trace() -> source_pb2.StackTrace:
    return source_pb2.StackTrace()


def _drain(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what a failed program left running, so the next stack starts on a clean loop."""
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


async def _resolve_outputs(exported: dict[str, Any]) -> dict[str, Any]:
    """Stack exports as plain values; a secret export is replaced, never resolved into text."""
    resolved: dict[str, Any] = {}
    for key, value in exported.items():
        output = pulumi.Output.from_input(value)
        resolved[key] = REDACTED if await output.is_secret() else await output.future()
    return resolved


async def _name_resources(registrations: list[Registration]) -> list[Registration]:
    """Resources passed as inputs, recorded as the engine records them: a reference by URN."""
    return [dataclasses.replace(r, inputs=await _resources_named(r.inputs)) for r in registrations]


async def _resources_named(value: Any) -> Any:
    if isinstance(value, pulumi.Resource):
        return {"resourceRef": await value.urn.future()}
    if isinstance(value, dict):
        return {key: await _resources_named(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [await _resources_named(item) for item in value]
    return value


def _provider_urn(reference: str) -> str | None:
    # A provider reference is "<urn>::<id>"; the URN alone is stable across runs.
    return reference.rsplit("::", 1)[0] if reference else None


def _resource(reg: Registration, clean: Callable[[Any], Any]) -> SynthResource:
    return SynthResource(
        urn=reg.urn,
        type=reg.type,
        name=reg.name,
        parent=reg.parent or None,
        provider=_provider_urn(reg.provider),
        custom=reg.custom,
        inputs=clean(reg.inputs),
        depends_on=reg.dependencies,
        options=ResourceOptions(
            protect=reg.protect,
            retain_on_delete=reg.retain_on_delete,
            delete_before_replace=reg.delete_before_replace,
            aliases=reg.aliases,
            additional_secret_outputs=reg.additional_secret_outputs,
            ignore_changes=reg.ignore_changes,
            replace_on_changes=reg.replace_on_changes,
        ),
    )


__all__ = ["SynthError", "find_project_dir", "synthesize", "synthesize_config"]
