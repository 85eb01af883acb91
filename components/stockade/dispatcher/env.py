"""Reading and checking the environment the fleet component sets (docs/dispatcher.md lists it).

The AWS shapes (ARNs, subnet and security group IDs, the work secret prefix) and the base URL
rule live here; the readers themselves are the shared ones from stockade.workqueue.env, and
are re-exported so callers write `env.matching(environ, name, env.CLUSTER_ARN, ...)`.
Errors name the variable and what it should look like, never its value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from stockade.workqueue.env import ENVIRONMENT_ID, id_list, integer, matching, required, seconds
from stockade.workqueue.errors import ConfigError

__all__ = [
    "CLUSTER_ARN",
    "CONTAINER_NAME",
    "ENVIRONMENT_ID",
    "KMS_KEY_ARN",
    "SECRET_ARN",
    "SECRET_PREFIX",
    "SECURITY_GROUP_ID",
    "STACK_NAME",
    "SUBNET_ID",
    "TASK_DEFINITION_ARN",
    "base_url",
    "id_list",
    "integer",
    "matching",
    "region_of",
    "required",
    "seconds",
]

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
# IAM role unique IDs: "AROA" and upper-case letters and digits.
ROLE_ID = re.compile(r"^AROA[A-Z0-9]{8,124}$")


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
