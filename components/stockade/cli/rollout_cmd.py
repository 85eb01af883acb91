"""`stockade rollout PLAN`: one operation across many accounts, wave by wave, on the Automation API."""

from __future__ import annotations

import shutil
import signal
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from stockade.cli.common import EXIT_INVALID, ProjectOption, fail, reported_errors
from stockade.rollout.operations import Operation

if TYPE_CHECKING:
    from stockade.rollout.plan import LoadedPlan, RolloutPlan
    from stockade.rollout.view import RolloutView


def rollout(
    plan: Annotated[Path, typer.Argument(help="Rollout plan, e.g. stacks/rollout.yaml.", dir_okay=False)],
    operation: Annotated[
        Operation,
        typer.Option("--operation", "-o", help="preview, up, drift (refresh --preview-only) or destroy."),
    ] = Operation.PREVIEW,
    project_dir: ProjectOption = None,
    state_file: Annotated[
        Path | None, typer.Option("--state-file", help="Default: <project>/.stockade/rollout-state.json.")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Skip stacks that already succeeded at this commit.")
    ] = False,
    report: Annotated[Path | None, typer.Option("--report", help="Write the JSON report to FILE.")] = None,
    markdown: Annotated[
        Path | None,
        typer.Option("--markdown", help="Preview runs: write the `stockade comment` Markdown to FILE."),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option("--profile", help="AWS profile that assumes the roles (overrides sourceProfile)."),
    ] = None,
    yes_destroy: Annotated[
        bool, typer.Option("--yes-destroy", help="Required for --operation destroy.")
    ] = False,
    confirm_stack: Annotated[
        list[str] | None,
        typer.Option("--confirm-stack", help="Destroy without prompting for this stack (repeat for each)."),
    ] = None,
    stacks_dir: Annotated[
        Path | None,
        typer.Option(
            "--stacks-dir",
            help="Check the plan against stack files here (synthetic plans only).",
            file_okay=False,
        ),
    ] = None,
    cancel_grace: Annotated[
        float,
        typer.Option("--cancel-grace", min=1.0, max=3600.0, help="Seconds Ctrl-C waits before terminating."),
    ] = 30.0,
    plain: Annotated[
        bool, typer.Option("--plain", help="Line-by-line progress instead of the live view.")
    ] = False,
    emit: Annotated[
        Emit | None,
        typer.Option("--emit", help="Write the plan as a workflow instead of running it (github-actions)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="With --emit: write the workflow here (default: stdout).")
    ] = None,
    github_environment: Annotated[
        str | None,
        typer.Option(
            "--github-environment", help="With --emit: run the wave jobs in this GitHub environment."
        ),
    ] = None,
    only: Annotated[
        str | None,
        typer.Option("--only", help="Run just this stack of the plan (what each workflow leg does)."),
    ] = None,
    ambient_credentials: Annotated[
        bool,
        typer.Option(
            "--ambient-credentials",
            help="Use the credentials already in the environment (CI OIDC) after checking they are the "
            "planned role, account and backend, instead of assuming roles.",
        ),
    ] = False,
) -> None:
    """Run one operation over every stack in PLAN, wave by wave; exit 2 on a bad plan, 130 on Ctrl-C."""
    from stockade.rollout.plan import load_plan
    from stockade.rollout.report import EXIT_CANCELLED

    try:
        with reported_errors():
            root = _project_root(project_dir)
            loaded = load_plan(plan, root, stacks_dir=stacks_dir)
            if emit is not None:
                _emit(loaded, operation, root, out, github_environment)
                return
            if only is not None:
                loaded = _only(loaded, only)
            if operation is Operation.DESTROY:
                _confirm_destroy(loaded.plan, yes_destroy, confirm_stack or [])
            view = _run(
                loaded, operation, root, state_file, resume, profile, cancel_grace, plain, ambient_credentials
            )
    except KeyboardInterrupt:
        # Ctrl-C before any stack started (the rollout handles it from then on): nothing ran.
        typer.echo("cancelled before any stack started", err=True)
        raise typer.Exit(EXIT_CANCELLED) from None
    _finish(view, report, markdown)


class Emit(StrEnum):
    GITHUB_ACTIONS = "github-actions"


def _emit(
    loaded: LoadedPlan, operation: Operation, root: Path, out: Path | None, environment: str | None
) -> None:
    from stockade.rollout.github import EmitError, emit_workflow

    try:
        plan_in_repo = loaded.path.resolve().relative_to(root).as_posix()
    except ValueError:
        fail(
            f"the plan {loaded.path} is outside the project {root}; the workflow checks out the project",
            EXIT_INVALID,
        )
    try:
        text = emit_workflow(loaded, operation, plan_in_repo=plan_in_repo, environment=environment)
    except EmitError as exc:
        fail(str(exc), EXIT_INVALID)
    if out is None:
        sys.stdout.write(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}", err=True)


def _only(loaded: LoadedPlan, stack: str) -> LoadedPlan:
    from dataclasses import replace

    plan = loaded.plan
    for wave in plan.waves:
        for target in wave.stacks:
            if target.stack == stack:
                single = wave.model_copy(update={"stacks": [target]})
                return replace(loaded, plan=plan.model_copy(update={"waves": [single]}))
    fail(f"--only {stack!r} is not a stack in the plan {loaded.path}", EXIT_INVALID)


def _project_root(start: Path | None) -> Path:
    # The engine has the same lookup, but importing it loads pulumi into this process, which
    # never runs Pulumi itself: every stack's work happens in a worker.
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "Pulumi.yaml").is_file():
            return candidate
    fail(f"no Pulumi.yaml at or above {here}; run from a Stockade project checkout", EXIT_INVALID)


def _confirm_destroy(plan: RolloutPlan, yes_destroy: bool, confirmed: list[str]) -> None:
    stacks = plan.stack_names()
    if not yes_destroy:
        fail(
            "destroy deletes every resource in every planned stack; pass --yes-destroy to mean it",
            EXIT_INVALID,
        )
    unknown = sorted(set(confirmed) - set(stacks))
    if unknown:
        fail(f"--confirm-stack names stacks that are not in the plan: {', '.join(unknown)}", EXIT_INVALID)
    missing = [stack for stack in stacks if stack not in confirmed]
    if missing and not _interactive():
        fail(
            "destroy needs each stack confirmed; not a terminal, so pass "
            + " ".join(f"--confirm-stack {stack}" for stack in missing),
            EXIT_INVALID,
        )
    for stack in missing:
        typed = typer.prompt(
            f"Type '{stack}' to destroy every resource in it", default="", show_default=False
        )
        if typed.strip() != stack:
            fail(f"'{typed.strip()}' is not '{stack}'; nothing was destroyed", EXIT_INVALID)


def _interactive() -> bool:
    return sys.stdin.isatty()


def _run(
    loaded: LoadedPlan,
    operation: Operation,
    root: Path,
    state_file: Path | None,
    resume: bool,
    profile: str | None,
    cancel_grace: float,
    plain: bool,
    ambient: bool = False,
) -> RolloutView:
    from rich.console import Console

    from stockade.rollout.credentials import (
        AmbientCredentials,
        CredentialError,
        CredentialSource,
        RoleAssumer,
    )
    from stockade.rollout.display import LiveDisplay, PlainDisplay
    from stockade.rollout.runner import Rollout, RunOptions
    from stockade.rollout.state import DEFAULT_STATE_FILE, StateFileError

    if shutil.which("pulumi") is None:
        fail("the pulumi CLI is not on PATH; install it (https://www.pulumi.com/docs/install/)")
    try:
        credentials: CredentialSource = (
            AmbientCredentials()
            if ambient
            else RoleAssumer(
                profile=profile or loaded.plan.source_profile,
                duration_seconds=loaded.plan.session_duration_seconds,
            )
        )
    except CredentialError as exc:
        fail(str(exc), EXIT_INVALID)
    options = RunOptions(
        operation=operation,
        state_path=state_file or root / DEFAULT_STATE_FILE,
        resume=resume,
        cancel_grace_seconds=cancel_grace,
    )
    console = Console(stderr=True)
    live = console.is_terminal and not plain
    rollout_run = Rollout(loaded, options, credentials)
    display = LiveDisplay(rollout_run.view, console) if live else PlainDisplay()
    rollout_run.observer = display
    previous = signal.signal(signal.SIGINT, lambda signum, frame: rollout_run.cancel())
    try:
        with display:
            return rollout_run.run()
    except StateFileError as exc:
        fail(str(exc))
    finally:
        signal.signal(signal.SIGINT, previous)


def _finish(view: RolloutView, report: Path | None, markdown: Path | None) -> None:
    from rich.console import Console

    from stockade.rollout.report import (
        MarkdownUnavailableError,
        exit_code,
        preview_markdown,
        summary_table,
        write_report,
    )

    Console().print(summary_table(view))
    if view.stopped_reason:
        typer.echo(view.stopped_reason, err=True)
    if report is not None:
        write_report(view, report)
    if markdown is not None:
        if view.operation is not Operation.PREVIEW:
            typer.echo("--markdown applies to preview runs only; no Markdown was written", err=True)
        else:
            try:
                text = preview_markdown(view)
            except MarkdownUnavailableError as exc:
                typer.echo(f"warning: {exc}", err=True)
            else:
                if str(markdown) == "-":
                    sys.stdout.write(text)
                else:
                    markdown.parent.mkdir(parents=True, exist_ok=True)
                    markdown.write_text(text, encoding="utf-8")
    code = exit_code(view)
    if code:
        raise typer.Exit(code)
