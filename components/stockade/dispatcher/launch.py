"""Start one sandbox task for one work item, with the exact RunTask request the contract fixes.

One sandbox per work item: before launching, the dispatcher looks for a live task tagged with
the same work ID (`find_live_task`), and RunTask's client token is derived from the cluster
and the work ID, so two dispatches of the same item inside ECS's idempotency window cannot
start two tasks even if they race past the lookup.

The derived token has one trap: ECS answers a repeated token with the first call's response,
even after that task stopped. A task the response names but this request did not start is
recognised by its overrides (each dispatch sends its own work-secret ARN): if it is live, a
concurrent dispatch won the race and this one adopts it; if it stopped, the token is spent and
the next attempt uses a fresh one.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stockade.dispatcher.aws import EcsApi, error_code, error_message
from stockade.dispatcher.logs import emit
from stockade.dispatcher.slots import STARTED_BY, list_live
from stockade.dispatcher.work_secrets import SECRET_ARN_VARIABLE, override_secret_arn
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
    proxy_container: str | None = None
    """The session task's API proxy container; None when the proxy is off."""


WORK_ID_TAG = "stockade:work-id"
SESSION_ID_TAG = "stockade:session-id"
_DESCRIBE_BATCH = 100  # DescribeTasks' maximum


def run_task_request(target: TaskTarget, item: WorkItem, secret_arn: str) -> dict[str, Any]:
    """The RunTask parameters for one session (without the client token).

    The environment carries identifiers and the secret's ARN only; the work secret itself
    never appears here because CloudTrail records RunTask overrides.
    """
    identifiers = [
        {"name": "ANTHROPIC_SESSION_ID", "value": item.session_id},
        {"name": "ANTHROPIC_WORK_ID", "value": item.work_id},
    ]
    environment = [{"name": SECRET_ARN_VARIABLE, "value": secret_arn}, *identifiers]
    overrides = [{"name": target.container, "environment": environment}]
    if target.proxy_container is None:
        if item.base_url:
            environment.append({"name": "ANTHROPIC_BASE_URL", "value": item.base_url})
    else:
        # The proxy serves exactly this work item and session; the sandbox's own base URL is
        # the proxy (fixed in the task definition), the vendor's is the proxy's upstream.
        proxy_environment = list(identifiers)
        if item.base_url:
            proxy_environment.append({"name": "STOCKADE_API_PROXY_UPSTREAM", "value": item.base_url})
        overrides.insert(0, {"name": target.proxy_container, "environment": proxy_environment})
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
        "overrides": {"containerOverrides": overrides},
        "startedBy": STARTED_BY,
        "tags": [
            {"key": WORK_ID_TAG, "value": item.work_id},
            {"key": SESSION_ID_TAG, "value": item.session_id},
        ],
        "enableExecuteCommand": False,
    }


def client_token_base(cluster_arn: str, work_id: str) -> str:
    """The work item's RunTask token stem: the same for every dispatch of the same item."""
    return hashlib.sha256(f"{cluster_arn}\n{work_id}".encode()).hexdigest()[:40]


def _client_token(base: str, attempt: int) -> str:
    # Within ECS's 64-character limit; the same per work item, new after each definite failure.
    return f"stockade-{base}-{attempt}"


def find_live_task(ecs: EcsApi, cluster_arn: str, work_id: str) -> str | None:
    """The ARN of a live dispatcher-started task tagged with `work_id`, if there is one.

    ListTasks cannot filter on tags, so the live tasks are described (with their tags) in
    batches of 100: one ListTasks page and one DescribeTasks call per hundred live sandboxes."""
    arns = list_live(ecs, cluster_arn)
    for start in range(0, len(arns), _DESCRIBE_BATCH):
        described = ecs.describe_tasks(
            cluster=cluster_arn, tasks=arns[start : start + _DESCRIBE_BATCH], include=["TAGS"]
        )
        for task in described.get("tasks") or []:
            if task.get("lastStatus") == "STOPPED" or task.get("desiredStatus") == "STOPPED":
                continue
            tags = {t.get("key"): t.get("value") for t in task.get("tags") or []}
            if tags.get(WORK_ID_TAG) == work_id and task.get("taskArn"):
                return str(task["taskArn"])
    return None


@dataclass(frozen=True)
class Started:
    """The task RunTask answered with; `adopted` when a concurrent dispatch of the same work
    item started it (this dispatch's work secret then belongs to no task)."""

    task_arn: str
    adopted: bool = False


def _started_by(request: dict[str, Any], task: dict[str, Any]) -> bool:
    """Whether `task` came from `request` rather than from a replay of the token's first call."""
    if "overrides" not in task:
        return True  # an answer without overrides cannot tell; ECS's own answers carry them
    return override_secret_arn(task) == override_secret_arn(request)


def _is_live(ecs: EcsApi, cluster_arn: str, task_arn: str) -> bool:
    described = ecs.describe_tasks(cluster=cluster_arn, tasks=[task_arn])
    return any(
        task.get("lastStatus") != "STOPPED" and task.get("desiredStatus") != "STOPPED"
        for task in described.get("tasks") or []
    )


def start_task(
    ecs: EcsApi,
    request: dict[str, Any],
    *,
    token_base: str,
    attempts: int,
    backoff: float,
    sleep: Callable[[float], None],
) -> Started:
    """Call RunTask until one task starts or `attempts` run out."""
    token_attempt = 1
    last_problem = "no attempt made"
    for attempt in range(1, attempts + 1):
        try:
            response = ecs.run_task(**request, clientToken=_client_token(token_base, token_attempt))
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
                task_arn = str(tasks[0]["taskArn"])
                if _started_by(request, tasks[0]):
                    return Started(task_arn)
                if _is_live(ecs, str(request["cluster"]), task_arn):
                    return Started(task_arn, adopted=True)
                # The token's first task has stopped; ECS would replay it for as long as the
                # token is remembered, so only a fresh token can start this item again.
                emit(log, logging.INFO, "launch.token_replayed", task_arn=task_arn)
                token_attempt += 1
                last_problem = "RunTask replayed an earlier, stopped task of this work item"
                continue
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
