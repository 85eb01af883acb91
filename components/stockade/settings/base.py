"""The base every settings model shares: strict keys, camelCase names, docstrings as docs.

Field docstrings are the documentation, but they are read from source only by the
docs generator (`stockade.settings.field_docs`), not each time the models load: that
source parsing was a fifth of a synth. Validators are built at import (pydantic's
default) for every section a stack always has: measured, `defer_build` saved nothing
there, because every reader validates a whole stack, and the sections built from a
`default_factory` would then build their validators a second time, on their own. Optional
sections that many stacks leave out are the exception: the managed providers' (a stack sets
at most one), `aws` (Docker stacks have none) and `docker.tls`. They are marked
`BuiltWhenSet` and built the first time a stack sets one (the providers' alone were a
fortieth of a Docker stack's synth).

The modules that define settings models do not postpone their annotations (no
`from __future__ import annotations`): pydantic would evaluate every annotation's text
again to build each model, about a sixth of building the models.
"""

from collections.abc import Iterator
from typing import Any, Self, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationInfo,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

DEFER_RULES = "stockade.defer_rules"
"""Validation-context flag: skip `rule_errors` so the loader can collect them all afterwards."""
MAX_STRING_CHARS = 65_536
"""No setting needs more (PEM bundles are the longest); every string is capped, the narrower
types cap lower."""


def empty_list() -> list[Any]:
    """`default_factory` for list fields. pydantic reads each factory's signature, and a builtin's
    (`list`, `dict`) is parsed from text by the tokenizer: milliseconds of every import, for nothing."""
    return []


def empty_dict() -> dict[Any, Any]:
    """`default_factory` for dict fields (see `empty_list`)."""
    return {}


BUILT_WHEN_SET = "stockade_built_when_set"
"""Core-schema metadata key marking a `BuiltWhenSet` field (the docs give it no title of its own,
as for any field whose type is a model)."""


class BuiltWhenSet:
    """Marks an optional section whose model is built the first time a stack sets it.

    `Annotated[DaytonaSettings | None, BuiltWhenSet()]`, on a model whose config has
    `defer_build`: its validator (and the section's docs schema) are made on first use, so a
    stack without the section never pays for it. The annotation still names the model, so
    everything that walks the settings types (the loader, the secret paths, the docs) reads
    the section as before, and a bad value fails with the same errors at the same paths.
    """

    def __init__(self) -> None:
        self.model: type[BaseModel] | None = None

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        models = [a for a in get_args(source) if isinstance(a, type) and issubclass(a, BaseModel)]
        if len(models) != 1 or type(None) not in get_args(source):
            raise TypeError(f"BuiltWhenSet marks `Model | None` fields, not {source!r}")
        model = self.model = models[0]

        def validate(value: Any, info: core_schema.ValidationInfo) -> Any:
            if value is None or isinstance(value, model):
                return value
            return model.model_validate(value, context=info.context)

        return core_schema.with_info_plain_validator_function(validate, metadata={BUILT_WHEN_SET: True})

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        assert self.model is not None  # set when the field's schema was made
        return handler(core_schema.nullable_schema(self.model.__pydantic_core_schema__))


DEFERRED = ConfigDict(defer_build=True)
"""Merge into a section's `model_config` when the section is marked `BuiltWhenSet`."""


class SettingsModel(BaseModel):
    """Strict, immutable settings section.

    Stack files speak camelCase (Pulumi's convention); Python speaks snake_case.
    Unknown keys are errors, because a typo in a security setting must not be
    silently ignored.
    """

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        coerce_numbers_to_str=True,
        validate_default=True,
        str_max_length=MAX_STRING_CHARS,
    )

    def rule_errors(self) -> Iterator[PydanticCustomError]:
        """Rules across this section's fields: every broken one, not just the first.

        Built directly, a model raises the first; the loader validates with `DEFER_RULES`
        and collects them all, with their paths, once every field has a value.
        """
        return iter(())

    @model_validator(mode="after")
    def _rules_hold(self, info: ValidationInfo) -> Self:
        if isinstance(info.context, dict) and info.context.get(DEFER_RULES):
            return self
        for error in self.rule_errors():
            raise error
        return self
