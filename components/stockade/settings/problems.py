"""Configuration problems, phrased in the stack file's vocabulary."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic_core import PydanticCustomError

MASK = "[secret]"


@dataclass(frozen=True, order=True)
class ConfigProblem:
    """One thing wrong with a stack's configuration.

    `key` is the path a user would type (`stockade:tunnel.routes.wiki`), `value`
    is what they wrote (already masked when it is secret), and `fix` says what to
    do about it.
    """

    key: str
    value: str
    message: str
    fix: str

    def render(self) -> str:
        return f"{self.key} = {self.value}\n    {self.message}\n    fix: {self.fix}"

    def as_dict(self) -> dict[str, str]:
        return {"key": self.key, "value": self.value, "message": self.message, "fix": self.fix}


class SettingsError(Exception):
    """Every problem found in a stack's configuration, reported together."""

    def __init__(self, stack: str, problems: list[ConfigProblem]) -> None:
        self.stack = stack
        self.problems = sorted(problems)
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        body = "\n".join(f"  - {p.render()}" for p in self.problems)
        return f"stack '{self.stack}' has {count} configuration {noun}:\n{body}"


def invalid(message: str, fix: str, *, field: str | None = None) -> PydanticCustomError:
    """A validation error that carries its own fix, for use inside validators.

    `field` names the offending key (camelCase, dotted for nesting) when a
    model-level rule can point at it, so the report lands on that key rather
    than on the whole section.
    """
    context = {"fix": fix} if field is None else {"fix": fix, "field": field}
    return PydanticCustomError("stockade", message, context)


def describe_value(value: object, *, secret: bool = False) -> str:
    """Render a bad value for a report: short, quoted, masked when secret."""
    if secret:
        return MASK
    if value is None:
        return "(not set)"
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 120 else text[:117] + "..."
