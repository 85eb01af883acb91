"""Reading the environment the fleet component sets; errors name the variable, never its value."""

from __future__ import annotations

import re
from collections.abc import Mapping

from stockade.docker_dispatcher.errors import ConfigError


def required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is not set; the fleet component sets it on this container")
    return value


def matching(environ: Mapping[str, str], name: str, pattern: re.Pattern[str], shape: str) -> str:
    value = required(environ, name)
    if not pattern.fullmatch(value):
        raise ConfigError(f"{name} is not {shape}")
    return value


def integer(environ: Mapping[str, str], name: str, default: int | None, low: int, high: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        if default is None:
            raise ConfigError(f"{name} is not set; expected an integer from {low} to {high}")
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} is not an integer (expected {low} to {high})") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} is {value}; expected {low} to {high}")
    return value


def boolean(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("true", "false"):
        raise ConfigError(f"{name} is not true or false")
    return raw == "true"
