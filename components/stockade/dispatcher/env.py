"""Reading and checking the environment the fleet component sets (docs/dispatcher.md lists it).

Errors name the variable and what it should look like, never its value: some of these
variables hold secrets, and a uniform rule is easier to keep than a per-variable one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from stockade.dispatcher.errors import ConfigError

_ARN = r"arn:aws[a-z-]*"
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d"
CLUSTER_ARN = re.compile(rf"^{_ARN}:ecs:(?P<region>{_REGION}):\d{{12}}:cluster/[A-Za-z0-9_-]{{1,255}}$")
TASK_DEFINITION_ARN = re.compile(
    rf"^{_ARN}:ecs:{_REGION}:\d{{12}}:task-definition/[A-Za-z0-9_-]{{1,255}}:\d+$"
)
KMS_KEY_ARN = re.compile(rf"^{_ARN}:kms:{_REGION}:\d{{12}}:(?:key/[A-Za-z0-9-]+|alias/[A-Za-z0-9/_-]+)$")
SECRET_ARN = re.compile(rf"^{_ARN}:secretsmanager:(?P<region>{_REGION}):\d{{12}}:secret:[A-Za-z0-9/_+=.@-]+$")
SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
SECURITY_GROUP_ID = re.compile(r"^sg-[0-9a-f]{8,17}$")
CONTAINER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
# Characters Secrets Manager allows in a name; the prefix must end with "/" or "-" so that
# the appended work ID cannot run into the prefix's last segment (IAM grants "${prefix}*").
SECRET_PREFIX = re.compile(r"^[A-Za-z0-9/_+=.@-]{0,255}[/_-]$")
STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
ENVIRONMENT_ID = re.compile(r"^env_[A-Za-z0-9]{4,64}$")


def required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is not set; the fleet component sets it on the poller task")
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


def seconds(environ: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} is not a number of seconds (expected {low} to {high})") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} is {value}; expected {low} to {high} seconds")
    return value


def base_url(environ: Mapping[str, str], name: str) -> str | None:
    """An optional API base URL: https, or http to a loopback address (a local proxy or test server).

    Plain http elsewhere would send the environment key in clear, so it is refused.
    """
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    loopback = parts.hostname in {"localhost", "127.0.0.1", "::1"} or (parts.hostname or "").startswith(
        "127."
    )
    if parts.scheme == "https" and parts.hostname:
        return raw.rstrip("/")
    if parts.scheme == "http" and loopback:
        return raw.rstrip("/")
    raise ConfigError(f"{name} must be an https:// URL (plain http is allowed only to a loopback address)")


def region_of(arn: str, pattern: re.Pattern[str]) -> str:
    match = pattern.fullmatch(arn)
    if match is None:
        raise ConfigError("an ARN does not have the expected shape")
    return match.group("region")
