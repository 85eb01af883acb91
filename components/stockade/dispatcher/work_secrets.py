"""Per-session work secrets in Secrets Manager, and the sweep that deletes them after the session.

The work secret must not travel in RunTask overrides (CloudTrail records them), so each
session's secret is stored under `${prefix}${work_id}-${nonce}` and only the ARN is passed.
The 128-bit nonce makes other sessions' names unguessable to a sandbox whose role may read
`${prefix}*`, and that is not the only barrier: each secret carries a resource policy that
denies GetSecretValue to every session of the sandbox task role but its own task's
(`aws:userid` is `<role ID>:<task ID>`, ECS naming each task-role session after the task).
The secret is created locked to all sandboxes, and unlocked for one task once RunTask has
named it, so no sandbox can read it in between.

The sweep finds stopped dispatcher-started tasks (ECS lists them for about an hour after
they stop), reads STOCKADE_WORK_SECRET_ARN back from each task's overrides and deletes that
secret without a recovery window. It then tags the task, and records it in this replica's
`SweptTasks` file, so later sweeps skip it.

That misses a secret whose task ECS no longer lists: the sweeper was down for the hour the
stopped task stayed listed, or the dispatcher died between CreateSecret and RunTask. So
`sweep_expired` also lists the secrets under the prefix (ListSecrets: names, dates and tags,
never values) and deletes those older than a maximum age that no listed task still names.
It is the one call that needs secretsmanager:ListSecrets, which IAM cannot scope to a
prefix; where it is denied, the sweep logs it and the stopped-task sweep still runs.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from stockade.dispatcher.aws import EcsApi, SecretsApi, error_code, error_message
from stockade.dispatcher.logs import emit
from stockade.dispatcher.slots import STARTED_BY
from stockade.dispatcher.swept import DEFAULT_PATH as DEFAULT_SWEPT_PATH
from stockade.dispatcher.swept import SweptTasks
from stockade.workqueue.errors import LaunchError
from stockade.workqueue.workitem import WorkItem

SECRET_ARN_VARIABLE = "STOCKADE_WORK_SECRET_ARN"  # noqa: S105 - a variable name, not a secret
SWEPT_TAG = "stockade:secret-deleted"
WORK_ID_TAG = "stockade:work-id"
STACK_TAG = "stockade:stack"
_GONE = {"ResourceNotFoundException"}
_DESCRIBE_BATCH = 100  # DescribeTasks' limit

log = logging.getLogger(__name__)


class SecretListingApi(SecretsApi, Protocol):
    """The Secrets Manager calls of the age-based sweep (ListSecrets on top of the usual ones)."""

    def list_secrets(self, **kwargs: Any) -> dict[str, Any]: ...


def swept_file(environ: Mapping[str, str]) -> Path | None:
    """Where this replica records swept tasks (STOCKADE_SWEPT_FILE).

    Unset: the default on the poller task's /tmp volume, which the dispatcher and the
    queue-stats container share; set but empty: keep no record.
    """
    if "STOCKADE_SWEPT_FILE" not in environ:
        return DEFAULT_SWEPT_PATH
    raw = environ["STOCKADE_SWEPT_FILE"].strip()
    return Path(raw) if raw else None


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
                {"Key": WORK_ID_TAG, "Value": item.work_id},
                {"Key": STACK_TAG, "Value": target.stack},
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


def work_secret_policy(sandbox_role_id: str, task_id: str | None) -> str:
    """The secret's resource policy: no sandbox task may read it, or only the task `task_id`."""
    condition: dict[str, dict[str, str]] = {"StringLike": {"aws:userid": f"{sandbox_role_id}:*"}}
    if task_id is not None:
        condition["StringNotEquals"] = {"aws:userid": f"{sandbox_role_id}:{task_id}"}
    statement = {
        "Sid": "OnlyItsOwnSandboxTask" if task_id else "NoSandboxTaskYet",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "*",
        "Condition": condition,
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, sort_keys=True)


def restrict_work_secret(sm: SecretsApi, arn: str, sandbox_role_id: str, task_id: str | None) -> None:
    """Lock the secret to no sandbox task (`task_id` None) or to one; LaunchError if refused."""
    try:
        sm.put_resource_policy(
            SecretId=arn,
            ResourcePolicy=work_secret_policy(sandbox_role_id, task_id),
            BlockPublicPolicy=True,
        )
    except Exception as exc:
        raise LaunchError(
            f"could not scope the work secret to its task: {error_code(exc)}: {error_message(exc)}"
        ) from None


def task_id_of(task_arn: str) -> str:
    """`arn:...:task/<cluster>/<task ID>` -> the task ID (the task-role session's name)."""
    return task_arn.rsplit("/", 1)[-1]


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


def override_secret_arn(task: Mapping[str, Any], container: str | None = None) -> str | None:
    """The work-secret ARN in a RunTask request's or a described task's overrides (of
    `container`, or of any container)."""
    for override in (task.get("overrides") or {}).get("containerOverrides") or []:
        if container is not None and override.get("name") != container:
            continue
        for variable in override.get("environment") or []:
            if variable.get("name") == SECRET_ARN_VARIABLE:
                value = variable.get("value")
                return value if isinstance(value, str) else None
    return None


def owned_secret_arn(task: dict[str, Any], container: str, prefix: str) -> str | None:
    """The work secret ARN a dispatcher-started task was given, if it is one of ours.

    Only an ARN inside the configured name prefix counts: the sweep must never delete a
    secret that someone else's override happened to name.
    """
    value = override_secret_arn(task, container)
    if value is not None and value.startswith("arn:") and f":secret:{prefix}" in value:
        return value
    return None


def _task_arns(ecs: EcsApi, cluster: str, status: str, limit: int) -> tuple[list[str], bool]:
    """Dispatcher-started task ARNs with this desired status; True when more exist than `limit`."""
    arns: list[str] = []
    token: str | None = None
    while len(arns) < limit:
        request: dict[str, object] = {
            "cluster": cluster,
            "startedBy": STARTED_BY,
            "desiredStatus": status,
            "maxResults": min(100, limit - len(arns)),
        }
        if token:
            request["nextToken"] = token
        page = ecs.list_tasks(**request)
        arns.extend(page.get("taskArns", []))
        token = page.get("nextToken")
        if not token:
            break
    # A page may hold more than asked for, so "more than the limit" is counted, not assumed.
    return arns[:limit], bool(token) or len(arns) > limit


def _stopped_task_arns(ecs: EcsApi, cluster: str, limit: int) -> list[str]:
    return _task_arns(ecs, cluster, "STOPPED", limit)[0]


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


@dataclass(frozen=True)
class SweepScope:
    """What a sweep may touch: the cluster's dispatcher-started tasks and the stack's secrets."""

    cluster: str
    container: str
    prefix: str
    stack: str


def named_secret_arns(ecs: EcsApi, scope: SweepScope, max_tasks: int) -> set[str] | None:
    """Work secret ARNs that some listed task (running, stopping or recently stopped) names.

    None when the listing is incomplete (over `max_tasks` tasks): the age-based sweep then
    deletes nothing rather than risk the secret of a long session it did not see.
    """
    named: set[str] = set()
    for status in ("RUNNING", "STOPPED"):
        arns, truncated = _task_arns(ecs, scope.cluster, status, max_tasks)
        if truncated:
            return None
        for batch in _batches(arns, _DESCRIBE_BATCH):
            described = ecs.describe_tasks(cluster=scope.cluster, tasks=batch)
            # MISSING: the task aged out between the two calls, so it names nothing any more.
            if any(f.get("reason") != "MISSING" for f in described.get("failures", [])):
                return None
            for task in described.get("tasks", []):
                arn = owned_secret_arn(task, scope.container, scope.prefix)
                if arn is not None:
                    named.add(arn)
    return named


def _is_expired(secret: Mapping[str, Any], scope: SweepScope, cutoff: datetime) -> bool:
    name = secret.get("Name")
    created = secret.get("CreatedDate")
    tags = {t.get("Key"): t.get("Value") for t in secret.get("Tags", []) or []}
    return (
        isinstance(name, str)
        and name.startswith(scope.prefix)
        # Only what a dispatcher of this stack created: both of its tags, the stack's value.
        and tags.get(STACK_TAG) == scope.stack
        and WORK_ID_TAG in tags
        and isinstance(created, datetime)
        and created < cutoff
        and "DeletedDate" not in secret
    )


def sweep_expired(
    ecs: EcsApi,
    sm: SecretListingApi,
    scope: SweepScope,
    *,
    now: datetime,
    max_age: timedelta,
    max_pages: int = 10,
    max_tasks: int = 5000,
) -> int:
    """Delete work secrets older than `max_age` that no listed task names; returns how many.

    Reads at most `max_pages` pages of ListSecrets (100 secrets each) per call; what is left
    is picked up by the next call. The names are filtered by the prefix on the server and
    again here, and a secret must carry this stack's tags, so nothing else is ever deleted.
    """
    named = named_secret_arns(ecs, scope, max_tasks)
    if named is None:
        emit(log, logging.WARNING, "sweep.expired_skipped", reason="task listing incomplete")
        return 0
    cutoff = now - max_age
    deleted = 0
    token: str | None = None
    for _ in range(max_pages):
        request: dict[str, object] = {
            "MaxResults": 100,
            "Filters": [{"Key": "name", "Values": [scope.prefix]}],
        }
        if token:
            request["NextToken"] = token
        page = sm.list_secrets(**request)
        for secret in page.get("SecretList", []):
            arn = secret.get("ARN")
            if not isinstance(arn, str) or arn in named or not _is_expired(secret, scope, cutoff):
                continue
            if delete_work_secret(sm, arn):
                deleted += 1
                emit(log, logging.INFO, "sweep.expired_deleted", secret_arn=arn)
        token = page.get("NextToken")
        if not token:
            break
    return deleted
