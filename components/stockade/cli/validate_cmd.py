"""`stockade validate`: every problem in a stack file, at once."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from stockade.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    AllOption,
    ProjectOption,
    StackOption,
    chosen_stacks,
    problems_document,
)

if TYPE_CHECKING:
    from pathlib import Path


class ValidateFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def _check(root: Path, stack: str) -> dict[str, Any]:
    """One stack's verdict as a JSON-ready document (problems or weakenings)."""
    from stockade.settings import SettingsError
    from stockade.settings.load import read_stack_file, settings_from_stack_file

    try:
        settings = settings_from_stack_file(read_stack_file(root, stack))
    except SettingsError as exc:
        return problems_document(stack, exc) | {"rendered": exc.render()}
    return {
        "stack": stack,
        "valid": True,
        "target": settings.target.value,
        "environment": settings.environment.value,
        "problems": [],
        "weakenings": list(settings.weakenings()),
    }


def _print_text(document: dict[str, Any]) -> None:
    if not document["valid"]:
        typer.echo(document["rendered"], err=True)
        return
    typer.echo(f"stack '{document['stack']}' is valid ({document['target']}, {document['environment']})")
    for weakening in document["weakenings"]:
        typer.echo(f"  weakened: {weakening}")


def validate(
    stack: StackOption = None,
    every: AllOption = False,
    project_dir: ProjectOption = None,
    output_format: Annotated[
        ValidateFormat, typer.Option("--format", help="Text, or JSON (also for an invalid stack).")
    ] = ValidateFormat.TEXT,
) -> None:
    """Check stacks/Pulumi.STACK.yaml against the settings model and report every problem at once.

    Exit 0 when valid, 2 when any stack is invalid or cannot be read.
    """
    from stockade.settings import SettingsError

    try:
        root, stacks = chosen_stacks(stack, every, project_dir)
        documents = [_check(root, name) for name in stacks]
    except SettingsError as exc:
        documents = [problems_document(exc.stack, exc) | {"rendered": exc.render()}]
    valid = all(d["valid"] for d in documents)
    if output_format is ValidateFormat.JSON:
        public = [{k: v for k, v in d.items() if k != "rendered"} for d in documents]
        body: Any = {"valid": valid, "stacks": public} if every else public[0]
        typer.echo(json.dumps(body, indent=2))
    else:
        for document in documents:
            _print_text(document)
    raise typer.Exit(EXIT_OK if valid else EXIT_INVALID)
