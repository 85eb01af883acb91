"""Audit findings and their renderings."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

from stockade.exit_codes import EXIT_OK, EXIT_RISK


@dataclass(frozen=True, order=True)
class AuditFinding:
    check: str
    resource: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"check": self.check, "resource": self.resource, "message": self.message}


@dataclass(frozen=True)
class AuditReport:
    stack: str
    account: str
    region: str
    checked: dict[str, int] = field(default_factory=dict)
    """Check name -> how many resources it looked at (so "no findings" is never vacuous)."""
    findings: tuple[AuditFinding, ...] = ()

    @property
    def clean(self) -> bool:
        return not self.findings

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.clean else EXIT_RISK

    def as_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "account": self.account,
            "region": self.region,
            "clean": self.clean,
            "checked": dict(sorted(self.checked.items())),
            "findings": [f.as_json() for f in sorted(self.findings)],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_json(), indent=2, sort_keys=True) + "\n"


def render_table(report: AuditReport, width: int = 140) -> str:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=io.StringIO(), width=width, record=True, force_terminal=False, color_system=None)
    checked = Table(title=f"stockade audit: stack {report.stack} in {report.account}/{report.region}")
    checked.add_column("Check")
    checked.add_column("Resources checked")
    checked.add_column("Findings")
    for name, count in sorted(report.checked.items()):
        checked.add_row(name, str(count), str(sum(1 for f in report.findings if f.check == name)))
    console.print(checked)
    if report.findings:
        table = Table(title="Findings", show_lines=True)
        for column in ("Check", "Resource", "Finding"):
            table.add_column(column, overflow="fold")
        for finding in sorted(report.findings):
            table.add_row(finding.check, finding.resource, finding.message)
        console.print(table)
    console.print("audit CLEAN" if report.clean else f"audit FOUND {len(report.findings)} problem(s)")
    return console.export_text()
