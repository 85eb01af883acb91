"""`stockade validate`: every problem in a stack file, at once."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer

from stockade.cli.common import EXIT_INVALID, ProjectOption, StackOption


class ValidateFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def validate(
    stack: StackOption,
    project_dir: ProjectOption = None,
    output_format: Annotated[ValidateFormat, typer.Option("--format")] = ValidateFormat.TEXT,
) -> None:
    """Check stacks/Pulumi.STACK.yaml against the settings model; exit 2 when invalid."""
    from stockade.engine.project import find_project_dir
    from stockade.settings import SettingsError
    from stockade.settings.load import read_stack_file, settings_from_stack_file

    root = find_project_dir(project_dir)
    try:
        settings = settings_from_stack_file(read_stack_file(root, stack))
    except SettingsError as exc:
        if output_format is ValidateFormat.JSON:
            typer.echo(
                json.dumps(
                    {"stack": stack, "valid": False, "problems": [p.as_dict() for p in exc.problems]},
                    indent=2,
                )
            )
        else:
            typer.echo(exc.render(), err=True)
        raise typer.Exit(EXIT_INVALID) from None
    weakenings = settings.weakenings()
    if output_format is ValidateFormat.JSON:
        typer.echo(
            json.dumps({"stack": stack, "valid": True, "problems": [], "weakenings": weakenings}, indent=2)
        )
        return
    typer.echo(f"stack '{stack}' is valid ({settings.target.value}, {settings.environment.value})")
    for weakening in weakenings:
        typer.echo(f"  weakened: {weakening}")
