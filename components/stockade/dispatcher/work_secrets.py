"""Per-session work secrets in Secrets Manager, and the sweep that deletes them after the session.

The work secret must not travel in RunTask overrides (CloudTrail records them), so each
session's secret is stored under `${prefix}${work_id}-${nonce}` and only the ARN is passed.
The 128-bit nonce makes other sessions' names unguessable to a sandbox whose role may read
`${prefix}*`.

The sweep finds stopped dispatcher-started tasks (ECS lists them for about an hour after
they stop), reads STOCKADE_WORK_SECRET_ARN back from each task's overrides and deletes that
secret without a recovery window. It then tags the task, and records it in this replica's
`SweptTasks` file, so later sweeps skip it. It never needs secretsmanager:ListSecrets,
which cannot be scoped to a name prefix.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from stockade.dispatcher.aws import EcsApi, SecretsApi, error_code, error_message
from stockade.dispatcher.logs import emit
from stockade.dispatcher.slots import STARTED_BY
from stockade.dispatcher.swept import SweptTasks
from stockade.workqueue.errors import LaunchError
from stockade.workqueue.workitem import WorkItem

SECRET_ARN_VARIABLE = "STOCKADE_WORK_SECRET_ARN"  # noqa: S105 - a variable name, not a secret
SWEPT_TAG = "stockade:secret-deleted"
_GONE = {"ResourceNotFoundException"}
_DESCRIBE_BATCH = 100  # DescribeTasks' limit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SecretTarget:
    """Where work secrets live: name prefix, encryption key and the owning stack's tag."""

    prefix: str
    kms_key_arn: str
    stack: str


def new_nonce() -> str:
    return secrets.token_hex(16)


def secret_name(prefix: str, work_id: str, nonce: str) -> str:
    return f"{prefix}{work_id}-{nonce}"


def create_work_secret(sm: SecretsApi, target: SecretTarget, item: WorkItem, nonce: str) -> str:
    """Store the item's work secret and return the secret's ARN."""
    try:
        created = sm.create_secret(
            Name=secret_name(target.prefix, item.work_id, nonce),
            Description=f"Stockade work secret for session {item.session_id}; deleted when its task stops",
            KmsKeyId=target.kms_key_arn,
            SecretString=item.secret.reveal(),
            Tags=[
                {"Key": "stockade:work-id", "Value": item.work_id},
                {"Key": "stockade:stack", "Value": target.stack},
            ],
        )
    except Exception as exc:
        raise LaunchError(
            f"could not create the work secret: {error_code(exc)}: {error_message(exc)}"
        ) from None
    arn = created.get("ARN")
    if not isinstance(arn, str) or not arn:
        raise LaunchError("CreateSecret returned no ARN")
    return arn


def delete_work_secret(sm: SecretsApi, arn: str) -> bool:
    """Delete a work secret at once (no recovery window). True when it is gone, already or now."""
    try:
        sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    except Exception as exc:
        if error_code(exc) in _GONE:
            return True
        emit(
            log,
            logging.WARNING,
            "secret.delete_failed",
            secret_arn=arn,
            error=error_code(exc),
            message=error_message(exc),
        )
        return False
    return True


def owned_secret_arn(task: dict[str, Any], container: str, prefix: str) -> str | None:
    """The work secret ARN a dispatcher-started task was given, if it is one of ours.

    Only an ARN inside the configured name prefix counts: the sweep must never delete a
    secret that someone else's override happened to name.
    """
    for override in task.get("overrides", {}).get("containerOverrides", []):
        if override.get("name") != container:
            continue
        for variable in override.get("environment", []):
            if variable.get("name") == SECRET_ARN_VARIABLE:
                value = variable.get("value")
                if isinstance(value, str) and value.startswith("arn:") and f":secret:{prefix}" in value:
                    return value
    return None


def _stopped_task_arns(ecs: EcsApi, cluster: str, limit: int) -> list[str]:
    arns: list[str] = []
    token: str | None = None
    while len(arns) < limit:
        request: dict[str, object] = {
            "cluster": cluster,
            "startedBy": STARTED_BY,
            "desiredStatus": "STOPPED",
            "maxResults": min(100, limit - len(arns)),
        }
        if token:
            request["nextToken"] = token
        page = ecs.list_tasks(**request)
        arns.extend(page.get("taskArns", []))
        token = page.get("nextToken")
        if not token:
            break
    return arns[:limit]


def _batches(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def sweep_stopped(
    ecs: EcsApi,
    sm: SecretsApi,
    cluster: str,
    container: str,
    prefix: str,
    *,
    swept: SweptTasks | None = None,
    max_tasks: int = 500,
) -> int:
    """Delete the work secrets of stopped sessions; returns how many were deleted (or already gone).

    Bounded by `max_tasks` per call so a dispatch never spends long here; what is left is
    picked up by the next dispatch. A task counts as done when it carries the swept tag or
    is in `swept` (this replica's record), so each secret is deleted about once.
    """
    swept = swept or SweptTasks(None)
    done_before = swept.load()
    arns = _stopped_task_arns(ecs, cluster, max_tasks)
    done: set[str] = set()
    deleted = 0
    for batch in _batches(arns, _DESCRIBE_BATCH):
        described = ecs.describe_tasks(cluster=cluster, tasks=batch, include=["TAGS"])
        for task in described.get("tasks", []):
            task_arn = task.get("taskArn", "")
            # Desired STOPPED is not yet stopped: the sandbox may still be flushing memory.
            if task.get("lastStatus") != "STOPPED":
                continue
            tagged = any(tag.get("key") == SWEPT_TAG for tag in task.get("tags", []))
            if tagged or task_arn in done_before:
                done.add(task_arn)
                continue
            arn = owned_secret_arn(task, container, prefix)
            if arn is None or not delete_work_secret(sm, arn):
                continue
            deleted += 1
            done.add(task_arn)
            _mark(ecs, task_arn)
    # Only tasks ECS still lists are worth remembering; the rest will never come back.
    swept.save(done)
    if deleted:
        emit(log, logging.INFO, "sweep.deleted", count=deleted)
    return deleted


def _mark(ecs: EcsApi, task_arn: str) -> None:
    try:
        ecs.tag_resource(resourceArn=task_arn, tags=[{"key": SWEPT_TAG, "value": "true"}])
    except Exception as exc:
        # Expected where IAM allows ecs:TagResource only at launch; SweptTasks covers it.
        emit(log, logging.DEBUG, "sweep.tag_failed", task_arn=task_arn, error=error_code(exc))
