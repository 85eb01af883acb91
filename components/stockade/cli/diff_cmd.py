"""`stockade diff`: desired-state differences between two git revisions, offline and credential-free."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from stockade.cli.common import EXIT_INVALID, EXIT_RISK, ProjectOption, write_output

if TYPE_CHECKING:
    from stockade.review.model import Review


class ReviewFormat(StrEnum):
    MARKDOWN = "markdown"
    JSON = "json"


FormatOption = Annotated[
    ReviewFormat, typer.Option("--format", help="Markdown comment or JSON (docs/diff.schema.json).")
]
OutOption = Annotated[Path | None, typer.Option("--out", help="Write to FILE instead of stdout.")]
JsonOutOption = Annotated[
    Path | None,
    typer.Option("--json-out", help="Also write the JSON document to FILE (one run, both formats)."),
]
MaxCharsOption = Annotated[
    int,
    typer.Option("--max-chars", min=1000, help="Size budget of the Markdown comment, in characters."),
]
FailOnRiskOption = Annotated[
    bool, typer.Option("--fail-on-risk", help=f"Exit {EXIT_RISK} when a risky change is found.")
]


@contextmanager
def review_errors() -> Iterator[None]:
    """Bad input, and a revision that fails to synthesize, exit 2 with one clear message, no traceback."""
    from stockade.review.errors import ReviewInputError, RevisionError
    from stockade.settings.problems import clean_text  # input quoted back is redacted and escaped

    try:
        yield
    except ReviewInputError as exc:
        print(f"error: {clean_text(str(exc))}", file=sys.stderr)
        raise typer.Exit(EXIT_INVALID) from None
    except RevisionError as exc:
        print(f"error: {clean_text(str(exc))}", file=sys.stderr)
        raise typer.Exit(EXIT_INVALID) from None
    except OSError as exc:
        print(f"error: {clean_text(str(exc))}", file=sys.stderr)
        raise typer.Exit(EXIT_INVALID) from None


def emit(
    build: Callable[[], Review],
    output_format: ReviewFormat,
    out: Path | None,
    json_out: Path | None,
    max_chars: int,
    fail_on_risk: bool,
) -> None:
    """Build the review, write it in the requested format(s), and exit by the risk rule."""
    from stockade.review.markdown import render_json, render_markdown

    with review_errors():
        review = build()
        text = (
            render_json(review)
            if output_format is ReviewFormat.JSON
            else render_markdown(review, max_chars=max_chars)
        )
        write_output(text, out)
        if json_out is not None:
            write_output(render_json(review), json_out)
    failed = review.failed_stacks()
    if failed:
        # The comment is written (the other stacks are worth reading); the exit code still says it failed.
        print(f"error: could not review stack {', '.join(failed)}; see its section", file=sys.stderr)
        raise typer.Exit(EXIT_INVALID)
    if fail_on_risk and review.has_risk():
        raise typer.Exit(EXIT_RISK)


def diff(
    base: Annotated[
        str, typer.Option("--base", help="Git revision to compare against (branch, tag or commit).")
    ],
    head: Annotated[
        str | None,
        typer.Option(
            "--head",
            help="Git revision with the change (default: the working tree, uncommitted edits included).",
        ),
    ] = None,
    stacks: Annotated[
        list[str] | None,
        typer.Option(
            "--stack", "-s", help="Stack to diff; repeat for more (default: every stack at either revision)."
        ),
    ] = None,
    output_format: FormatOption = ReviewFormat.MARKDOWN,
    out: OutOption = None,
    json_out: JsonOutOption = None,
    max_chars: MaxCharsOption = 60_000,
    fail_on_risk: FailOnRiskOption = False,
    all_stacks: Annotated[
        bool,
        typer.Option(
            "--all-stacks",
            help="Synthesize every stack, also those whose stack file, code and dependencies are unchanged.",
        ),
    ] = False,
    project_dir: ProjectOption = None,
) -> None:
    """Synthesize each stack at BASE and HEAD offline and review the difference, risky changes first.

    Only stacks whose inputs changed are synthesized: a stack file change needs that stack,
    a change to shared code or dependencies needs every stack.
    No cloud credentials and no Pulumi CLI: safe for pull requests from forks.
    Exit 0 when rendered, 2 for bad input or when a stack fails to synthesize (the others are
    still rendered), 3 with --fail-on-risk when a risky change is found.
    """

    def build() -> Review:
        from stockade.review.diff import diff_revisions

        return diff_revisions(base, head, stacks, project_dir, synth_all=all_stacks)

    emit(build, output_format, out, json_out, max_chars, fail_on_risk)
