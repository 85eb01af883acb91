"""Start one sandbox task for one work item, with the exact RunTask request the contract fixes."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stockade.dispatcher.aws import EcsApi, error_code, error_message
from stockade.dispatcher.logs import emit
from stockade.dispatcher.slots import STARTED_BY
from stockade.dispatcher.work_secrets import SECRET_ARN_VARIABLE
from stockade.workqueue.errors import LaunchError
from stockade.workqueue.workitem import WorkItem

# Errors after which repeating RunTask can succeed. Throttling and 5xx are already retried
# inside botocore; they reach this list only when those retries ran out.
RETRYABLE_ERRORS = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ServerException",
        "ServiceUnavailableException",
        "InternalFailure",
        "LimitExceededException",
    }
)
# Transport failures leave it unknown whether ECS started the task; the retry reuses the
# client token, so ECS returns the original task instead of starting a second one.
AMBIGUOUS_ERRORS = frozenset(
    {"EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError"}
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskTarget:
    """Where and how sandboxes run: cluster, task definition, container and network."""

    cluster_arn: str
    task_definition_arn: str
    container: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]


def run_task_request(target: TaskTarget, item: WorkItem, secret_arn: str) -> dict[str, Any]:
    """The RunTask parameters for one session (without the client token).

    The environment carries identifiers and the secret's ARN only; the work secret itself
    never appears here because CloudTrail records RunTask overrides.
    """
    environment = [
        {"name": SECRET_ARN_VARIABLE, "value": secret_arn},
        {"name": "ANTHROPIC_SESSION_ID", "value": item.session_id},
        {"name": "ANTHROPIC_WORK_ID", "value": item.work_id},
    ]
    if item.base_url:
        environment.append({"name": "ANTHROPIC_BASE_URL", "value": item.base_url})
    return {
        "cluster": target.cluster_arn,
        "taskDefinition": target.task_definition_arn,
        "count": 1,
        "launchType": "FARGATE",
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": list(target.subnet_ids),
                "securityGroups": list(target.security_group_ids),
                "assignPublicIp": "DISABLED",
            }
        },
        "overrides": {"containerOverrides": [{"name": target.container, "environment": environment}]},
        "startedBy": STARTED_BY,
        "tags": [
            {"key": "stockade:work-id", "value": item.work_id},
            {"key": "stockade:session-id", "value": item.session_id},
        ],
        "enableExecuteCommand": False,
    }


def _client_token(nonce: str, attempt: int) -> str:
    # Within ECS's 64-character limit; unique per dispatch and per definite failure.
    return f"stockade-{nonce}-{attempt}"


def start_task(
    ecs: EcsApi,
    request: dict[str, Any],
    *,
    nonce: str,
    attempts: int,
    backoff: float,
    sleep: Callable[[float], None],
) -> str:
    """Call RunTask until one task starts or `attempts` run out; returns the task ARN."""
    token_attempt = 1
    last_problem = "no attempt made"
    for attempt in range(1, attempts + 1):
        try:
            response = ecs.run_task(**request, clientToken=_client_token(nonce, token_attempt))
        except Exception as exc:
            code = error_code(exc)
            if code in AMBIGUOUS_ERRORS:
                last_problem = f"{code} (unknown whether the task started)"
            elif code in RETRYABLE_ERRORS:
                last_problem = f"{code}: {error_message(exc)}"
                token_attempt += 1
            else:
                raise LaunchError(f"RunTask refused: {code}: {error_message(exc)}") from None
        else:
            tasks = response.get("tasks") or []
            if tasks and tasks[0].get("taskArn"):
                return str(tasks[0]["taskArn"])
            reasons = sorted(
                {
                    f"{f.get('reason', 'unknown')}" + (f" ({f['detail']})" if f.get("detail") else "")
                    for f in response.get("failures") or []
                }
            )
            last_problem = "; ".join(reasons) or "RunTask returned no task and no failure"
            # A definite failure: a new token, or ECS would replay this same failed result.
            token_attempt += 1
        emit(log, logging.WARNING, "launch.retry", attempt=attempt, attempts=attempts, problem=last_problem)
        if attempt < attempts:
            # Exponential with jitter, so replicas throttled together do not retry together.
            sleep(backoff * (2 ** (attempt - 1)) * (0.5 + secrets.randbelow(1000) / 2000))
    raise LaunchError(f"no sandbox task started after {attempts} RunTask attempts: {last_problem}")
