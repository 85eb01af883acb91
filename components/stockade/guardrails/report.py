"""The result of running the guardrail policies: findings, per-rule outcomes, exit code, renderings."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from stockade.exit_codes import EXIT_OK, EXIT_RISK
from stockade.guardrails.rule import Level


class FindingKind(StrEnum):
    VIOLATION = "violation"
    ALLOWED = "allowed"
    """A weakening the stack file declares: reported, never failing."""
    NOT_CHECKED = "not-checked"
    """A value the rule needed was unknown (as in `pulumi preview`)."""


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 (a status)
    FAIL = "fail"
    WARN = "warn"
    ALLOWED = "allowed"
    NOT_APPLICABLE = "n/a"
    NOT_CHECKED = "not-checked"


@dataclass(frozen=True)
class Finding:
    rule: str
    level: Level
    kind: FindingKind
    message: str
    urn: str | None = None
    resource: str | None = None

    @property
    def blocking(self) -> bool:
        return self.kind is FindingKind.VIOLATION and self.level is Level.MANDATORY

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "level": self.level.value,
            "kind": self.kind.value,
            "message": self.message,
            "urn": self.urn,
            "resource": self.resource,
        }


@dataclass(frozen=True)
class RuleOutcome:
    rule: str
    level: Level
    status: Status
    findings: int
    remediation: str

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "level": self.level.value,
            "status": self.status.value,
            "findings": self.findings,
            "remediation": self.remediation,
        }


@dataclass(frozen=True)
class PolicyReport:
    stack: str
    resources: int
    outcomes: tuple[RuleOutcome, ...]
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    weakenings: tuple[str, ...] = ()
    """The stack file's declared weakenings (StackSettings.weakenings()), listed with the verdict."""

    @property
    def passed(self) -> bool:
        return not any(f.blocking for f in self.findings)

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.passed else EXIT_RISK

    def of_kind(self, kind: FindingKind) -> list[Finding]:
        return [f for f in self.findings if f.kind is kind]

    def as_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "passed": self.passed,
            "resources": self.resources,
            "rules": [o.as_json() for o in self.outcomes],
            "violations": [f.as_json() for f in self.of_kind(FindingKind.VIOLATION)],
            "allowedByConfig": [f.as_json() for f in self.of_kind(FindingKind.ALLOWED)],
            "notChecked": [f.as_json() for f in self.of_kind(FindingKind.NOT_CHECKED)],
            "weakenings": list(self.weakenings),
        }

    def to_json(self) -> str:
        return json.dumps(self.as_json(), indent=2, sort_keys=True) + "\n"


_STATUS_STYLE = {
    Status.PASS: "green",
    Status.FAIL: "bold red",
    Status.WARN: "yellow",
    Status.ALLOWED: "magenta",
    Status.NOT_APPLICABLE: "dim",
    Status.NOT_CHECKED: "yellow",
}


def render_table(report: PolicyReport, width: int = 140) -> str:
    """Rules table, then findings table, then remediation for what failed (rich, as plain text)."""
    import io

    from rich.console import Console
    from rich.table import Table

    console = Console(file=io.StringIO(), width=width, record=True, force_terminal=False, color_system=None)
    rules = Table(title=f"stockade policy: stack {report.stack} ({report.resources} resources)")
    for column in ("Rule", "Level", "Status", "Findings"):
        rules.add_column(column)
    for outcome in report.outcomes:
        style = _STATUS_STYLE[outcome.status]
        rules.add_row(
            outcome.rule, outcome.level.value, f"[{style}]{outcome.status.value}[/]", str(outcome.findings)
        )
    console.print(rules)
    if report.findings:
        findings = Table(title="Findings", show_lines=True)
        for column in ("Kind", "Rule", "Resource", "Message"):
            findings.add_column(column, overflow="fold")
        for finding in sorted(report.findings, key=lambda f: (not f.blocking, f.kind.value, f.rule)):
            kind = "MANDATORY" if finding.blocking else finding.kind.value
            if finding.kind is FindingKind.VIOLATION and not finding.blocking:
                kind = "advisory"
            findings.add_row(kind, finding.rule, finding.resource or "(stack)", finding.message)
        console.print(findings)
    failing = [o for o in report.outcomes if o.status in (Status.FAIL, Status.WARN)]
    for outcome in failing:
        console.print(f"fix {outcome.rule}: {outcome.remediation}")
    for weakening in report.weakenings:
        console.print(f"weakened by the stack file: {weakening}")
    verdict = "PASSED" if report.passed else "FAILED (mandatory violations)"
    console.print(f"policy {verdict}")
    return console.export_text()
