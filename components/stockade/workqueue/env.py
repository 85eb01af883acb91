"""Reading the environment a fleet component sets on a dispatch container.

Errors name the variable and what it should look like, never its value: some of these
variables hold secrets, and a uniform rule is easier to keep than a per-variable one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TypeVar

from stockade.workqueue.errors import ConfigError

ENVIRONMENT_ID = re.compile(r"^env_[A-Za-z0-9]{4,64}$")

_Number = TypeVar("_Number", int, float)


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


def id_list(environ: Mapping[str, str], name: str, pattern: re.Pattern[str], shape: str) -> tuple[str, ...]:
    raw = required(environ, name)
    items = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not items:
        raise ConfigError(f"{name} lists no IDs; expected comma-separated {shape}")
    for position, item in enumerate(items, start=1):
        if not pattern.fullmatch(item):
            raise ConfigError(f"{name}: item {position} is not {shape}")
    if len(set(items)) != len(items):
        raise ConfigError(f"{name} lists an ID twice")
    return items


def _bounded(
    environ: Mapping[str, str],
    name: str,
    default: _Number | None,
    low: _Number,
    high: _Number,
    parse: Callable[[str], _Number],
    kind: str,
    unit: str,
) -> _Number:
    raw = environ.get(name, "").strip()
    if not raw:
        if default is None:
            raise ConfigError(f"{name} is not set; expected {kind} from {low} to {high}")
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise ConfigError(f"{name} is not {kind} (expected {low} to {high})") from None
    # NaN fails both comparisons, so it is refused here too.
    if not low <= value <= high:
        raise ConfigError(f"{name} is {value}; expected {low} to {high}{unit}")
    return value


def integer(environ: Mapping[str, str], name: str, default: int | None, low: int, high: int) -> int:
    """An integer in [low, high]; unset means `default`, or an error when there is none."""
    return _bounded(environ, name, default, low, high, int, "an integer", "")


def seconds(environ: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    """A duration in seconds in [low, high]; unset means `default`."""
    return _bounded(environ, name, default, low, high, float, "a number of seconds", " seconds")


def boolean(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("true", "false"):
        raise ConfigError(f"{name} is not true or false")
    return raw == "true"
