"""The change model both review sources produce and every renderer reads.

`stockade diff` (two desired states) and `stockade comment` (a real preview) each
build a `Review`; the risk module fills in `risks`; the Markdown and JSON
renderers only read it. Secret values never enter the model: a property that is
secret on either side carries `secret=True` and no values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

SCHEMA_VERSION = 1


class ChangeKind(StrEnum):
    ADD = "add"
    REMOVE = "remove"
    CHANGE = "change"
    REPLACE = "replace"
    RENAME_ALIASED = "rename-aliased"
    RENAME_REPLACE = "rename-replace"
    IMPORT = "import"
    READ = "read"
    SAME = "same"
    OTHER = "other"


# Which summary column each kind counts in; reads and state-only steps count in none.
COLUMN_OF: dict[ChangeKind, str] = {
    ChangeKind.ADD: "add",
    ChangeKind.IMPORT: "add",
    ChangeKind.CHANGE: "change",
    ChangeKind.RENAME_ALIASED: "change",
    ChangeKind.REPLACE: "replace",
    ChangeKind.RENAME_REPLACE: "replace",
    ChangeKind.REMOVE: "remove",
}

KINDS_WITHOUT_BEFORE = frozenset({ChangeKind.ADD, ChangeKind.IMPORT})
KINDS_WITHOUT_AFTER = frozenset({ChangeKind.REMOVE})


@dataclass(frozen=True)
class ResourceFlags:
    """The registration options a change can weaken."""

    protect: bool = False
    retain_on_delete: bool = False
    additional_secret_outputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class PropertyChange:
    """One changed leaf. `old`/`new` are None when `secret` (never shown), absent on that side, or unknown."""

    path: str
    kind: str  # "add" | "delete" | "update"
    old: Any = None
    new: Any = None
    secret: bool = False
    replaces: bool = False
    has_values: bool = True  # False when the source names the path but not its values
    member: bool = False  # a whole element added to or removed from a set-valued list at `path`

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "kind": self.kind, "secret": self.secret}
        if self.replaces:
            out["replaces"] = True
        if self.member:
            out["member"] = True
        if not self.secret and self.has_values:
            if self.kind != "add":
                out["old"] = self.old
            if self.kind != "delete":
                out["new"] = self.new
        return out


@dataclass(frozen=True)
class Risk:
    """One risk finding: which rule, its title, and a plain-words reason."""

    rule: str
    title: str
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"rule": self.rule, "title": self.title, "reason": self.reason}


@dataclass(frozen=True)
class ResourceChange:
    """A resource that differs between the two sides (or, for SAME, does not)."""

    kind: ChangeKind
    urn: str
    type: str
    name: str
    custom: bool = True
    old_urn: str | None = None
    old_inputs: Mapping[str, Any] | None = None
    new_inputs: Mapping[str, Any] | None = None
    old_flags: ResourceFlags | None = None
    new_flags: ResourceFlags | None = None
    properties: tuple[PropertyChange, ...] = ()
    note: str = ""
    risks: tuple[Risk, ...] = ()
    narrowed: tuple[str, ...] = ()  # egress destinations no longer allowed (reported, not risky)

    @property
    def before(self) -> Mapping[str, Any] | None:
        """Inputs on the old side, or None when the resource did not exist there."""
        return None if self.kind in KINDS_WITHOUT_BEFORE else (self.old_inputs or {})

    @property
    def after(self) -> Mapping[str, Any] | None:
        """Inputs on the new side, or None when the resource no longer exists."""
        return None if self.kind in KINDS_WITHOUT_AFTER else (self.new_inputs or {})

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "urn": self.urn,
            "oldUrn": self.old_urn,
            "type": self.type,
            "name": self.name,
            "custom": self.custom,
            "note": self.note,
            "risks": [r.as_json() for r in self.risks],
            "narrowed": list(self.narrowed),
            "properties": [p.as_json() for p in self.properties],
        }


@dataclass(frozen=True)
class CostChange:
    """The stack's estimated monthly cost at each revision (None: the stack is absent there)."""

    before: float | None
    after: float | None
    currency: str
    prices_as_of: str
    items: tuple[tuple[str, float, float], ...] = ()  # (line item, before, after), changed ones only

    @property
    def delta(self) -> float:
        return round((self.after or 0.0) - (self.before or 0.0), 2)

    def as_json(self) -> dict[str, Any]:
        return {
            "before": self.before,
            "after": self.after,
            "delta": self.delta,
            "currency": self.currency,
            "pricesAsOf": self.prices_as_of,
            "items": [{"name": n, "before": b, "after": a} for n, b, a in self.items],
        }


@dataclass(frozen=True)
class StackReview:
    """One stack's changes. `status` says whether the stack exists on both sides, or failed to synthesize."""

    stack: str
    status: str  # "present" | "added" | "removed" | "error"
    changes: tuple[ResourceChange, ...]
    unchanged: int = 0
    stack_risks: tuple[Risk, ...] = ()
    notes: tuple[str, ...] = ()
    error: str | None = None  # why the stack could not be reviewed (status "error")
    cost: CostChange | None = None  # monthly estimate at both revisions (diff only)
    perimeter: str | None = None  # Mermaid source of the head's perimeter, when it changed (diff only)

    def counts(self) -> dict[str, int]:
        counts = {"add": 0, "change": 0, "replace": 0, "remove": 0}
        for change in self.changes:
            column = COLUMN_OF.get(change.kind)
            if column:
                counts[column] += 1
        counts["same"] = self.unchanged
        counts["risky"] = self.risky_count()
        return counts

    def risky_count(self) -> int:
        return len(self.stack_risks) + sum(1 for c in self.changes if c.risks)

    def risk_count(self) -> int:
        return len(self.stack_risks) + sum(len(c.risks) for c in self.changes)

    def as_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "status": self.status,
            "counts": self.counts(),
            "risks": [r.as_json() for r in self.stack_risks],
            "notes": list(self.notes),
            "error": self.error,
            "cost": self.cost.as_json() if self.cost else None,
            "perimeter": self.perimeter,
            "resources": [c.as_json() for c in self.changes],
        }


@dataclass(frozen=True)
class RevisionInfo:
    """One side of a diff: what the user asked for and the commit it resolved to (None: working tree)."""

    label: str
    ref: str | None = None
    commit: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"label": self.label, "ref": self.ref, "commit": self.commit}


@dataclass(frozen=True)
class Review:
    """Everything one comment shows."""

    source: str  # "diff" | "preview"
    stacks: tuple[StackReview, ...]
    base: RevisionInfo | None = None
    head: RevisionInfo | None = None
    notes: tuple[str, ...] = field(default=())

    def risk_count(self) -> int:
        return sum(s.risk_count() for s in self.stacks)

    def has_risk(self) -> bool:
        return self.risk_count() > 0

    def failed_stacks(self) -> tuple[str, ...]:
        """Stacks that could not be reviewed; the command exits non-zero when there are any."""
        return tuple(s.stack for s in self.stacks if s.error is not None)

    def totals(self) -> dict[str, int]:
        totals = {"add": 0, "change": 0, "replace": 0, "remove": 0, "same": 0, "risky": 0}
        for stack in self.stacks:
            for key, value in stack.counts().items():
                totals[key] += value
        return totals

    def as_json(self) -> dict[str, Any]:
        return {
            "schemaVersion": SCHEMA_VERSION,
            "kind": "stockade-review",
            "source": self.source,
            "base": self.base.as_json() if self.base else None,
            "head": self.head.as_json() if self.head else None,
            "summary": self.totals(),
            "notes": list(self.notes),
            "stacks": [s.as_json() for s in self.stacks],
        }


def risky_first(stacks: Iterable[StackReview]) -> tuple[StackReview, ...]:
    """Failed stacks first, then stacks with risks, then by name: the order of the table and sections."""
    return tuple(sorted(stacks, key=lambda s: (s.error is None, s.risk_count() == 0, s.stack)))
