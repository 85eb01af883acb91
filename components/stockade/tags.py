"""Tags every taggable resource carries, so guardrails and audits can find the stack's resources."""

from __future__ import annotations

import pulumi

from stockade.settings import StackSettings

STACK_TAG = "stockade:stack"
ENVIRONMENT_TAG = "stockade:environment"
COMPONENT_TAG = "stockade:component"


def stack_tags(settings: StackSettings) -> dict[str, str]:
    """The user's tags plus Stockade's own; Stockade's win, so audits can rely on them."""
    return {
        **settings.tags,
        STACK_TAG: pulumi.get_stack(),
        ENVIRONMENT_TAG: settings.environment.value,
    }


def with_component(tags: dict[str, str], component: str) -> dict[str, str]:
    return {**tags, COMPONENT_TAG: component}
