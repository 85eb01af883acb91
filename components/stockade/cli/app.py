"""The `stockade` command. Each subcommand lives in its own module under stockade.cli.

`main` keeps the exit-code scheme (stockade.exit_codes): usage errors exit 2 with the parser's
message, Ctrl-C exits 130, and anything unexpected is an internal error (exit 1) reported in
one line, never a traceback unless STOCKADE_DEBUG=1 asks for it.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from stockade.exit_codes import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK

PROG = "stockade"
DEBUG_ENV = "STOCKADE_DEBUG"
PYDANTIC_PLUGINS_ENV = "PYDANTIC_DISABLE_PLUGINS"
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("stockade.cli.init_cmd", "init"),
    "validate": ("stockade.cli.validate_cmd", "validate"),
    "synth": ("stockade.cli.synth_cmd", "synth"),
    "policy": ("stockade.cli.policy_cmd", "policy"),
    "diff": ("stockade.cli.diff_cmd", "diff"),
    "comment": ("stockade.cli.comment_cmd", "comment"),
    "audit": ("stockade.cli.audit_cmd", "audit"),
    "bootstrap": ("stockade.cli.bootstrap_cmd", "bootstrap"),
    "rollout": ("stockade.cli.rollout_cmd", "rollout"),
    "cost": ("stockade.cli.cost_cmd", "cost"),
    "config-docs": ("stockade.cli.config_docs_cmd", "config_docs"),
}
"""Every subcommand, in the order `--help` lists them: name -> (module, function)."""
LONG_RUNNING = frozenset({"rollout"})
"""Commands that run for minutes or hours: they keep the garbage collector's default schedule."""


def installed_version() -> str:
    """The installed distribution's version; the package's own when running from a bare checkout."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(PROG)
    except PackageNotFoundError:
        from stockade import __version__

        return __version__


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"{PROG} {installed_version()}")
        raise typer.Exit(EXIT_OK)


def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Provision and check Claude Managed Agents' self-hosted perimeter with Pulumi.

    Exit codes (every command): 0 clean; 2 bad input or usage; 3 a risk, policy violation or
    other failed check; 1 internal error (a bug); 130 interrupted.
    """


def _short_help(command: Callable[..., Any]) -> str:
    # Click shortens a command's summary to fit the command list ("..."); the first docstring
    # line, given whole, is wrapped instead.
    return (command.__doc__ or "").strip().splitlines()[0]


def build_app(only: str | None = None) -> typer.Typer:
    """The command line with every subcommand, or with `only` that one.

    Running one subcommand needs only its own module and parameters: building all eleven
    imported every command module and had typer read every signature, a third of what
    `stockade validate` costs beyond its settings models (benchmarks/bench_synth.py).
    """
    import importlib

    built = typer.Typer(
        name=PROG,
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        # Plain click help wraps every line to the terminal; rich panels cut long words with "…".
        rich_markup_mode=None,
    )
    built.callback()(root)
    for name, (module, attribute) in COMMANDS.items():
        if only is None or name == only:
            command = getattr(importlib.import_module(module), attribute)
            built.command(name, short_help=_short_help(command))(command)
    return built


def _invoked(args: Sequence[str]) -> str | None:
    """The subcommand named first on the line, if any; root options (--version, completion,
    --help) come before a subcommand, so anything else needs the whole command line."""
    return args[0] if args and args[0] in COMMANDS else None


def __getattr__(name: str) -> Any:
    # `app`, the whole command line, for tests and tools that import it (typer's CliRunner,
    # completion); built on first use, not at import.
    if name == "app":
        return _whole_app()
    raise AttributeError(name)


@functools.cache
def _whole_app() -> typer.Typer:
    return build_app()


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code.

    Typer already exits 2 on usage errors and 130 on Ctrl-C; what escapes it is a bug.
    """
    try:
        # Not standalone: click would print a usage error itself, echoing the arguments as
        # given, and a key pasted into the wrong place would land in a CI log.
        args = list(argv) if argv is not None else sys.argv[1:]
        command_line = build_app(only=_invoked(args))
        outcome = command_line(args=args, prog_name=PROG, standalone_mode=False)
    except typer.Abort:
        print("Aborted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except typer.TyperException as exc:
        # Typer's click: usage errors and bad parameters, each with `show` and `exit_code`.
        if not hasattr(exc, "show"):
            raise
        _show_cleaned(exc)
        return int(getattr(exc, "exit_code", EXIT_INVALID))
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or EXIT_OK
        print(exc.code, file=sys.stderr)
        return EXIT_INTERNAL
    except Exception as exc:
        _report_internal_error(exc)
        return EXIT_INTERNAL
    # Not standalone, click returns what `typer.Exit` carried, or the command's own result.
    return outcome if isinstance(outcome, int) else EXIT_OK


def _show_cleaned(exc: Any) -> None:
    """click's own rendering of a usage error, with credentials redacted and controls escaped."""
    import io

    from stockade.settings.problems import clean_text

    rendered = io.StringIO()
    exc.show(file=rendered)
    lines = rendered.getvalue().rstrip("\n").split("\n")
    sys.stderr.write("\n".join(clean_text(line) for line in lines) + "\n")


def _report_internal_error(exc: Exception) -> None:
    """One line a user can report; the message and traceback only on request, as they may hold values."""
    import traceback

    if os.environ.get(DEBUG_ENV):
        traceback.print_exception(exc)
        return
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f"{os.sep}stockade{os.sep}" in f.filename]
    where = f" at {Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else ""
    print(
        f"internal error: {type(exc).__name__}{where}. This is a bug in Stockade; please report it with "
        f"the command you ran. Set {DEBUG_ENV}=1 to print the traceback.",
        file=sys.stderr,
    )


def main() -> None:
    if _invoked(sys.argv[1:]) in LONG_RUNNING:
        sys.exit(run())
    from stockade import gc_schedule

    gc_schedule.pause()  # a short process: see stockade.gc_schedule
    # Third-party pydantic plugins would see every stack file this process validates, and
    # finding them reads the metadata of every installed distribution first: a setting,
    # not a plugin host. An explicit PYDANTIC_DISABLE_PLUGINS is kept as given.
    os.environ.setdefault(PYDANTIC_PLUGINS_ENV, "__all__")
    gc_schedule.exit_without_teardown(run())


if __name__ == "__main__":
    main()
