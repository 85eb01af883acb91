"""Every guardrail rule, in the order reports list them."""

from __future__ import annotations

from stockade.guardrails.rule import Rule
from stockade.guardrails.rules import containers, ecs, encryption, iam, network, storage, tags, tunnel

RULES: tuple[Rule, ...] = (
    *network.RULES,
    *encryption.RULES,
    *storage.RULES,
    *containers.RULES,
    *ecs.RULES,
    *iam.RULES,
    *tunnel.RULES,
    *tags.RULES,
)


def rule_named(name: str) -> Rule:
    for rule in RULES:
        if rule.name == name:
            return rule
    raise KeyError(name)


__all__ = ["RULES", "rule_named"]
