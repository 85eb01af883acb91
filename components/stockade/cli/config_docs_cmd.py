"""`stockade config-docs`: regenerate (or check) the schema and configuration reference."""

from __future__ import annotations

from typing import Annotated

import typer

from stockade.cli.common import EXIT_FAILED, ProjectOption


def config_docs(
    project_dir: ProjectOption = None,
    write: Annotated[bool, typer.Option("--write", help="Rewrite the generated files.")] = False,
) -> None:
    """Check that docs/stack-config.schema.json and docs/configuration.md match the settings model."""
    from stockade.engine.project import find_project_dir
    from stockade.settings.reference import drifted, write_all

    root = find_project_dir(project_dir)
    if write:
        for path in write_all(root):
            typer.echo(f"wrote {path.relative_to(root)}")
        return
    stale = drifted(root)
    if stale:
        names = ", ".join(str(p) for p in stale)
        typer.echo(f"out of date: {names}; run `stockade config-docs --write`", err=True)
        raise typer.Exit(EXIT_FAILED)
    typer.echo("generated config docs are up to date")
