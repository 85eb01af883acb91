"""The `stockade` command. Each subcommand lives in its own module under stockade.cli."""

from __future__ import annotations

import typer

from stockade.cli.config_docs_cmd import config_docs
from stockade.cli.synth_cmd import synth
from stockade.cli.validate_cmd import validate

app = typer.Typer(
    name="stockade",
    help="Provision and check Claude Managed Agents' self-hosted perimeter with Pulumi.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(validate)
app.command()(synth)
app.command("config-docs")(config_docs)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
