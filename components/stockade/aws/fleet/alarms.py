"""The fleet's health alarms: four, a fixed number whatever the fleet's size.

* no poller running: ECS Container Insights' RunningTaskCount for the poller (or
  pool) service below 1; no data means no tasks, so missing data is breaching;
* queue depth: the queue's `depth` (published by queue-stats) above the threshold
  for 5 minutes: sessions are waiting for capacity;
* no worker polling: `workers_polling` below 1, the vendor's liveness signal;
  missing data is breaching, so a dead queue-stats container also alarms;
* stalled work: `pending` (claimed, not acknowledged) above 0 for 15 minutes,
  which the vendor documents as a stalled worker.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from stockade.aws.fleet.iam import METRICS_NAMESPACE
from stockade.aws.shared.alarms import AlarmSpec, no_running_tasks


@dataclass(frozen=True)
class AlarmTargets:
    """What the alarms watch."""

    cluster_name: pulumi.Input[str]
    service_name: pulumi.Input[str]
    stack: str
    """The queue metrics' `Stack` dimension (the fleet's naming scope)."""
    alarm_prefix: str
    """Start of every alarm's name (the fleet's naming prefix)."""
    queue_depth_threshold: int


def fleet_alarm_specs(targets: AlarmTargets) -> list[AlarmSpec]:
    stack = targets.stack
    queue = {"Stack": stack}
    return [
        no_running_tasks(
            "no-poller",
            alarm_name=f"{targets.alarm_prefix}-no-poller-running",
            description="No poller (or pool worker) task is running: work stays queued.",
            cluster_name=targets.cluster_name,
            service_name=targets.service_name,
        ),
        AlarmSpec(
            key="queue-depth",
            alarm_name=f"{targets.alarm_prefix}-queue-depth",
            description=(
                f"More than {targets.queue_depth_threshold} work items queued for 5 minutes: raise "
                "maxConcurrentSessions (or poolSize), or look for failing sandboxes."
            ),
            namespace=METRICS_NAMESPACE,
            metric="QueueDepth",
            dimensions=queue,
            statistic="Maximum",
            comparison="GreaterThanThreshold",
            threshold=targets.queue_depth_threshold,
            periods=5,
            treat_missing_data="notBreaching",
        ),
        AlarmSpec(
            key="no-worker-polling",
            alarm_name=f"{targets.alarm_prefix}-no-worker-polling",
            description=(
                "The queue reports no worker polling (or queue-stats stopped reporting): "
                "check the poller service and its logs."
            ),
            namespace=METRICS_NAMESPACE,
            metric="WorkersPolling",
            dimensions=queue,
            statistic="Maximum",
            comparison="LessThanThreshold",
            threshold=1,
            periods=5,
            treat_missing_data="breaching",
        ),
        AlarmSpec(
            key="stalled-work",
            alarm_name=f"{targets.alarm_prefix}-stalled-work",
            description="Work items claimed but not acknowledged for 15 minutes: a worker is stalled.",
            namespace=METRICS_NAMESPACE,
            metric="PendingItems",
            dimensions=queue,
            statistic="Minimum",
            comparison="GreaterThanThreshold",
            threshold=0,
            periods=15,
            treat_missing_data="notBreaching",
        ),
    ]
