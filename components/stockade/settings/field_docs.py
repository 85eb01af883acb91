"""Field docstrings for the generated docs, read from the settings source only when asked.

Every settings field is documented by the string literal under it. Pydantic can
collect those itself (`use_attribute_docstrings`), but it does so by parsing
the source of every model when the class is created, a fifth of a synth's
time, for a text that only `stockade config-docs` prints. So the models leave
it off and the docs generator passes `DocumentedSchema`, which parses the same
docstrings with the same rule (an annotated attribute followed directly by a
string) and adds them where pydantic would have: as the field's description,
unless the field sets one itself or it repeats the referenced model's.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from stockade.settings.base import BUILT_WHEN_SET


@cache
def _own_docstrings(cls: type) -> dict[str, str]:
    """`name -> docstring` for the attributes annotated in `cls`'s own body."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    body = ast.parse(source).body[0]
    if not isinstance(body, ast.ClassDef):
        return {}
    docs: dict[str, str] = {}
    for previous, node in zip(body.body, body.body[1:], strict=False):
        if (
            isinstance(previous, ast.AnnAssign)
            and isinstance(previous.target, ast.Name)
            and isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            docs[previous.target.id] = inspect.cleandoc(node.value.value)
    return docs


def field_docstrings(model: type[BaseModel]) -> dict[str, str]:
    """`field name -> docstring`, each taken from the class whose body declares the field."""
    docs: dict[str, str] = {}
    for name in model.model_fields:
        owner = next((c for c in model.__mro__ if name in vars(c).get("__annotations__", {})), None)
        if owner is not None and name in _own_docstrings(owner):
            docs[name] = _own_docstrings(owner)[name]
    return docs


class DocumentedSchema(GenerateJsonSchema):
    """JSON Schema generator that describes each model field with its attribute docstring."""

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        json_schema = super().model_schema(schema)
        model: type[BaseModel] = schema["cls"]
        properties: dict[str, Any] = json_schema.get("properties", {})
        for name, doc in field_docstrings(model).items():
            field = model.model_fields[name]
            key = self._key(name, field.alias, field.validation_alias)
            prop = properties.get(key)
            if prop is not None and "description" not in prop:
                # As pydantic does for a field's own description: dropped when it repeats the
                # description of the model the field refers to.
                properties[key] = self.handle_ref_overrides({**prop, "description": doc})
        return json_schema

    def field_title_should_be_set(self, schema: Any) -> bool:
        if isinstance(schema, dict) and schema.get("metadata", {}).get(BUILT_WHEN_SET):
            return False  # a section built when set: titled by its model, like any model field
        return super().field_title_should_be_set(schema)

    def _key(self, name: str, alias: str | None, validation_alias: Any) -> str:
        if not self.by_alias:
            return name
        if self.mode == "validation" and isinstance(validation_alias, str):
            return validation_alias
        return alias or name
