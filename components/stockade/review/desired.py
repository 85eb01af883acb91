"""Diff two synthesized desired states (SynthResult JSON) into the review model.

The documents come from child processes running each revision's own engine,
so they are read defensively as JSON (`engine/model.py`'s `as_json` shape) and
never as the current code's classes: the base may be older than this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stockade.review.matching import Candidate, pair_renames, rename_note
from stockade.review.model import ChangeKind, PropertyChange, ResourceChange, ResourceFlags, StackReview
from stockade.review.paths import ABSENT, diff_leaves, format_path, is_member_leaf
from stockade.review.risk import classify, ordering_key, secret_config_risks, weakening_risks
from stockade.review.secrets import contains_secret, path_is_secret_by_name
from stockade.review.text import code


@dataclass(frozen=True)
class DesiredResource:
    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    provider: str | None
    inputs: Mapping[str, Any]
    aliases: tuple[str, ...]
    flags: ResourceFlags
    options: Mapping[str, Any]

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> DesiredResource:
        options = doc.get("options") or {}
        inputs = doc.get("inputs")
        return cls(
            urn=str(doc["urn"]),
            type=str(doc.get("type", "")),
            name=str(doc.get("name", "")),
            parent=doc.get("parent"),
            custom=bool(doc.get("custom", True)),
            provider=doc.get("provider"),
            inputs=inputs if isinstance(inputs, Mapping) else {},
            aliases=tuple(str(a) for a in options.get("aliases") or ()),
            flags=ResourceFlags(
                protect=bool(options.get("protect", False)),
                retain_on_delete=bool(options.get("retainOnDelete", False)),
                additional_secret_outputs=tuple(str(k) for k in options.get("additionalSecretOutputs") or ()),
            ),
            options=options,
        )

    def candidate(self) -> Candidate:
        return Candidate(self.urn, self.type, self.name, self.custom, self.inputs)


@dataclass(frozen=True)
class DesiredState:
    """One stack at one revision, as the review needs it."""

    resources: dict[str, DesiredResource]
    weakenings: tuple[str, ...]

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> DesiredState:
        resources = [
            DesiredResource.from_json(r) for r in doc.get("resources") or () if isinstance(r, Mapping)
        ]
        return cls(
            resources={r.urn: r for r in resources},
            weakenings=tuple(str(w) for w in doc.get("weakenings") or ()),
        )


# Registration options worth showing when they change; aliases and dependencies are noise here.
_SHOWN_OPTIONS = ("protect", "retainOnDelete", "deleteBeforeReplace", "ignoreChanges", "replaceOnChanges")


def property_changes(old: DesiredResource | None, new: DesiredResource | None) -> tuple[PropertyChange, ...]:
    secret_keys: set[str] = set()
    for side in (old, new):
        if side is not None:
            secret_keys |= set(side.flags.additional_secret_outputs)
    changes: list[PropertyChange] = []
    for leaf in diff_leaves(old.inputs if old else None, new.inputs if new else None):
        top = leaf.path[0] if leaf.path else None
        secret = (
            contains_secret(leaf.old)
            or contains_secret(leaf.new)
            or top in secret_keys
            or path_is_secret_by_name(leaf.path)
        )
        changes.append(
            PropertyChange(
                path=format_path(leaf.path),
                kind=leaf.kind,
                old=None if secret or leaf.old is ABSENT else leaf.old,
                new=None if secret or leaf.new is ABSENT else leaf.new,
                secret=secret,
                member=is_member_leaf(leaf.path),
            )
        )
    if old is not None and new is not None:
        for option in _SHOWN_OPTIONS:
            before, after = old.options.get(option), new.options.get(option)
            if (before or None) != (after or None):
                changes.append(PropertyChange(f"(options).{option}", "update", before, after))
        if old.provider != new.provider:
            changes.append(PropertyChange("(provider)", "update", old.provider, new.provider))
    return tuple(changes)


def _change(
    kind: ChangeKind, old: DesiredResource | None, new: DesiredResource | None, note: str = ""
) -> ResourceChange:
    current = new or old
    assert current is not None
    return ResourceChange(
        kind=kind,
        urn=current.urn,
        type=current.type,
        name=current.name,
        custom=current.custom,
        old_urn=old.urn if old is not None and new is not None and old.urn != new.urn else None,
        old_inputs=old.inputs if old else None,
        new_inputs=new.inputs if new else None,
        old_flags=old.flags if old else None,
        new_flags=new.flags if new else None,
        properties=property_changes(old, new),
        note=note,
    )


def diff_states(
    stack: str,
    old: DesiredState | None,
    new: DesiredState | None,
    secret_config: list[tuple[str, str]] | None = None,
) -> StackReview:
    """Resource-by-resource differences, risky changes first.

    `secret_config` lists secret config key paths that changed between the two
    stack files (and how); their values never reach this function.
    """
    old_resources = old.resources if old else {}
    new_resources = new.resources if new else {}
    changes: list[ResourceChange] = []
    unchanged = 0

    matched_old: set[str] = set()
    for urn, resource in new_resources.items():
        if urn in old_resources:
            matched_old.add(urn)
            change = _change(ChangeKind.CHANGE, old_resources[urn], resource)
            if change.properties:
                changes.append(change)
            else:
                unchanged += 1

    pending_new: list[DesiredResource] = []
    for urn, resource in sorted(new_resources.items()):
        if urn in old_resources:
            continue
        alias = next((a for a in resource.aliases if a in old_resources and a not in matched_old), None)
        if alias is None:
            pending_new.append(resource)
            continue
        matched_old.add(alias)
        changes.append(
            _change(
                ChangeKind.RENAME_ALIASED,
                old_resources[alias],
                resource,
                note="renamed, aliased: no replacement",
            )
        )

    pending_old = [r for urn, r in sorted(old_resources.items()) if urn not in matched_old]
    pairs, removed, added = pair_renames(
        [r.candidate() for r in pending_old], [r.candidate() for r in pending_new]
    )
    for pair in pairs:
        old_resource, new_resource = old_resources[pair.old.urn], new_resources[pair.new.urn]
        changes.append(_change(ChangeKind.RENAME_REPLACE, old_resource, new_resource, rename_note(pair)))
    changes += [_change(ChangeKind.REMOVE, old_resources[c.urn], None) for c in removed]
    changes += [_change(ChangeKind.ADD, None, new_resources[c.urn]) for c in added]

    notes: list[str] = []
    if old is None:
        status = "added"
        notes.append("stack is new at the head revision: every resource is an addition")
    elif new is None:
        status = "removed"
        notes.append(
            "stack file removed at the head revision: nothing is destroyed until someone runs "
            "`pulumi destroy` on it; its resources are listed as removals to show what that would delete"
        )
    else:
        status = "present"
    old_weakenings = old.weakenings if old else ()
    new_weakenings = new.weakenings if new else ()
    notes += [
        f"weakened setting no longer reported: {code(w, 300)}"
        for w in old_weakenings
        if w not in new_weakenings
    ]
    stack_risks = weakening_risks(old_weakenings, new_weakenings)
    if status == "present":
        stack_risks += secret_config_risks(secret_config or [])

    classified = [classify(change) for change in changes]
    return StackReview(
        stack=stack,
        status=status,
        changes=tuple(sorted(classified, key=ordering_key)),
        unchanged=unchanged,
        stack_risks=stack_risks,
        notes=tuple(notes),
    )
