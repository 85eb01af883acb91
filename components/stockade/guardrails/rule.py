"""What a guardrail rule is: one validation function plus the words a reviewer needs.

Validation functions take pulumi_policy's own argument types
(`ResourceValidationArgs` / `StackValidationArgs`) and a `ReportViolation`
callback, so the CrossGuard pack and the offline runner call them unchanged.

A rule whose check a stack may weaken on purpose (open egress, pool mode, ...)
reports the allowed case with a message starting `allowed by config: `. The
pack routes those messages to an advisory companion policy instead of the
rule's own (mandatory) one, so the weakening stays visible without blocking.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from stockade.guardrails.facts import FACT_FIELDS, PolicyFacts, facts_from_config

if TYPE_CHECKING:
    from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

ALLOWED_PREFIX = "allowed by config: "

ResourceCheck = Callable[["ResourceValidationArgs", "ReportViolation"], None]
StackCheck = Callable[["StackValidationArgs", "ReportViolation"], None]


class Level(StrEnum):
    MANDATORY = "mandatory"
    """A violation fails `pulumi preview`/`up` and `stockade policy` (exit 3)."""
    ADVISORY = "advisory"
    """Printed, never fails."""


@dataclass(frozen=True)
class Rule:
    """One invariant: name, level, what it checks, how to fix it, and the check itself."""

    name: str
    description: str
    level: Level
    remediation: str
    resource_check: ResourceCheck | None = None
    stack_check: StackCheck | None = None
    facts: tuple[str, ...] = ()
    """PolicyFacts fields the check reads from its pack config."""
    allowed_by: str | None = None
    """The stack-file setting that may allow a weakening, for the docs and the report."""

    def __post_init__(self) -> None:
        if (self.resource_check is None) == (self.stack_check is None):
            raise ValueError(f"rule {self.name}: give exactly one of resource_check / stack_check")
        unknown = set(self.facts) - set(FACT_FIELDS)
        if unknown:
            raise ValueError(f"rule {self.name}: unknown facts {sorted(unknown)}")

    @property
    def companion_name(self) -> str | None:
        """Name of the advisory policy that carries this rule's `allowed by config` notes."""
        return f"{self.name}-allowed-by-config" if self.allowed_by else None


def facts(args: Any) -> PolicyFacts:
    """The facts in a policy's config (pack config under the CLI, runner config offline)."""
    return facts_from_config(args.get_config())


def allowed(report: ReportViolation, message: str, urn: str | None = None) -> None:
    """Report a weakening the stack declares: visible, never blocking."""
    report(ALLOWED_PREFIX + message, urn)
