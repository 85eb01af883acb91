"""This task's own ID, from the ECS task metadata endpoint (version 4).

ECS sets ECS_CONTAINER_METADATA_URI_V4 in every container of a Fargate task (platform 1.4 and
later); `GET $ECS_CONTAINER_METADATA_URI_V4/task` answers with the task's ARN, whose last
segment is the task ID. The sandbox's artifact prefix is built from it, so an answer that is
not a plain task ID is refused rather than turned into an object key.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from urllib.parse import urlsplit

from stockade.dispatcher.errors import ConfigError

METADATA_VARIABLE = "ECS_CONTAINER_METADATA_URI_V4"
_TASK_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MAX_ANSWER_BYTES = 256 * 1024
_TIMEOUT_SECONDS = 5.0


def ecs_task_id(environ: Mapping[str, str]) -> str:
    """The ID of the ECS task this container runs in; ConfigError names what went wrong."""
    base = environ.get(METADATA_VARIABLE, "").strip()
    if not base:
        raise ConfigError(f"{METADATA_VARIABLE} is not set: not an ECS task, so no artifact prefix")
    if urlsplit(base).scheme != "http":
        raise ConfigError(f"{METADATA_VARIABLE} is not an http:// URL")
    # The metadata endpoint is link-local: it must never be reached through the egress proxy.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(base.rstrip("/") + "/task", timeout=_TIMEOUT_SECONDS) as answer:
            document = json.loads(answer.read(_MAX_ANSWER_BYTES))
    except (OSError, ValueError) as exc:
        problem = type(exc).__name__
        raise ConfigError(f"the task metadata endpoint did not answer with JSON ({problem})") from None
    arn = document.get("TaskARN") if isinstance(document, dict) else None
    task_id = arn.rsplit("/", 1)[-1] if isinstance(arn, str) else ""
    if not _TASK_ID.fullmatch(task_id):
        raise ConfigError("the task metadata endpoint named no task ID ([A-Za-z0-9_-], 1-64)")
    return task_id
