"""`stockade synth`: the stack's desired state, offline."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from stockade.cli.common import (
    ProjectOption,
    StackOption,
    chosen_stacks,
    problems_as_json,
    reported_errors,
    write_output,
)


class SynthFormat(StrEnum):
    JSON = "json"
    TREE = "tree"
    SUMMARY = "summary"
    MERMAID = "mermaid"


def synth(
    stack: StackOption = None,
    project_dir: ProjectOption = None,
    output_format: Annotated[
        SynthFormat,
        typer.Option("--format", help="Output format; mermaid draws the perimeter (docs/perimeters.md)."),
    ] = SynthFormat.SUMMARY,
    out: Annotated[Path | None, typer.Option("--out", help="Write to FILE instead of stdout.")] = None,
) -> None:
    """Run the stack's program under Pulumi's mock runtime: no CLI, no credentials, no plugins.

    Exit 0 when synthesized, 2 when the stack is invalid (with --format json, its problems as JSON).
    """
    from stockade.engine import synthesize
    from stockade.engine.render import render_summary, render_tree

    with reported_errors():
        with problems_as_json(output_format is SynthFormat.JSON):
            root, (name,) = chosen_stacks(stack, False, project_dir)
            result = synthesize(name, root)
        if output_format is SynthFormat.JSON:
            text = result.to_json()
        elif output_format is SynthFormat.MERMAID:
            from stockade.diagram.perimeter import perimeter_of

            text = perimeter_of(result.as_json())
        elif output_format is SynthFormat.TREE:
            text = render_tree(result)
        else:
            text = render_summary(result)
        write_output(text, out)
