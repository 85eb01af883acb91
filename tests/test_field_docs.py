"""Field docstrings reach the generated schema without the models parsing source at import."""

from __future__ import annotations

from pydantic import Field

from stockade.settings.base import SettingsModel
from stockade.settings.field_docs import DocumentedSchema, field_docstrings
from stockade.settings.stack import StackSettings


class _Inner(SettingsModel):
    """Inner section."""

    size: int = 1
    """How big."""


class _Outer(SettingsModel):
    """Outer section."""

    inner_part: _Inner = Field(default_factory=_Inner)
    """Inner section."""

    named: str = Field(default="x", description="explicit wins")
    """ignored: the field sets its own description"""

    plain: bool = False
    spaced: int = 0

    """a string after a blank line still follows the assignment directly"""


class _Derived(_Outer):
    extra: str = ""
    """Only in the subclass."""


def test_models_do_not_carry_docstrings_at_runtime() -> None:
    assert StackSettings.model_fields["network"].description is None
    assert _Inner.model_fields["size"].description is None


def test_docstrings_follow_pydantics_rules() -> None:
    docs = field_docstrings(_Outer)
    assert docs["inner_part"] == "Inner section."
    assert "plain" not in docs
    assert docs["spaced"].startswith("a string after")
    assert field_docstrings(_Derived)["inner_part"] == "Inner section."
    assert field_docstrings(_Derived)["extra"] == "Only in the subclass."


def test_schema_gets_descriptions_by_alias_and_drops_repeats() -> None:
    schema = _Derived.model_json_schema(by_alias=True, mode="validation", schema_generator=DocumentedSchema)
    props = schema["properties"]
    assert props["extra"]["description"] == "Only in the subclass."
    assert props["named"]["description"] == "explicit wins"
    assert "description" not in props["plain"]
    # Same text as the referenced model's own description: pydantic leaves it out, and so do we.
    assert props["innerPart"] == {"$ref": "#/$defs/_Inner"}
    assert schema["$defs"]["_Inner"]["properties"]["size"]["description"] == "How big."
    plain = _Derived.model_json_schema(by_alias=True, mode="validation")
    assert "description" not in plain["properties"]["extra"]
