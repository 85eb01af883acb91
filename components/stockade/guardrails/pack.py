"""Rules → CrossGuard policies, and a stack's settings → the pack's config.

`policy/__main__.py` builds its `PolicyPack` from `build_policies()`; the
offline runner evaluates the very same Policy objects. Each rule that a stack
may weaken on purpose becomes two policies: the rule itself (its level), which
never sees the `allowed by config` messages, and an advisory companion that
sees only those, so a declared weakening is printed but never blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from stockade.guardrails.facts import config_for, facts_from_settings, schema_for
from stockade.guardrails.rule import ALLOWED_PREFIX, Level, Rule
from stockade.guardrails.rules import RULES
from stockade.settings import StackSettings

PACK_NAME = "stockade-guardrails"

_ENFORCEMENT = {Level.MANDATORY: EnforcementLevel.MANDATORY, Level.ADVISORY: EnforcementLevel.ADVISORY}
_SEVERITY = {Level.MANDATORY: Severity.HIGH, Level.ADVISORY: Severity.LOW}


def _routed(report: ReportViolation, want_allowed: bool) -> ReportViolation:
    def route(message: str, urn: str | None = None) -> None:
        if message.startswith(ALLOWED_PREFIX) == want_allowed:
            report(message, urn)

    return route


def _policy(rule: Rule, name: str, want_allowed: bool) -> Policy:
    level = Level.ADVISORY if want_allowed else rule.level
    description = (
        f"Weakenings of '{rule.name}' that the stack declares ({rule.allowed_by})."
        if want_allowed
        else rule.description
    )
    common: dict[str, Any] = {
        "name": name,
        "description": description,
        "enforcement_level": _ENFORCEMENT[level],
        "severity": Severity.LOW if want_allowed else _SEVERITY[rule.level],
        "remediation_steps": rule.remediation,
        "config_schema": PolicyConfigSchema(schema_for(rule.facts)) if rule.facts else None,
    }
    if rule.resource_check is not None:
        resource_check = rule.resource_check

        def validate_resource(args: ResourceValidationArgs, report: ReportViolation) -> None:
            resource_check(args, _routed(report, want_allowed))

        return ResourceValidationPolicy(validate=validate_resource, **common)
    assert rule.stack_check is not None
    stack_check = rule.stack_check

    def validate_stack(args: StackValidationArgs, report: ReportViolation) -> None:
        stack_check(args, _routed(report, want_allowed))

    return StackValidationPolicy(validate=validate_stack, **common)


def build_policies(rules: Sequence[Rule] = RULES) -> list[Policy]:
    """The pack's policies: each rule, plus an advisory companion for rules with allowances."""
    policies: list[Policy] = []
    for rule in rules:
        policies.append(_policy(rule, rule.name, want_allowed=False))
        if rule.companion_name is not None:
            policies.append(_policy(rule, rule.companion_name, want_allowed=True))
    return policies


def policy_config(settings: StackSettings, rules: Sequence[Rule] = RULES) -> dict[str, dict[str, Any]]:
    """The `--policy-pack-config` document for a stack: each policy's facts, from the settings."""
    stack_facts = facts_from_settings(settings)
    config: dict[str, dict[str, Any]] = {}
    for rule in rules:
        if not rule.facts:
            continue
        values = config_for(stack_facts, rule.facts)
        config[rule.name] = values
        if rule.companion_name is not None:
            config[rule.companion_name] = dict(values)
    return config


def policy_levels(rules: Sequence[Rule] = RULES) -> dict[str, Level]:
    """Policy name → level, companions included (always advisory)."""
    levels: dict[str, Level] = {}
    for rule in rules:
        levels[rule.name] = rule.level
        if rule.companion_name is not None:
            levels[rule.companion_name] = Level.ADVISORY
    return levels
