"""`stockade diff` as a library call: two revisions in, one `Review` out.

No cloud credentials and no Pulumi CLI are involved, so this is safe to run on
pull requests from forks.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from stockade.review.desired import DesiredState, diff_states
from stockade.review.errors import ReviewInputError
from stockade.review.model import Review, risky_first
from stockade.review.revisions import DEFAULT_TIMEOUT, Workspace, find_project_dir
from stockade.review.stackfiles import list_stacks, secret_config_changes, secret_fingerprints

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
) -> Review:
    """Diff every requested stack (default: every stack at either revision) between `base` and `head`.

    `head=None` means the working tree, uncommitted edits included.
    Raises ReviewInputError for bad input and RevisionError when a revision fails to synthesize.
    """
    project = find_project_dir(project_dir)
    with Workspace(project, timeout) as workspace:
        base_info = workspace.resolve(base)
        head_info = workspace.resolve(head) if head is not None else None
        # The head (usually the working tree, no checkout needed) starts synthesizing while
        # the base is being checked out: the worktree costs no wall time of its own.
        head_checkout = workspace.checkout(head_info)
        head_stacks = set(list_stacks(head_checkout.project_dir))
        wanted = list(dict.fromkeys(stacks)) if stacks else None
        head_done = workspace.start(
            head_checkout, [s for s in wanted or sorted(head_stacks) if s in head_stacks]
        )
        base_checkout = workspace.checkout(base_info)
        base_stacks = set(list_stacks(base_checkout.project_dir))
        requested = wanted or sorted(base_stacks | head_stacks)
        missing = [s for s in requested if s not in base_stacks and s not in head_stacks]
        if missing:
            raise ReviewInputError(
                f"stack {', '.join(missing)} exists at neither {base_checkout.info.label} "
                f"nor {head_checkout.info.label} (no Pulumi.<stack>.yaml)"
            )
        base_done = workspace.start(base_checkout, [s for s in requested if s in base_stacks])
        old_docs, new_docs = base_done(), head_done()
        reviews = []
        for stack in requested:
            old = DesiredState.from_json(old_docs[stack]) if stack in old_docs else None
            new = DesiredState.from_json(new_docs[stack]) if stack in new_docs else None
            secrets: list[tuple[str, str]] = []
            if old is not None and new is not None:
                secrets = secret_config_changes(
                    secret_fingerprints(base_checkout.project_dir, stack),
                    secret_fingerprints(head_checkout.project_dir, stack),
                )
            reviews.append(diff_states(stack, old, new, secrets))
        return Review(
            source="diff",
            stacks=risky_first(reviews),
            base=base_checkout.info,
            head=head_checkout.info,
            notes=(OFFLINE_NOTE,),
        )
