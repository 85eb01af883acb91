"""The base every settings model shares: strict keys, camelCase names, docstrings as docs.

Field docstrings are the documentation, but they are read from source only by the
docs generator (`stockade.settings.field_docs`), not each time the models load: that
source parsing was a fifth of a synth. Validators are still built at import
(pydantic's default): measured, `defer_build` saved nothing, because every reader
validates a whole stack, and the sections built from a `default_factory` would then
build their validators a second time, on their own.
"""

from collections.abc import Iterator
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ValidationInfo, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

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
