"""The `stockade` command. Each subcommand lives in its own module under stockade.cli."""

from __future__ import annotations

import typer

from stockade.cli.audit_cmd import audit
from stockade.cli.bootstrap_cmd import bootstrap
from stockade.cli.comment_cmd import comment
from stockade.cli.config_docs_cmd import config_docs
from stockade.cli.diff_cmd import diff
from stockade.cli.policy_cmd import policy
from stockade.cli.rollout_cmd import rollout
from stockade.cli.synth_cmd import synth
from stockade.cli.validate_cmd import validate

app = typer.Typer(
    name="stockade",
    help="Provision and check Claude Managed Agents' self-hosted perimeter with Pulumi.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help and usage errors: rich (and the markdown parser under it) would cost more
    # than typer itself on every `--help` and every mistyped option.
    rich_markup_mode=None,
)
app.command()(validate)
app.command()(synth)
app.command("config-docs")(config_docs)
app.command()(rollout)
app.command()(diff)
app.command()(comment)
app.command()(policy)
app.command()(audit)
app.command()(bootstrap)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
