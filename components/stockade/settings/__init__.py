"""Typed stack settings: the single source of truth for every `stockade:` config key."""

from stockade.settings.problems import ConfigProblem, SettingsError
from stockade.settings.stack import StackSettings

__all__ = ["ConfigProblem", "SettingsError", "StackSettings"]
