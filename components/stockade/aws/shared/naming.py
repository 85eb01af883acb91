"""Physical names: derived from the component's name and the stack, so components compose.

Two fleets (or gateways, networks, keys) in one program must not claim the same ECS
cluster, task family, alarm, topic or secret prefix. Every physical name a component
sets is therefore `<prefix>-<what>`, where the prefix comes from the component's name
and the stack.

The stack's own components keep the names they always had: a component created under
its default name (e.g. `stockade-sandboxes`) gets the prefix `stockade-<stack>`, which
is what every deployed stack already uses. A changed physical name forces AWS to
replace the resource, so this rule is what lets existing stacks adopt composable
components without a single replacement. Any other name gives `<name>-<stack>`.
A child component (the fleet's own alarm topic) is handed its parent's naming
through its `name_base` arg (the parent's base).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi

STACK_BASE = "stockade"
# ECS families and IAM-scoped prefixes allow only these; Pulumi resource names allow more.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")


@dataclass(frozen=True)
class Naming:
    """The prefix of one component's physical names."""

    base: str
    """`stockade` for a stack's default component, otherwise the component's name."""

    stack: str

    @property
    def prefix(self) -> str:
        """`<base>-<stack>`: the start of every dash-separated physical name."""
        return f"{self.base}-{self.stack}"

    def name(self, *parts: str) -> str:
        """`<base>-<stack>-<part>-...`, e.g. an ECS family or an alarm name."""
        return "-".join([self.prefix, *parts])

    def path(self, *parts: str) -> str:
        """`<base>/<stack>/<part>/...`, e.g. a Secrets Manager name prefix or an ECR repository."""
        return "/".join([self.base, self.stack, *parts])

    @property
    def scope(self) -> str:
        """What the component's metrics and tags call it: the stack for the default component,
        `<base>-<stack>` otherwise, so two fleets in one stack publish apart."""
        return self.stack if self.base == STACK_BASE else self.prefix


def naming_for(name: str, default_name: str, name_base: str | None = None) -> Naming:
    """The naming of component `name`, whose stack-default name is `default_name`.

    `name_base` (a component's `name_base` arg) overrides the derivation: the base
    is then that prefix, still followed by the stack.
    """
    stack = pulumi.get_stack()
    if name_base is not None:
        base = name_base
    elif name == default_name:
        base = STACK_BASE
    else:
        base = name
    if not _NAME.match(base):
        raise ValueError(
            f"{name}: physical names start with {base!r}, which is not 1-63 letters, digits, '-' or '_' "
            "(starting with a letter or digit); give the component a shorter or plainer name, "
            "or set its name_base arg"
        )
    return Naming(base=base, stack=stack)
