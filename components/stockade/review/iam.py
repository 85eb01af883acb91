"""IAM and resource policy documents as comparable grants.

A policy document (a JSON string in synth and preview inputs, or an object) is
expanded into atomic grants: effect, action, resource, principal, condition. A
change widens access when an Allow grant on the new side is not covered by any
Allow grant on the old side (wildcards matched the way IAM matches them), or
when a Deny statement disappears.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from stockade.review.paths import Path, decode_json_text, format_path

POLICY_KEYS = frozenset({"policy", "assumeRolePolicy", "policyDocument"})


@dataclass(frozen=True)
class Grant:
    action: str  # lower-cased; "*" stands in for a NotAction statement
    resource: str
    principal: str  # "" for identity policies
    condition: str  # canonical JSON, "" when unconditional
    shown_action: str

    def covers(self, other: Grant) -> bool:
        if not fnmatchcase(other.action, self.action):
            return False
        if not fnmatchcase(other.resource, self.resource):
            return False
        if self.principal not in ("*", other.principal):
            return False
        return self.condition in ("", other.condition)


def find_documents(inputs: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Policy documents in a resource's inputs, keyed by their property path."""
    found: dict[str, dict[str, Any]] = {}
    if inputs:
        for path, document in _documents(inputs, ()):
            found[format_path(path)] = document
    return found


def _documents(value: Any, path: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    if isinstance(value, Mapping):
        if "Statement" in value:
            yield path, dict(value)
            return
        for key, item in value.items():
            yield from _documents(item, (*path, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _documents(item, (*path, index))
    elif isinstance(value, str) and path and isinstance(path[-1], str) and path[-1] in POLICY_KEYS:
        document = decode_json_text(value)
        if isinstance(document, dict) and "Statement" in document:
            yield path, document


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _principals(statement: Mapping[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if principal is None and "NotPrincipal" in statement:
        return ["*"]
    if principal is None:
        return [""]
    if principal == "*":
        return ["*"]
    if isinstance(principal, Mapping):
        out: list[str] = []
        for kind, values in sorted(principal.items()):
            for value in _as_list(values):
                out.append("*" if value == "*" else f"{kind}:{value}")
        return out or [""]
    return [str(principal)]


def statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, Mapping)]


def grants(document: Mapping[str, Any], effect: str = "Allow") -> set[Grant]:
    found: set[Grant] = set()
    for statement in statements(document):
        if str(statement.get("Effect", "")).lower() != effect.lower():
            continue
        if "NotAction" in statement:
            shown = [f"NotAction {json.dumps(_as_list(statement['NotAction']))}"]
            actions = [("*", shown[0])]
        else:
            actions = [(str(a).lower(), str(a)) for a in _as_list(statement.get("Action"))]
        resources = (
            ["*"] if "NotResource" in statement else [str(r) for r in _as_list(statement.get("Resource"))]
        )
        # Trust policies name no Resource: the principal is what they grant to.
        resources = resources or [""]
        condition = statement.get("Condition")
        condition_key = json.dumps(condition, sort_keys=True) if condition else ""
        for action, shown_action in actions:
            for resource in resources:
                for principal in _principals(statement):
                    found.add(Grant(action, resource, principal, condition_key, shown_action))
    return found


@dataclass(frozen=True)
class Widening:
    path: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    principals: tuple[str, ...]
    any_principal: bool
    dropped_condition: bool
    removed_denies: tuple[str, ...]

    @property
    def wildcard_action(self) -> bool:
        return any("*" in a for a in self.actions)

    @property
    def wildcard_resource(self) -> bool:
        return "*" in self.resources


def widenings(
    old_documents: Mapping[str, Mapping[str, Any]], new_documents: Mapping[str, Mapping[str, Any]]
) -> list[Widening]:
    """Per new policy document: the grants no old grant (in any of the resource's documents) covered."""
    old_allow: set[Grant] = set()
    old_deny: set[tuple[str, str]] = set()
    for document in old_documents.values():
        old_allow |= grants(document)
        old_deny |= {(g.shown_action, g.resource) for g in grants(document, "Deny")}
    new_deny: set[tuple[str, str]] = set()
    for document in new_documents.values():
        new_deny |= {(g.shown_action, g.resource) for g in grants(document, "Deny")}

    found: list[Widening] = []
    for path, document in sorted(new_documents.items()):
        fresh = [g for g in grants(document) if not any(o.covers(g) for o in old_allow)]
        if not fresh:
            continue
        dropped_condition = any(
            g.condition == "" and any(o.action == g.action and o.resource == g.resource for o in old_allow)
            for g in fresh
        )
        found.append(
            Widening(
                path=path,
                actions=tuple(sorted({g.shown_action for g in fresh})),
                resources=tuple(sorted({g.resource for g in fresh if g.resource})),
                principals=tuple(sorted({g.principal for g in fresh if g.principal})),
                any_principal=any(g.principal == "*" for g in fresh),
                dropped_condition=dropped_condition,
                removed_denies=(),
            )
        )
    removed = sorted(old_deny - new_deny)
    if removed:
        found.append(
            Widening(
                path="",
                actions=(),
                resources=(),
                principals=(),
                any_principal=False,
                dropped_condition=False,
                removed_denies=tuple(f"{action} on {resource}" for action, resource in removed),
            )
        )
    return found
