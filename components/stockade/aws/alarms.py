"""The fleet's health alarms and the encrypted topic they publish to.

Four alarms, a fixed number whatever the fleet's size:

* no poller running: ECS Container Insights' RunningTaskCount for the poller (or
  pool) service below 1; no data means no tasks, so missing data is breaching;
* queue depth: the queue's `depth` (published by queue-stats) above the threshold
  for 5 minutes: sessions are waiting for capacity;
* no worker polling: `workers_polling` below 1, the vendor's liveness signal;
  missing data is breaching, so a dead queue-stats container also alarms;
* stalled work: `pending` (claimed, not acknowledged) above 0 for 15 minutes,
  which the vendor documents as a stalled worker.

The topic has its own small key: CloudWatch must be allowed in the key policy to
publish to an encrypted topic, and the stack's key may be the customer's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from stockade.aws.fleet_iam import METRICS_NAMESPACE
from stockade.settings.sandboxes import AlarmSubscription


@dataclass(frozen=True)
class AlarmTargets:
    """What the alarms watch."""

    cluster_name: pulumi.Input[str]
    service_name: pulumi.Input[str]
    stack: str
    queue_depth_threshold: int


def _topic_key_policy(account_id: str, partition: str, region: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministersThroughIam",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "CloudWatchAlarmsOfThisAccountPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account_id},
                        "ArnLike": {
                            "aws:SourceArn": f"arn:{partition}:cloudwatch:{region}:{account_id}:alarm:*"
                        },
                    },
                },
            ],
        },
        sort_keys=True,
    )


def _topic_policy(topic_arn: str, account_id: str, partition: str, region: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "CloudWatchAlarmsOfThisAccount",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account_id},
                        "ArnLike": {
                            "aws:SourceArn": f"arn:{partition}:cloudwatch:{region}:{account_id}:alarm:*"
                        },
                    },
                },
                {
                    "Sid": "DenyPlaintextTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        },
        sort_keys=True,
    )


def alarm_topic(
    name: str,
    *,
    account_id: str,
    partition: str,
    region: str,
    subscriptions: Sequence[AlarmSubscription],
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> aws.sns.Topic:
    child = pulumi.ResourceOptions(parent=parent)
    key = aws.kms.Key(
        f"{name}-key",
        description=f"Stockade {pulumi.get_stack()}: fleet alarm topic",
        enable_key_rotation=True,
        rotation_period_in_days=365,
        deletion_window_in_days=30,
        policy=_topic_key_policy(account_id, partition, region),
        tags=dict(tags),
        opts=child,
    )
    topic = aws.sns.Topic(
        f"{name}-topic",
        name=f"stockade-{pulumi.get_stack()}-fleet-alarms",
        kms_master_key_id=key.arn,
        tags=dict(tags),
        opts=child,
    )
    aws.sns.TopicPolicy(
        f"{name}-topic-policy",
        arn=topic.arn,
        policy=topic.arn.apply(lambda arn: _topic_policy(arn, account_id, partition, region)),
        opts=pulumi.ResourceOptions(parent=topic),
    )
    for index, subscription in enumerate(subscriptions, start=1):
        aws.sns.TopicSubscription(
            f"{name}-subscription-{index}",
            topic=topic.arn,
            protocol=subscription.protocol.value,
            endpoint=subscription.endpoint,
            opts=pulumi.ResourceOptions(parent=topic),
        )
    return topic


def fleet_alarms(
    name: str,
    *,
    targets: AlarmTargets,
    topic_arn: pulumi.Input[str],
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> dict[str, aws.cloudwatch.MetricAlarm]:
    stack = targets.stack
    queue = {"Stack": stack}
    common = {
        "alarm_actions": [topic_arn],
        "ok_actions": [topic_arn],
        "period": 60,
        "tags": dict(tags),
        "opts": pulumi.ResourceOptions(parent=parent),
    }
    return {
        "no-poller": aws.cloudwatch.MetricAlarm(
            f"{name}-no-poller",
            name=f"stockade-{stack}-no-poller-running",
            alarm_description="No poller (or pool worker) task is running: work stays queued.",
            namespace="ECS/ContainerInsights",
            metric_name="RunningTaskCount",
            dimensions={"ClusterName": targets.cluster_name, "ServiceName": targets.service_name},
            statistic="Minimum",
            comparison_operator="LessThanThreshold",
            threshold=1,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            treat_missing_data="breaching",
            **common,
        ),
        "queue-depth": aws.cloudwatch.MetricAlarm(
            f"{name}-queue-depth",
            name=f"stockade-{stack}-queue-depth",
            alarm_description=(
                f"More than {targets.queue_depth_threshold} work items queued for 5 minutes: raise "
                "maxConcurrentSessions (or poolSize), or look for failing sandboxes."
            ),
            namespace=METRICS_NAMESPACE,
            metric_name="QueueDepth",
            dimensions=queue,
            statistic="Maximum",
            comparison_operator="GreaterThanThreshold",
            threshold=targets.queue_depth_threshold,
            evaluation_periods=5,
            datapoints_to_alarm=5,
            treat_missing_data="notBreaching",
            **common,
        ),
        "no-worker-polling": aws.cloudwatch.MetricAlarm(
            f"{name}-no-worker-polling",
            name=f"stockade-{stack}-no-worker-polling",
            alarm_description=(
                "The queue reports no worker polling (or queue-stats stopped reporting): "
                "check the poller service and its logs."
            ),
            namespace=METRICS_NAMESPACE,
            metric_name="WorkersPolling",
            dimensions=queue,
            statistic="Maximum",
            comparison_operator="LessThanThreshold",
            threshold=1,
            evaluation_periods=5,
            datapoints_to_alarm=5,
            treat_missing_data="breaching",
            **common,
        ),
        "stalled-work": aws.cloudwatch.MetricAlarm(
            f"{name}-stalled-work",
            name=f"stockade-{stack}-stalled-work",
            alarm_description="Work items claimed but not acknowledged for 15 minutes: a worker is stalled.",
            namespace=METRICS_NAMESPACE,
            metric_name="PendingItems",
            dimensions=queue,
            statistic="Minimum",
            comparison_operator="GreaterThanThreshold",
            threshold=0,
            evaluation_periods=15,
            datapoints_to_alarm=15,
            treat_missing_data="notBreaching",
            **common,
        ),
    }
