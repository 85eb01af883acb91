"""`stockade policy`: the guardrail pack over the stack's offline synth."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer

from stockade.cli.common import ProjectOption, StackOption, reported_errors


class PolicyFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def policy(
    stack: StackOption,
    project_dir: ProjectOption = None,
    output_format: Annotated[
        PolicyFormat, typer.Option("--format", help="Output format.")
    ] = PolicyFormat.TABLE,
    emit_config: Annotated[
        bool,
        typer.Option(
            "--emit-config",
            help="Print this stack's --policy-pack-config JSON (for `pulumi preview --policy-pack policy`).",
        ),
    ] = False,
) -> None:
    """Run the same rules as the policy/ pack over the offline synth; exit 1 on a mandatory violation."""
    from stockade.engine import synthesize
    from stockade.engine.project import find_project_dir
    from stockade.guardrails.offline import evaluate_synth
    from stockade.guardrails.pack import policy_config
    from stockade.guardrails.report import render_table
    from stockade.settings.load import read_stack_file, settings_from_stack_file

    with reported_errors():
        root = find_project_dir(project_dir)
        settings = settings_from_stack_file(read_stack_file(root, stack))
        if emit_config:
            typer.echo(json.dumps(policy_config(settings), indent=2, sort_keys=True))
            return
        report = evaluate_synth(synthesize(stack, root), settings)
        if output_format is PolicyFormat.JSON:
            typer.echo(report.to_json(), nl=False)
        else:
            typer.echo(render_table(report), nl=False)
        raise typer.Exit(report.exit_code)
