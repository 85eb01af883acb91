"""`stockade comment`: a real `pulumi preview --json` as a pull-request comment, secrets redacted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from stockade.cli.diff_cmd import (
    FailOnRiskOption,
    FormatOption,
    JsonOutOption,
    MaxCharsOption,
    OutOption,
    ReviewFormat,
    emit,
)

if TYPE_CHECKING:
    from stockade.review.model import Review


def read_preview(path: Path) -> Any:
    """The parsed document, or a ReviewInputError that names the file and what is wrong with it."""
    from stockade.review.errors import ReviewInputError

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReviewInputError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ReviewInputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        hint = ""
        if text.lstrip()[:1] not in ("{", ""):
            hint = "; the file must hold only the JSON document (`pulumi preview --json > FILE`)"
        raise ReviewInputError(
            f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}{hint}"
        ) from None
    except RecursionError:
        raise ReviewInputError(f"{path}: nested too deeply for a `pulumi preview --json` document") from None


def comment(
    previews: Annotated[
        list[Path],
        typer.Argument(
            metavar="PREVIEW.json...", help="Output of `pulumi preview --json`, one file per stack."
        ),
    ],
    stack: Annotated[
        str | None,
        typer.Option("--stack", "-s", help="Stack name for a single file (default: taken from its URNs)."),
    ] = None,
    output_format: FormatOption = ReviewFormat.MARKDOWN,
    out: OutOption = None,
    json_out: JsonOutOption = None,
    max_chars: MaxCharsOption = 60_000,
    fail_on_risk: FailOnRiskOption = False,
) -> None:
    """Render real previews into the same comment as `stockade diff`, with secrets redacted on both sides.

    Exit 0 when rendered, 2 for an unreadable or invalid preview file,
    3 with --fail-on-risk when a risky change is found.
    """

    def build() -> Review:
        from stockade.review.errors import ReviewInputError
        from stockade.review.preview import review_preview, review_stacks

        if stack is not None and len(previews) != 1:
            raise ReviewInputError("--stack names the stack of a single preview file; give one file with it")
        return review_stacks(
            [
                review_preview(read_preview(path), stack=stack, source=str(path), default_stack=path.stem)
                for path in previews
            ]
        )

    emit(build, output_format, out, json_out, max_chars, fail_on_risk)
