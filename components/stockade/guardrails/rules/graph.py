"""Relations between resources in a stack policy: which bucket a setting belongs to, who uses a group.

In `pulumi preview` most cross-resource references are unknown (the bucket's
name is computed), so values alone cannot link a bucket to its encryption
setting. The dependency graph can: the engine records that the setting depends
on the bucket. Links are therefore found from property dependencies first, then
plain dependencies, and only then by comparing values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from stockade.guardrails.props import MISSING, UNKNOWN, get

if TYPE_CHECKING:
    from pulumi_policy import PolicyResource

_IDENTITY_KEYS = ("id", "bucket", "name", "arn")


def of_type(resources: Iterable[PolicyResource], types: Iterable[str]) -> list[PolicyResource]:
    wanted = set(types)
    return [r for r in resources if r.resource_type in wanted]


def linked(
    resource: PolicyResource, prop: str, candidates: Sequence[PolicyResource]
) -> PolicyResource | None:
    """The one candidate `resource.props[prop]` refers to, or None when it cannot be told."""
    by_urn = {c.urn: c for c in candidates}
    via_property = {d.urn for d in resource.property_dependencies.get(prop, [])} & set(by_urn)
    if len(via_property) == 1:
        return by_urn[via_property.pop()]
    via_dependency = {d.urn for d in resource.dependencies} & set(by_urn)
    if len(via_dependency) == 1:
        return by_urn[via_dependency.pop()]
    value = get(resource.props, prop)
    if value in (MISSING, UNKNOWN) or not isinstance(value, str):
        return None
    pool = [by_urn[u] for u in via_dependency] if via_dependency else list(candidates)
    matches = [c for c in pool if value in _identities(c)]
    return matches[0] if len(matches) == 1 else None


def _identities(resource: PolicyResource) -> set[str]:
    found: set[str] = set()
    for key in _IDENTITY_KEYS:
        value: Any = get(resource.props, key)
        if isinstance(value, str) and value:
            found.add(value)
    return found


def dependents(resources: Sequence[PolicyResource], target: PolicyResource) -> list[PolicyResource]:
    """Resources that depend on `target` directly."""
    return [r for r in resources if any(d.urn == target.urn for d in r.dependencies)]


def label(resource: PolicyResource) -> str:
    """How a report names a resource: its logical name and type."""
    return f"{resource.name} ({resource.resource_type})"
