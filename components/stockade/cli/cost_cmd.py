"""`stockade cost`: the stack's monthly cost, estimated from its desired state, offline."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from stockade.cli.common import (
    EXIT_INVALID,
    ProjectOption,
    StackOption,
    chosen_stacks,
    reported_errors,
    write_output,
)


class CostFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def cost(
    stack: StackOption,
    project_dir: ProjectOption = None,
    output_format: Annotated[
        CostFormat, typer.Option("--format", help="A table for people or JSON for tools.")
    ] = CostFormat.TABLE,
    out: Annotated[Path | None, typer.Option("--out", help="Write to FILE instead of stdout.")] = None,
) -> None:
    """Estimate the stack's monthly cost from what it would deploy, with list prices from a dated file.

    Usage that the resources cannot tell (traffic, session-hours, log volume) comes from
    `stockade:cost` in the stack file; every default is in docs/configuration.md.
    Exit 0 when printed, 2 for invalid settings or a region without prices.
    """
    from stockade.cost.estimate import CostError, estimate, render_table
    from stockade.engine import synthesize
    from stockade.settings.load import read_stack_file, settings_from_stack_file

    with reported_errors():
        project, (name,) = chosen_stacks(stack, False, project_dir)
        settings = settings_from_stack_file(read_stack_file(project, name))
        result = synthesize(name, project)
        documents = [resource.as_json() for resource in result.resources]
        try:
            priced = estimate(name, documents, settings.cost, settings.aws_region)
        except CostError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise typer.Exit(EXIT_INVALID) from None
        if output_format is CostFormat.JSON:
            text = json.dumps(priced.as_json(), indent=2, sort_keys=True) + "\n"
        else:
            text = render_table(priced)
        write_output(text, out)
