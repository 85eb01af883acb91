"""Generate the stack-file JSON Schema and the configuration reference from the settings model.

Both files are committed (editors read the schema; people read the reference)
and a test regenerates them to catch drift: the model is the only source.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stockade.settings.field_docs import DocumentedSchema
from stockade.settings.stack import StackSettings

SCHEMA_PATH = Path("docs/stack-config.schema.json")
REFERENCE_PATH = Path("docs/configuration.md")
_REGION_ALIAS = "awsRegion"


def _config_key(alias: str) -> str:
    return "aws:region" if alias == _REGION_ALIAS else f"stockade:{alias}"


def stack_file_schema() -> dict[str, Any]:
    """JSON Schema for a whole `Pulumi.<stack>.yaml`, with `stockade:` keys fully typed."""
    model = StackSettings.model_json_schema(
        by_alias=True, mode="validation", schema_generator=DocumentedSchema
    )
    definitions = model.pop("$defs", {})
    properties = {_config_key(alias): schema for alias, schema in model.get("properties", {}).items()}
    required = [_config_key(alias) for alias in model.get("required", [])]
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://stockade.dev/schemas/stack-config.schema.json",
        "title": "Stockade stack file (stacks/Pulumi.<stack>.yaml)",
        "description": "Generated from stockade.settings.StackSettings; do not edit by hand.",
        "type": "object",
        "properties": {
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
            "encryptionsalt": {"type": "string"},
            "environment": {"description": "Pulumi ESC environments to import."},
            "config": {
                "type": "object",
                "properties": properties,
                "required": required,
                # Other namespaces (aws:, docker:, cloudflare:) belong to their providers.
                "patternProperties": {"^(?!stockade:)[A-Za-z0-9_-]+:.+$": {}},
                "additionalProperties": False,
            },
        },
        "$defs": definitions,
    }
    return schema


def render_schema() -> str:
    return json.dumps(stack_file_schema(), indent=2, sort_keys=True) + "\n"


def _type_of(schema: dict[str, Any], definitions: dict[str, Any]) -> str:
    if "$ref" in schema:
        return "`" + schema["$ref"].rsplit("/", 1)[-1] + "` (below)"
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            parts = [_type_of(s, definitions) for s in schema[key] if s.get("type") != "null"]
            return " or ".join(dict.fromkeys(parts)) or "null"
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {_type_of(schema.get('items', {}), definitions)}"
    if (
        kind == "object"
        and "additionalProperties" in schema
        and isinstance(schema["additionalProperties"], dict)
    ):
        return f"map of {_type_of(schema['additionalProperties'], definitions)}"
    if schema.get("format"):
        return f"{kind} ({schema['format']})"
    return str(kind)


def _default_of(schema: dict[str, Any], required: bool) -> str:
    if required:
        return "**required**"
    if "default" not in schema:
        return "-"
    return "`" + json.dumps(schema["default"], sort_keys=True) + "`"


def _constraints(schema: dict[str, Any]) -> str:
    notes = []
    for key, label in (
        ("minimum", ">="),
        ("maximum", "<="),
        ("minItems", "min items"),
        ("maxItems", "max items"),
    ):
        if key in schema:
            notes.append(f"{label} {schema[key]}")
    if "pattern" in schema:
        notes.append(f"pattern `{schema['pattern']}`")
    return "; ".join(notes)


def _table(title: str, schema: dict[str, Any], definitions: dict[str, Any], key_of: Any) -> list[str]:
    lines = [f"## {title}", ""]
    if schema.get("description"):
        lines += [schema["description"], ""]
    lines += ["| Key | Type | Default | Description |", "|---|---|---|---|"]
    required = set(schema.get("required", []))
    for alias, prop in schema.get("properties", {}).items():
        description = " ".join(str(prop.get("description", "")).split())
        extra = _constraints(prop)
        if extra:
            description = f"{description} ({extra})" if description else extra
        lines.append(
            f"| `{key_of(alias)}` | {_type_of(prop, definitions)} | "
            f"{_default_of(prop, alias in required)} | {description.replace('|', '/')} |"
        )
    return [*lines, ""]


def render_reference() -> str:
    model = StackSettings.model_json_schema(
        by_alias=True, mode="validation", schema_generator=DocumentedSchema
    )
    definitions = model.get("$defs", {})
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated by `stockade config-docs --write` from stockade.settings; do not edit. -->",
        "",
        "Every key lives under `config:` in `stacks/Pulumi.<stack>.yaml`. Objects are written as YAML",
        "maps (`pulumi config set --path 'stockade:network.cidr' 10.40.0.0/16`). Secrets are written",
        "with `pulumi config set --secret --path ...` or given as an existing Secrets Manager ARN;",
        "a plaintext secret is refused, and so is a `secure:` value that is not Pulumi ciphertext or",
        "any value shaped like a known credential, in any key. Every problem is reported in one pass",
        "([validation](validation.md)). Editors can complete stack files with",
        "[`stack-config.schema.json`](stack-config.schema.json).",
        "",
    ]
    lines += _table("Top-level keys", model, definitions, _config_key)
    for name in sorted(definitions):
        definition = definitions[name]
        if "properties" in definition:
            lines += _table(f"`{name}`", definition, definitions, lambda a: a)
        elif "enum" in definition:
            values = ", ".join(f"`{v}`" for v in definition["enum"])
            lines += [
                f"## `{name}`",
                "",
                definition.get("description", "").strip(),
                "",
                f"Values: {values}",
                "",
            ]
    return "\n".join(line.rstrip() for line in lines).rstrip() + "\n"


def write_all(project_dir: Path) -> list[Path]:
    written = []
    for relative, text in ((SCHEMA_PATH, render_schema()), (REFERENCE_PATH, render_reference())):
        path = project_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def drifted(project_dir: Path) -> list[Path]:
    """Generated files whose committed text differs from what the model produces now."""
    stale = []
    for relative, text in ((SCHEMA_PATH, render_schema()), (REFERENCE_PATH, render_reference())):
        path = project_dir / relative
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(relative)
    return stale
