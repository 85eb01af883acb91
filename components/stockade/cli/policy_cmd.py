"""`stockade policy`: the guardrail pack over the stack's offline synth."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from stockade.cli.common import (
    EXIT_INVALID,
    AllOption,
    ProjectOption,
    StackOption,
    chosen_stacks,
    combined_exit,
    fail,
    problems_as_json,
    problems_document,
    reported_errors,
)

if TYPE_CHECKING:
    from pathlib import Path


class PolicyFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def _evaluate(root: Path, stack: str, output_format: PolicyFormat) -> tuple[int, dict[str, Any]]:
    """Run the pack over one stack: its exit code and JSON document; tables print as they finish."""
    from stockade.engine import synthesize
    from stockade.guardrails.offline import evaluate_synth
    from stockade.guardrails.report import render_table
    from stockade.settings import SettingsError
    from stockade.settings.load import read_stack_file, settings_from_stack_file

    try:
        settings = settings_from_stack_file(read_stack_file(root, stack))
    except SettingsError as exc:
        if output_format is PolicyFormat.TABLE:
            print(exc.render(), file=sys.stderr)
        return EXIT_INVALID, problems_document(stack, exc) | {"passed": False}
    report = evaluate_synth(synthesize(stack, root), settings)
    if output_format is PolicyFormat.TABLE:
        typer.echo(render_table(report), nl=False)
    return report.exit_code, report.as_json() | {"valid": True}


def policy(
    stack: StackOption = None,
    every: AllOption = False,
    project_dir: ProjectOption = None,
    output_format: Annotated[
        PolicyFormat, typer.Option("--format", help="Table, or JSON (also for an invalid stack).")
    ] = PolicyFormat.TABLE,
    emit_config: Annotated[
        bool,
        typer.Option(
            "--emit-config",
            help="Print this stack's --policy-pack-config JSON (for `pulumi preview --policy-pack policy`).",
        ),
    ] = False,
) -> None:
    """Run the same rules as the policy/ pack over the offline synth.

    Rules with nothing to check in a stack (an AWS rule on a Docker stack) show as n/a.
    Exit 0 when every mandatory rule passes, 3 on a mandatory violation, 2 when a stack is invalid.
    """
    if emit_config and every:
        fail("--emit-config prints one stack's pack config; use it with --stack, not --all")
    documents: list[dict[str, Any]] = []
    codes: list[int] = []
    with reported_errors():
        with problems_as_json(output_format is PolicyFormat.JSON, passed=False):
            root, stacks = chosen_stacks(stack, every, project_dir)
        if emit_config:
            _emit_config(root, stacks[0])
            return
        for name in stacks:
            code, document = _evaluate(root, name, output_format)
            codes.append(code)
            documents.append(document)
    if output_format is PolicyFormat.JSON:
        body: Any = (
            {"passed": all(d["passed"] for d in documents), "stacks": documents} if every else documents[0]
        )
        typer.echo(json.dumps(body, indent=2, sort_keys=True))
    raise typer.Exit(combined_exit(codes))


def _emit_config(root: Path, stack: str) -> None:
    from stockade.guardrails.pack import policy_config
    from stockade.settings.load import read_stack_file, settings_from_stack_file

    settings = settings_from_stack_file(read_stack_file(root, stack))
    typer.echo(json.dumps(policy_config(settings), indent=2, sort_keys=True))
