"""Pair a removed resource with an added one when the pair is really one resource whose URN moved.

URN and alias matches are each source's own business (desired states carry
`options.aliases`; a preview step carries the old URN). What is left over here
is a delete plus a create, which Pulumi performs as exactly that. Pairing them
lets the review say "replaced by rename" instead of two unrelated lines:
- same type and same name under a different parent (the usual refactor), or
- same type, a different name, and nearly the same inputs (a renamed resource).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stockade.review.paths import flatten
from stockade.review.text import code

SIMILARITY_THRESHOLD = 0.8
SAME_TYPE_AND_NAME = "same type and name"
SIMILAR_INPUTS = "same type, similar inputs"


@dataclass(frozen=True)
class Candidate:
    urn: str
    type: str
    name: str
    custom: bool
    inputs: Mapping[str, Any]


@dataclass(frozen=True)
class RenamePair:
    old: Candidate
    new: Candidate
    evidence: str  # "same type and name" | "same type, similar inputs"


def rename_note(pair: RenamePair) -> str:
    """What a rename-replace means for the pair, in the words the review uses everywhere."""
    if pair.new.custom:
        note = "replaced by rename: URN changed with no alias - Pulumi will delete and recreate"
    else:
        note = "component URN changed with no alias: no cloud resource of its own; its children are listed"
    if pair.evidence != SAME_TYPE_AND_NAME:
        note += f" (looks like {code(pair.old.name)} renamed: {pair.evidence})"
    return note


def similarity(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    left, right = flatten(a), flatten(b)
    if not left or not right:
        return 0.0
    same = sum(1 for path, value in left.items() if path in right and right[path] == value)
    return same / max(len(left), len(right))


def pair_renames(
    removed: Sequence[Candidate], added: Sequence[Candidate]
) -> tuple[list[RenamePair], list[Candidate], list[Candidate]]:
    """(pairs, removed left over, added left over); every candidate appears exactly once."""
    pairs: list[RenamePair] = []
    old_by_key: dict[tuple[str, str], list[Candidate]] = defaultdict(list)
    new_by_key: dict[tuple[str, str], list[Candidate]] = defaultdict(list)
    for candidate in removed:
        old_by_key[(candidate.type, candidate.name)].append(candidate)
    for candidate in added:
        new_by_key[(candidate.type, candidate.name)].append(candidate)
    paired: set[str] = set()
    for key, olds in sorted(old_by_key.items()):
        news = new_by_key.get(key, [])
        # Only an unambiguous one-to-one match says "the same resource"; several
        # same-named resources under different parents stay unpaired.
        if len(olds) == 1 and len(news) == 1:
            pairs.append(RenamePair(olds[0], news[0], SAME_TYPE_AND_NAME))
            paired |= {olds[0].urn, news[0].urn}

    old_left = [c for c in removed if c.urn not in paired]
    new_left = [c for c in added if c.urn not in paired]
    scored: list[tuple[float, str, str, Candidate, Candidate]] = []
    for old in old_left:
        if not old.custom:
            continue
        for new in new_left:
            if new.custom and new.type == old.type:
                score = similarity(old.inputs, new.inputs)
                if score >= SIMILARITY_THRESHOLD:
                    scored.append((score, old.urn, new.urn, old, new))
    for _score, old_urn, new_urn, old, new in sorted(scored, key=lambda s: (-s[0], s[1], s[2])):
        if old_urn in paired or new_urn in paired:
            continue
        pairs.append(RenamePair(old, new, SIMILAR_INPUTS))
        paired |= {old_urn, new_urn}

    return (
        sorted(pairs, key=lambda p: p.new.urn),
        [c for c in removed if c.urn not in paired],
        [c for c in added if c.urn not in paired],
    )
