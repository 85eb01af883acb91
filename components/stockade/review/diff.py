"""`stockade diff` as a library call: two revisions in, one `Review` out.

No cloud credentials and no Pulumi CLI are involved, so this is safe to run on
pull requests from forks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from stockade.review.affected import affected_stacks
from stockade.review.desired import DesiredState, diff_states
from stockade.review.errors import ReviewInputError
from stockade.review.model import CostChange, Review, StackReview, risky_first
from stockade.review.revisions import DEFAULT_TIMEOUT, SynthOutcome, Workspace, find_project_dir
from stockade.review.stackfiles import (
    list_stacks,
    secret_config_changes,
    secret_fingerprints,
    stack_config_dir,
)
from stockade.review.text import code, listing

OFFLINE_NOTE = (
    "Offline desired-state diff: no cloud state was read and no provider was asked, so a property change "
    "that a provider would answer with a replacement shows here as a change. Run a real preview for that."
)


def diff_revisions(
    base: str,
    head: str | None = None,
    stacks: Sequence[str] | None = None,
    project_dir: Path | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    synth_all: bool = False,
) -> Review:
    """Diff every requested stack (default: every stack at either revision) between `base` and `head`.

    `head=None` means the working tree, uncommitted edits included. Only stacks whose
    inputs changed are synthesized (see `stockade.review.affected`) unless `synth_all`.
    A stack that fails to synthesize gets an error entry; the others are still diffed.
    Raises ReviewInputError for bad input.
    """
    project = find_project_dir(project_dir)
    with Workspace(project, timeout) as workspace:
        base_info = workspace.resolve(base)
        head_info = workspace.resolve(head) if head is not None else None
        affected = None
        if not synth_all:
            config_dir = stack_config_dir(project).relative_to(project).as_posix()
            affected = affected_stacks(workspace.changed_files(base_info, head_info), config_dir)
        # The head (usually the working tree, no checkout needed) starts synthesizing while
        # the base is being checked out: the worktree costs no wall time of its own.
        head_checkout = workspace.checkout(head_info)
        head_stacks = set(list_stacks(head_checkout.project_dir))
        wanted = list(dict.fromkeys(stacks)) if stacks else None

        def needed(names: Sequence[str], present: set[str]) -> list[str]:
            return [s for s in names if s in present and (affected is None or affected.needs(s))]

        head_done = workspace.start(head_checkout, needed(wanted or sorted(head_stacks), head_stacks))
        if affected is not None and not affected.everything and not affected.stacks and wanted is None:
            base_stacks = head_stacks  # nothing a synth reads changed: no checkout needed at all
            base_checkout = None
        else:
            base_checkout = workspace.checkout(base_info)
            base_stacks = set(list_stacks(base_checkout.project_dir))
        requested = wanted or sorted(base_stacks | head_stacks)
        missing = [s for s in requested if s not in base_stacks and s not in head_stacks]
        if missing:
            raise ReviewInputError(
                f"stack {', '.join(missing)} exists at neither {base_info.label} "
                f"nor {head_checkout.info.label} (no Pulumi.<stack>.yaml)"
            )
        skipped = [s for s in requested if affected is not None and not affected.needs(s)]
        base_done = (
            workspace.start(base_checkout, needed(requested, base_stacks))
            if base_checkout is not None
            else lambda: SynthOutcome({}, {})
        )
        old, new = base_done(), head_done()
        reviews = []
        for stack in requested:
            if stack in skipped:
                continue
            error = old.errors.get(stack) or new.errors.get(stack)
            if error is not None:
                reviews.append(failed_stack(stack, error))
                continue
            old_state = DesiredState.from_json(old.documents[stack]) if stack in old.documents else None
            new_state = DesiredState.from_json(new.documents[stack]) if stack in new.documents else None
            secrets: list[tuple[str, str]] = []
            if old_state is not None and new_state is not None and base_checkout is not None:
                secrets = secret_config_changes(
                    secret_fingerprints(base_checkout.project_dir, stack),
                    secret_fingerprints(head_checkout.project_dir, stack),
                )
            reviewed = diff_states(stack, old_state, new_state, secrets)
            cost = cost_change(
                stack,
                (base_checkout.project_dir if base_checkout else None, old.documents.get(stack)),
                (head_checkout.project_dir, new.documents.get(stack)),
            )
            if isinstance(cost, str):
                reviewed = replace(reviewed, notes=(*reviewed.notes, cost))
            else:
                reviewed = replace(reviewed, cost=cost)
            perimeter = changed_perimeter(old.documents.get(stack), new.documents.get(stack))
            reviewed = replace(reviewed, perimeter=perimeter)
            reviews.append(reviewed)
        notes = [OFFLINE_NOTE]
        if skipped:
            notes.append(skipped_note(skipped))
        return Review(
            source="diff",
            stacks=risky_first(reviews),
            base=base_info,
            head=head_checkout.info,
            notes=tuple(notes),
        )


def cost_change(
    stack: str,
    old: tuple[Path | None, Mapping[str, Any] | None],
    new: tuple[Path | None, Mapping[str, Any] | None],
) -> CostChange | str | None:
    """The monthly estimate at both revisions, a note saying why there is none, or None (no AWS cost)."""
    from stockade.cost.estimate import CostError, Estimate, estimate
    from stockade.settings import SettingsError
    from stockade.settings.load import read_stack_file, settings_from_stack_file

    def priced(project: Path | None, document: Mapping[str, Any] | None) -> Estimate | None:
        if project is None or document is None:
            return None
        settings = settings_from_stack_file(read_stack_file(project, stack))
        resources = [r for r in document.get("resources") or () if isinstance(r, Mapping)]
        return estimate(stack, resources, settings.cost, settings.aws_region)

    try:
        before, after = priced(*old), priced(*new)
    except (CostError, SettingsError, OSError) as exc:
        message = exc.render() if isinstance(exc, SettingsError) else str(exc)
        return f"monthly cost not estimated: {code(message.splitlines()[0], 300)}"
    if not (before and before.items) and not (after and after.items):
        return None
    old_items, new_items = (before.by_name() if before else {}), (after.by_name() if after else {})
    changed = tuple(
        (name, old_items.get(name, 0.0), new_items.get(name, 0.0))
        for name in dict.fromkeys([*old_items, *new_items])
        if old_items.get(name, 0.0) != new_items.get(name, 0.0)
    )
    book = after or before
    assert book is not None
    return CostChange(
        before=before.total if before else None,
        after=after.total if after else None,
        currency=book.currency,
        prices_as_of=book.as_of,
        items=changed,
    )


def changed_perimeter(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> str | None:
    """The head's perimeter diagram (the base's for a removed stack) when the two differ, else None."""
    from stockade.diagram.perimeter import perimeter_of

    before = perimeter_of(old) if old is not None else None
    after = perimeter_of(new) if new is not None else None
    return None if before == after else (after or before)


def failed_stack(stack: str, error: str) -> StackReview:
    """A stack that could not be synthesized: its own section, and the run reports a failure."""
    return StackReview(stack=stack, status="error", changes=(), error=error)


def skipped_note(skipped: Sequence[str]) -> str:
    return (
        f"{len(skipped)} stack{'s' if len(skipped) != 1 else ''} not synthesized because no file they read "
        f"changed (their stack file, the program, components/, dependencies): {listing(list(skipped), 10)}. "
        "Run with `--all-stacks` to synthesize every stack anyway."
    )
