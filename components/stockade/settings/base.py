"""The base every settings model shares: strict keys, camelCase names, docstrings as docs."""

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


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
        use_attribute_docstrings=True,
        coerce_numbers_to_str=True,
        validate_default=True,
    )
