"""What every command shares: the project directory, exit codes and error reporting.

Commands import heavy modules (pulumi, provider SDKs, boto3) inside their bodies,
so `stockade --help` stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2

ProjectOption = Annotated[
    Path | None,
    typer.Option(
        "--project-dir",
        help="Stockade project checkout (default: nearest directory with Pulumi.yaml).",
        file_okay=False,
    ),
]
StackOption = Annotated[str, typer.Option("--stack", "-s", help="Stack name (stacks/Pulumi.<stack>.yaml).")]


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(code)


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
    except Exception as exc:
        known: tuple[type[BaseException], ...] = _known_errors()
        if isinstance(exc, known):
            fail(str(exc))
        raise


def _known_errors() -> tuple[type[BaseException], ...]:
    from stockade.engine.errors import SynthError

    return (SynthError, OSError)


def write_output(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")


def lazy(module: str, attribute: str) -> Callable[..., object]:
    """Resolve a callable only when invoked, keeping imports off `--help`."""

    def call(*args: object, **kwargs: object) -> object:
        import importlib

        return getattr(importlib.import_module(module), attribute)(*args, **kwargs)

    return call
