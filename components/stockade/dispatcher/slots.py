"""The concurrency cap: count live sandboxes started by the dispatcher, wait for a free slot.

"Live" means ECS desired status RUNNING, which covers tasks still PROVISIONING or PENDING
(ListTasks cannot filter on PENDING; ECS never sets a desired status to it). The count is
cluster-wide, so every poller replica shares one cap. It is a soft cap: dispatchers that
count at the same instant can each see the last free slot, overshooting by at most the
number of dispatches in flight at once (docs/dispatcher.md, "Concurrency cap").
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from stockade.dispatcher.aws import EcsApi
from stockade.dispatcher.logs import emit
from stockade.workqueue.errors import NoSlotError

STARTED_BY = "stockade-dispatch"
_PAGE = 100  # ListTasks' maximum page size

log = logging.getLogger(__name__)


def list_live(ecs: EcsApi, cluster: str, stop_at: int | None = None) -> list[str]:
    """ARNs of live dispatcher-started tasks in the cluster, listing no further than `stop_at`."""
    arns: list[str] = []
    token: str | None = None
    while True:
        request: dict[str, object] = {
            "cluster": cluster,
            "startedBy": STARTED_BY,
            "desiredStatus": "RUNNING",
            "maxResults": _PAGE,
        }
        if token:
            request["nextToken"] = token
        page = ecs.list_tasks(**request)
        arns += [str(arn) for arn in page.get("taskArns", [])]
        token = page.get("nextToken")
        if not token or (stop_at is not None and len(arns) >= stop_at):
            return arns


def count_live(ecs: EcsApi, cluster: str, stop_at: int) -> int:
    """Live dispatcher-started tasks in the cluster, counting no further than `stop_at`.

    Past the cap the exact number does not matter, and stopping early keeps a busy cluster
    from costing one ListTasks call per hundred sandboxes on every dispatch."""
    return len(list_live(ecs, cluster, stop_at))


def wait_for_slot(
    ecs: EcsApi,
    cluster: str,
    cap: int,
    *,
    timeout: float,
    poll_interval: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> int:
    """Return the live count once it is below `cap`; raise NoSlotError after `timeout` seconds."""
    deadline = clock() + timeout
    waited = False
    while True:
        live = count_live(ecs, cluster, stop_at=cap)
        if live < cap:
            if waited:
                emit(log, logging.INFO, "slot.free", live=live, cap=cap)
            return live
        remaining = deadline - clock()
        if remaining <= 0:
            raise NoSlotError(
                f"all {cap} sandbox slots stayed busy for {timeout:g}s "
                "(STOCKADE_MAX_CONCURRENT_SESSIONS); exiting without starting this session"
            )
        if not waited:
            emit(log, logging.INFO, "slot.wait", live=live, cap=cap, timeout_seconds=timeout)
            waited = True
        sleep(min(poll_interval, remaining))
