"""`stockade init`: a commented stack file for a new stack, with TODOs for what only you know."""

from __future__ import annotations

from typing import Annotated

import typer

from stockade.cli.common import EXIT_INVALID, ProjectOption, fail, project_root, reported_errors
from stockade.cli.skeletons import InitTarget


def init(
    stack: Annotated[str, typer.Option("--stack", "-s", help="Name of the new stack.", show_default=False)],
    target: Annotated[InitTarget, typer.Option("--target", help="Where it deploys.", show_default=False)],
    project_dir: ProjectOption = None,
) -> None:
    """Write stacks/Pulumi.STACK.yaml: safe defaults, a TODO for every value only you can supply.

    No secrets and no image digests are made up: secrets are set with `pulumi config set --secret`,
    images are the ones you build or mirror. Refuses to overwrite an existing stack file.
    Exit 0 when written, 2 for a bad name or an existing file.
    """
    from stockade.cli.skeletons import skeleton, todos
    from stockade.cli.stack_select import name_problem
    from stockade.settings import SettingsError
    from stockade.settings.load import stack_file_path

    with reported_errors():
        problem = name_problem(stack, "--stack")
        if problem is not None:
            raise SettingsError("(new stack)", [problem])
        root = project_root(project_dir)
        path = stack_file_path(root, stack)
        text = skeleton(stack, target)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # "x": never replace a stack file someone already wrote, even in a race.
            with path.open("x", encoding="utf-8") as handle:
                handle.write(text)
        except FileExistsError:
            fail(
                f"{path.relative_to(root)} already exists; nothing was written "
                "(edit it, or pick another --stack name)",
                EXIT_INVALID,
            )
    typer.echo(f"wrote {path.relative_to(root)} ({target.value}). Still to supply:")
    for todo in todos(text):
        typer.echo(f"  - {todo}")
    typer.echo(f"Then: stockade validate --stack {stack}   (lists whatever is still missing)")
