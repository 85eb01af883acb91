"""`stockade config-docs`: regenerate (or check) the schema and configuration reference."""

from __future__ import annotations

from typing import Annotated

import typer

from stockade.cli.common import EXIT_RISK, ProjectOption, project_root, reported_errors


def config_docs(
    project_dir: ProjectOption = None,
    write: Annotated[bool, typer.Option("--write", help="Rewrite the generated files.")] = False,
) -> None:
    """Check that docs/stack-config.schema.json and docs/configuration.md match the settings model.

    Exit 0 when they match (or were rewritten), 3 when they are out of date.
    """
    from stockade.settings.reference import drifted, write_all

    with reported_errors():
        root = project_root(project_dir)
        if write:
            for path in write_all(root):
                typer.echo(f"wrote {path.relative_to(root)}")
            return
        stale = drifted(root)
    if stale:
        names = ", ".join(str(p) for p in stale)
        typer.echo(f"out of date: {names}; run `stockade config-docs --write`", err=True)
        raise typer.Exit(EXIT_RISK)
    typer.echo("generated config docs are up to date")
