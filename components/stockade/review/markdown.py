"""The pull-request comment: a summary table, then one collapsible section per stack, within a size budget.

The budget is met by dropping detail in a fixed order, and saying so at the end:
1. property values of risk-free changes, 2. all property values,
3. property paths of risk-free changes, 4. risk-free changes (collapsed into
counts per kind and type) and most notes, 5. property paths of risky changes.
Risk lines are the last thing to go: only when the risk lines alone exceed the
budget are the ones that do not fit counted instead of shown.

The first line is a hidden marker (`<!-- stockade-review:diff -->` or
`...:preview -->`) so a workflow can find and update its one sticky comment.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from stockade.review.model import (
    ChangeKind,
    CostChange,
    PropertyChange,
    ResourceChange,
    Review,
    Risk,
    StackReview,
)
from stockade.review.text import code

DEFAULT_MAX_CHARS = 60_000
MIN_MAX_CHARS = 1_000
MAX_PROPERTIES_PER_RESOURCE = 25
MARKER_PREFIX = "<!-- stockade-review:"

_KIND_LABEL = {
    ChangeKind.ADD: "create",
    ChangeKind.REMOVE: "delete",
    ChangeKind.CHANGE: "update",
    ChangeKind.REPLACE: "replace",
    ChangeKind.RENAME_ALIASED: "rename (aliased)",
    ChangeKind.RENAME_REPLACE: "replace (URN changed)",
    ChangeKind.IMPORT: "import",
    ChangeKind.READ: "read",
    ChangeKind.SAME: "same",
    ChangeKind.OTHER: "other",
}


def marker(source: str) -> str:
    return f"{MARKER_PREFIX}{source} -->"


@dataclass(frozen=True)
class Detail:
    """What one rung of the budget ladder still shows, and what it has elided so far."""

    safe_values: bool
    risky_values: bool
    safe_paths: bool
    risky_paths: bool
    collapse_safe: bool
    all_notes: bool
    elided: tuple[str, ...]


LADDER: tuple[Detail, ...] = (
    Detail(True, True, True, True, False, True, ()),
    Detail(False, True, True, True, False, True, ("property values of risk-free changes",)),
    Detail(False, False, True, True, False, True, ("all property values",)),
    Detail(
        False, False, False, True, False, True, ("all property values", "property paths of risk-free changes")
    ),
    Detail(
        False,
        False,
        False,
        True,
        True,
        False,
        ("all property values", "risk-free changes (collapsed into counts)", "most notes"),
    ),
    Detail(
        False,
        False,
        False,
        False,
        True,
        False,
        ("all property values and paths", "risk-free changes (collapsed into counts)", "most notes"),
    ),
)


class _RiskBudget:
    """Counts risk lines as they are written; past `limit` they are counted instead of shown."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.shown = 0
        self.skipped = 0

    def take(self) -> bool:
        if self.limit is None or self.shown < self.limit:
            self.shown += 1
            return True
        self.skipped += 1
        return False


class _OverBudgetError(Exception):
    """A rung of the ladder ran past the budget: rendering the rest of it would be wasted work."""


class _Lines:
    """The comment's lines, counting characters as they are added."""

    def __init__(self, limit: int | None) -> None:
        self.items: list[str] = []
        self.size = 0
        self.limit = limit

    def add(self, *lines: str) -> None:
        self.items.extend(lines)
        self.size += sum(len(line) + 1 for line in lines)
        if self.limit is not None and self.size > self.limit:
            raise _OverBudgetError


def render_markdown(review: Review, *, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """The comment for `review`, at most `max_chars` characters long."""
    max_chars = max(max_chars, MIN_MAX_CHARS)
    for detail in LADDER:
        text = _fitting(review, detail, _RiskBudget(None), max_chars)
        if text is not None:
            return text
    # Even the leanest layout is too long: keep as many risk lines as fit.
    low, high = 0, review.risk_count()
    while low < high:
        middle = (low + high + 1) // 2
        if _fitting(review, LADDER[-1], _RiskBudget(middle), max_chars) is not None:
            low = middle
        else:
            high = middle - 1
    text = _render(review, LADDER[-1], _RiskBudget(low), max_chars, limit=None)
    return text if len(text) <= max_chars else _cut(text, review, max_chars)


def _fitting(review: Review, detail: Detail, risks: _RiskBudget, max_chars: int) -> str | None:
    try:
        text = _render(review, detail, risks, max_chars, limit=max_chars)
    except _OverBudgetError:
        return None
    return text if len(text) <= max_chars else None


def _cut(text: str, review: Review, max_chars: int) -> str:
    """Last resort when even the table and headline overflow: cut, and count the risk lines lost."""
    risks = [
        _risk_line(r)
        for s in review.stacks
        for r in (*s.stack_risks, *(r for c in s.changes for r in c.risks))
    ]

    def tail(missing: int) -> str:
        return (
            f"\n\n… comment cut at the {max_chars:,}-character budget: {missing} more risk lines "
            "did not fit; run with `--format json` for everything.\n"
        )

    body = text[: max_chars - len(tail(len(risks)))]
    return body + tail(sum(1 for line in risks if line not in body))


def _title(review: Review) -> str:
    if review.source == "diff" and review.base and review.head:
        return f"### Stockade diff: {code(review.base.label)} → {code(review.head.label)}"
    if review.source == "preview":
        return "### Stockade preview"
    return f"### Stockade {review.source}"


def _headline(review: Review) -> str:
    failed = review.failed_stacks()
    if failed:
        rest = _risk_headline(review)
        return (
            f"**❌ {len(failed)} of {len(review.stacks)} stacks could not be reviewed** (see below). {rest}"
        )
    return _risk_headline(review)


def _risk_headline(review: Review) -> str:
    totals = review.totals()
    changed = totals["add"] + totals["change"] + totals["replace"] + totals["remove"]
    risky_stacks = sum(1 for s in review.stacks if s.risk_count())
    if review.has_risk():
        return (
            f"**⚠️ {totals['risky']} risky change{'s' if totals['risky'] != 1 else ''}** in {risky_stacks} of "
            f"{len(review.stacks)} stack{'s' if len(review.stacks) != 1 else ''}; "
            "risky changes are listed first."
        )
    if changed:
        return f"No risky changes found. {changed} resource changes across {len(review.stacks)} stacks."
    return "No changes."


def _table(review: Review) -> list[str]:
    lines = [
        "| Stack | Add | Change | Replace | Remove | Risky |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for stack in review.stacks:
        counts = stack.counts()
        risky = f"⚠️ {counts['risky']}" if counts["risky"] else "0"
        name = code(stack.stack).replace("|", "\\|")
        status = {"added": " (new)", "removed": " (removed)"}.get(stack.status, "")
        if stack.error is not None:
            lines.append(f"| {name} ❌ failed | ? | ? | ? | ? | ? |")
            continue
        lines.append(
            f"| {name}{status} | {counts['add']} | {counts['change']} | {counts['replace']} | "
            f"{counts['remove']} | {risky} |"
        )
    return lines


def _value_line(prop: PropertyChange, show_values: bool) -> str:
    path = code(prop.path)
    suffix = " (forces replacement)" if prop.replaces else ""
    if prop.secret:
        return f"{path}: 🔒 secret, value not shown{suffix}"
    if prop.member:
        sign = "+" if prop.kind == "add" else "−"  # noqa: RUF001 - a minus sign reads as removal
        element = code(prop.new if prop.kind == "add" else prop.old) if show_values else "an element"
        return f"{path}: {sign} {element}{suffix}"
    if not show_values or not prop.has_values:
        word = {"add": "added", "delete": "removed"}.get(prop.kind, "changed")
        return f"{path} ({word}){suffix}"
    if prop.kind == "add":
        return f"{path}: {code(prop.new)} (added){suffix}"
    if prop.kind == "delete":
        return f"{path}: {code(prop.old)} (removed){suffix}"
    return f"{path}: {code(prop.old)} → {code(prop.new)}{suffix}"


def _risk_line(risk: Risk) -> str:
    return f"⚠️ **{risk.title}**: {risk.reason}"


def _entry(change: ResourceChange, detail: Detail, risks: _RiskBudget) -> list[str]:
    risky = bool(change.risks)
    show_paths = detail.risky_paths if risky else detail.safe_paths
    show_values = detail.risky_values if risky else detail.safe_values
    risk_lines = [f"  - {_risk_line(r)}" for r in change.risks if risks.take()]
    if risky and not risk_lines:
        return []
    header = f"- **{_KIND_LABEL[change.kind]}** {code(change.type)} {code(change.name)}"
    if change.note:
        header += f": {change.note}"
    lines = [header, *risk_lines]
    lines += [f"  - ✅ egress narrowed: {item}" for item in change.narrowed]
    if show_paths:
        if change.old_urn:
            lines.append(f"  - from {code(change.old_urn, 200)}")
        shown = change.properties[:MAX_PROPERTIES_PER_RESOURCE]
        lines += [f"  - {_value_line(p, show_values)}" for p in shown]
        if len(change.properties) > len(shown):
            lines.append(f"  - … {len(change.properties) - len(shown)} more properties")
    return lines


def _collapsed(changes: list[ResourceChange]) -> list[str]:
    if not changes:
        return []
    kinds = Counter(_KIND_LABEL[c.kind] for c in changes)
    types = Counter(c.type for c in changes)
    by_kind = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
    top = types.most_common(10)
    by_type = ", ".join(f"{code(t)} ({n})" for t, n in top)
    more = f" (+{len(types) - len(top)} more types)" if len(types) > len(top) else ""
    return [f"- {len(changes)} risk-free changes, collapsed: {by_kind}; by type: {by_type}{more}"]


ERROR_LINES = 20


def _error_section(stack: StackReview, out: _Lines) -> None:
    lines = (stack.error or "").splitlines()[-ERROR_LINES:]
    out.add(
        "<details open>",
        f"<summary><b>{html.escape(stack.stack)}</b>: ❌ could not be reviewed</summary>",
        "",
        *(f"    {line[:300]}" for line in lines),
        "",
        "The other stacks are reviewed as usual; fix this one and run again.",
        "",
        "</details>",
        "",
    )


def _money(value: float | None) -> str:
    return "–" if value is None else f"${value:,.2f}"  # noqa: RUF001 - a dash for "absent"


def _signed(value: float) -> str:
    return f"{'+' if value >= 0 else '-'}${abs(value):,.2f}"


def _cost_lines(cost: CostChange, itemized: bool) -> list[str]:
    head = f"**Monthly estimate**: {_money(cost.before)} → {_money(cost.after)}"
    if cost.delta:
        head += f" ({_signed(cost.delta)} a month)"
    head += f", list prices as of {cost.prices_as_of}; `stockade cost` has the line items"
    lines = [head]
    if itemized:
        lines += [
            f"- {name}: {_money(before)} → {_money(after)} ({_signed(round(after - before, 2))})"
            for name, before, after in cost.items
        ]
    return lines


def _stack_section(stack: StackReview, detail: Detail, risks: _RiskBudget, out: _Lines) -> None:
    if stack.error is not None:
        _error_section(stack, out)
        return
    counts = stack.counts()
    status = {"added": " (new stack)", "removed": " (stack removed)"}.get(stack.status, "")
    summary = (
        f"<b>{html.escape(stack.stack)}</b>{status}: +{counts['add']} ~{counts['change']} "
        f"±{counts['replace']} -{counts['remove']}"
    )
    if counts["risky"]:
        summary += f" · ⚠️ {counts['risky']} risky"
    out.add(f"<details{' open' if stack.risk_count() else ''}>", f"<summary>{summary}</summary>", "")

    if stack.cost is not None:
        out.add(*_cost_lines(stack.cost, detail.all_notes), "")
    stack_risks = [f"- {_risk_line(r)}" for r in stack.stack_risks if risks.take()]
    notes = list(stack.notes) if detail.all_notes else list(stack.notes[:3])
    if stack_risks or notes:
        out.add("**Stack**", *stack_risks, *(f"- {n}" for n in notes))
        if len(stack.notes) > len(notes):
            out.add(f"- {len(stack.notes) - len(notes)} more notes elided")
        out.add("")

    risky = [c for c in stack.changes if c.risks]
    safe = [c for c in stack.changes if not c.risks]
    header_written = False
    for change in risky:
        entry = _entry(change, detail, risks)
        if entry and not header_written:
            out.add("**Risky changes**")
            header_written = True
        out.add(*entry)
    if header_written:
        out.add("")
    if safe:
        out.add("**Other changes**")
        if detail.collapse_safe:
            out.add(*_collapsed(safe))
        else:
            for change in safe:
                out.add(*_entry(change, detail, risks))
        out.add("")
    if stack.perimeter and detail.all_notes:
        side = "base" if stack.status == "removed" else "head"
        out.add(
            "<details>",
            f"<summary>Perimeter at the {side} revision (it changed)</summary>",
            "",
            "```mermaid",
            stack.perimeter.rstrip().replace("```", "'''"),
            "```",
            "",
            "</details>",
            "",
        )
    if not stack.changes:
        out.add(f"No resource changes ({stack.unchanged} unchanged).", "")
    elif stack.unchanged:
        out.add(f"{stack.unchanged} resources unchanged.", "")
    out.add("</details>", "")


def _render(review: Review, detail: Detail, risks: _RiskBudget, max_chars: int, limit: int | None) -> str:
    """One rung of the ladder; raises _OverBudgetError as soon as the text passes `limit`."""
    out = _Lines(limit)
    out.add(marker(review.source), _title(review), "", _headline(review), "", *_table(review), "")
    for stack in review.stacks:
        _stack_section(stack, detail, risks, out)
    footer = [f"**Note:** {note}" for note in review.notes]
    if risks.skipped:
        footer.append(
            f"⚠️ {risks.skipped} more risk lines did not fit in {max_chars:,} characters; "
            "run with `--format json` to see all of them."
        )
    if detail.elided:
        footer.append(
            f"✂️ Shortened to fit {max_chars:,} characters: left out {', '.join(detail.elided)}. "
            "`--format json` has everything."
        )
    out.add("---", "", "\n\n".join(footer))
    return "\n".join(out.items) + "\n"


def render_json(review: Review) -> str:
    return (
        json.dumps(review.as_json(), indent=2, sort_keys=True, ensure_ascii=False, default=_json_default)
        + "\n"
    )


def _json_default(value: Any) -> Any:
    return str(value)
