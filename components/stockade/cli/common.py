"""What every command shares: the project directory, exit codes and error reporting.

Commands import heavy modules (pulumi, provider SDKs, boto3) inside their bodies,
so `stockade --help` stays fast.

Exit codes: stockade.exit_codes, one scheme for every command.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from stockade.exit_codes import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_RISK,
    combined_exit,
)

if TYPE_CHECKING:
    from stockade.settings import SettingsError

__all__ = [
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_INVALID",
    "EXIT_OK",
    "EXIT_RISK",
    "AllOption",
    "ProjectOption",
    "StackOption",
    "chosen_stacks",
    "combined_exit",
    "complete_stack",
    "fail",
    "nearest_project",
    "problems_as_json",
    "problems_document",
    "project_root",
    "reported_errors",
    "write_output",
]

ProjectOption = Annotated[
    Path | None,
    typer.Option(
        "--project-dir",
        help="Stockade project checkout (default: nearest directory with Pulumi.yaml).",
        file_okay=False,
    ),
]


def nearest_project(start: Path | None = None) -> Path | None:
    """The nearest directory at or above `start` (default: here) holding Pulumi.yaml, or None."""
    here = (start or Path.cwd()).resolve()
    return next((c for c in (here, *here.parents) if (c / "Pulumi.yaml").is_file()), None)


def complete_stack(incomplete: str) -> list[str]:
    """Shell completion for --stack: the stack files of the checkout around the working directory."""
    root = nearest_project()
    if root is None:
        return []
    names = (p.name[len("Pulumi.") : -len(".yaml")] for p in (root / "stacks").glob("Pulumi.*.yaml"))
    return sorted(n for n in names if n.startswith(incomplete))


StackOption = Annotated[
    str | None,
    typer.Option(
        "--stack",
        "-s",
        help=(
            "Stack name (stacks/Pulumi.<stack>.yaml). Default: $PULUMI_STACK, then the stack "
            "`pulumi stack select` chose for this project."
        ),
        show_default=False,
        autocompletion=complete_stack,
    ),
]


def fail(message: str, code: int = EXIT_INVALID) -> NoReturn:
    from stockade.settings.problems import clean_text  # credentials redacted, controls escaped

    print(f"error: {clean_text(message)}", file=sys.stderr)
    raise typer.Exit(code)


def project_root(project_dir: Path | None) -> Path:
    """The checkout to work in; outside one, a SettingsError that says where to run."""
    from stockade.settings import ConfigProblem, SettingsError

    root = nearest_project(project_dir)
    if root is None:
        where = str(project_dir) if project_dir is not None else str(Path.cwd())
        problem = ConfigProblem(
            "--project-dir",
            where[:200],
            "no Pulumi.yaml here or in any parent directory, so this is not a Stockade project checkout",
            "run the command inside your checkout, or pass --project-dir PATH",
        )
        raise SettingsError("(none)", [problem])
    return root


def problems_document(stack: str, exc: SettingsError) -> dict[str, object]:
    """The JSON every `--format json` prints when a stack cannot be checked."""
    return {"stack": stack, "valid": False, "problems": [p.as_dict() for p in exc.problems]}


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn Stockade's expected failures into a clear message and exit code, never a traceback."""
    from stockade.settings import SettingsError

    try:
        yield
    except SettingsError as exc:
        print(exc.render(), file=sys.stderr)
        raise typer.Exit(EXIT_INVALID) from None
    except typer.Exit:
        raise
    except OSError as exc:
        # A file the user named or pointed us at that cannot be read or written.
        where = f"{exc.filename}: " if exc.filename else ""
        fail(f"{where}{exc.strerror or exc}", EXIT_INVALID)
    except Exception as exc:
        from stockade.engine.errors import SynthError, SynthInputError

        if isinstance(exc, SynthInputError):
            fail(str(exc), EXIT_INVALID)
        if isinstance(exc, SynthError):
            # The program itself failed on a stack that validated: a Stockade bug.
            fail(str(exc), EXIT_INTERNAL)
        raise


def write_output(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")


AllOption = Annotated[
    bool, typer.Option("--all", help="Every stack in stacks/ (instead of --stack).", show_default=False)
]


def chosen_stacks(stack: str | None, every: bool, project_dir: Path | None) -> tuple[Path, list[str]]:
    """The checkout and the stacks a command works on; a SettingsError when there are none."""
    from stockade.cli.stack_select import choose_stack, known_stacks
    from stockade.settings import ConfigProblem, SettingsError

    root = project_root(project_dir)
    if not every:
        return root, [choose_stack(stack, root).name]
    if stack is not None:
        problem = ConfigProblem(
            "--all", "--stack given too", "--all and --stack exclude each other", "drop one of them"
        )
        raise SettingsError("(none)", [problem])
    names = known_stacks(root)
    if not names:
        problem = ConfigProblem(
            "--all", str(root / "stacks"), "no stack files here", "create one with `stockade init`"
        )
        raise SettingsError("(none)", [problem])
    return root, names


@contextmanager
def problems_as_json(enabled: bool, **extra: object) -> Iterator[None]:
    """With `--format json`, a stack that cannot be checked still prints JSON: its problems (exit 2)."""
    import json

    from stockade.settings import SettingsError

    try:
        yield
    except SettingsError as exc:
        if not enabled:
            raise
        typer.echo(json.dumps(problems_document(exc.stack, exc) | extra, indent=2))
        raise typer.Exit(EXIT_INVALID) from None
