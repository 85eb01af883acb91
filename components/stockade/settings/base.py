"""The base every settings model shares: strict keys, camelCase names, docstrings as docs.

Field docstrings are the documentation, but they are read from source only by the
docs generator (`stockade.settings.field_docs`), not each time the models load: that
source parsing was a fifth of a synth. Validators are still built at import
(pydantic's default): measured, `defer_build` saved nothing, because every reader
validates a whole stack, and the sections built from a `default_factory` would then
build their validators a second time, on their own.
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
    )
