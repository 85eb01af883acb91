"""The desired state a synth produces, and its stable serialisations."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ResourceOptions:
    """The registration options that decide how a change lands (diff and policy read them)."""

    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool = False
    aliases: tuple[str, ...] = ()
    additional_secret_outputs: tuple[str, ...] = ()
    ignore_changes: tuple[str, ...] = ()
    replace_on_changes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SynthResource:
    """One registered resource, its inputs under the engine's wire names, secrets redacted."""

    urn: str
    type: str
    name: str
    parent: str | None
    provider: str | None
    custom: bool
    inputs: dict[str, Any]
    depends_on: tuple[str, ...] = ()
    options: ResourceOptions = field(default_factory=ResourceOptions)

    def as_json(self) -> dict[str, Any]:
        options = asdict(self.options)
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "provider": self.provider,
            "custom": self.custom,
            "inputs": self.inputs,
            "dependsOn": list(self.depends_on),
            "options": {
                "protect": options["protect"],
                "retainOnDelete": options["retain_on_delete"],
                "deleteBeforeReplace": options["delete_before_replace"],
                "aliases": list(options["aliases"]),
                "additionalSecretOutputs": list(options["additional_secret_outputs"]),
                "ignoreChanges": list(options["ignore_changes"]),
                "replaceOnChanges": list(options["replace_on_changes"]),
            },
        }


@dataclass(frozen=True)
class SynthResult:
    """A stack's desired state, sorted by URN so the same commit gives the same bytes."""

    project: str
    stack: str
    resources: tuple[SynthResource, ...]
    outputs: dict[str, Any] = field(default_factory=dict)
    weakenings: tuple[str, ...] = ()

    def by_type(self, type_token: str) -> list[SynthResource]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str) -> SynthResource:
        found = self.by_type(type_token)
        if len(found) != 1:
            raise LookupError(f"expected exactly one {type_token}, found {len(found)}")
        return found[0]

    def by_urn(self) -> dict[str, SynthResource]:
        return {r.urn: r for r in self.resources}

    def as_json(self) -> dict[str, Any]:
        return {
            "schemaVersion": SCHEMA_VERSION,
            "project": self.project,
            "stack": self.stack,
            "weakenings": list(self.weakenings),
            "outputs": self.outputs,
            "resources": [r.as_json() for r in self.resources],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
