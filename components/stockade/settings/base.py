"""The base every settings model shares: strict keys, camelCase names, built on first use.

Field docstrings are the documentation, but they are read from source only by the
docs generator (`stockade.settings.field_docs`), not each time the models load.
"""

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
        coerce_numbers_to_str=True,
        validate_default=True,
        # Validators are built when a model first validates, not at import: a stack file
        # validates through StackSettings alone, so its sections' own validators are never needed.
        defer_build=True,
    )
