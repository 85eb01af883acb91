"""CloudWatch alarms, declared as data and created the same way everywhere.

Every Stockade alarm notifies on both ALARM and OK, to the stack's alarm topic
(aws/shared/alarm_topic.py), and fires only after `periods` consecutive breaching
datapoints. The components say which metrics to watch (aws/fleet/alarms.py,
aws/gateway/monitoring.py); this module turns each spec into one MetricAlarm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from stockade.aws.shared.alarm_topic import AlarmSubscriptionArgs, AlarmTopic

CONTAINER_INSIGHTS = "ECS/ContainerInsights"


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm: the metric, the rule and what it means."""

    key: str
    """Suffix of the resource name (`<name>-<key>`); never renamed once deployed."""
    alarm_name: pulumi.Input[str]
    description: str
    namespace: str
    metric: str
    statistic: str
    comparison: str
    threshold: float
    periods: int
    """Consecutive breaching periods before the alarm fires (evaluation = datapoints)."""
    treat_missing_data: str
    """`breaching` where silence itself is the failure, else `notBreaching`."""
    period_seconds: int = 60
    dimensions: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


def no_running_tasks(
    key: str,
    *,
    alarm_name: str,
    description: str,
    cluster_name: pulumi.Input[str],
    service_name: pulumi.Input[str],
) -> AlarmSpec:
    """Container Insights' RunningTaskCount of a service below 1 for 3 minutes.

    Missing data is breaching: no data means no tasks (or no Container Insights), and
    both deserve a page.
    """
    return AlarmSpec(
        key=key,
        alarm_name=alarm_name,
        description=description,
        namespace=CONTAINER_INSIGHTS,
        metric="RunningTaskCount",
        dimensions={"ClusterName": cluster_name, "ServiceName": service_name},
        statistic="Minimum",
        comparison="LessThanThreshold",
        threshold=1,
        periods=3,
        treat_missing_data="breaching",
    )


def metric_alarms(
    name: str,
    specs: Sequence[AlarmSpec],
    *,
    topic_arn: pulumi.Input[str],
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> dict[str, aws.cloudwatch.MetricAlarm]:
    """One MetricAlarm per spec, named `<name>-<spec.key>`, notifying `topic_arn`."""
    keys = [spec.key for spec in specs]
    if len(keys) != len(set(keys)):
        raise ValueError(f"{name}: duplicate alarm keys {sorted(keys)}")
    return {
        spec.key: aws.cloudwatch.MetricAlarm(
            f"{name}-{spec.key}",
            name=spec.alarm_name,
            alarm_description=spec.description,
            namespace=spec.namespace,
            metric_name=spec.metric,
            dimensions=dict(spec.dimensions) or None,
            statistic=spec.statistic,
            period=spec.period_seconds,
            evaluation_periods=spec.periods,
            datapoints_to_alarm=spec.periods,
            threshold=spec.threshold,
            comparison_operator=spec.comparison,
            treat_missing_data=spec.treat_missing_data,
            alarm_actions=[topic_arn],
            ok_actions=[topic_arn],
            tags=dict(tags),
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for spec in specs
    }


def topic_for(
    name: str,
    given: pulumi.Input[str] | None,
    *,
    account_id: str,
    region: str,
    partition: str,
    purpose: str,
    subscriptions: Sequence[AlarmSubscriptionArgs],
    tags: Mapping[str, str],
    parent: pulumi.Resource,
    name_base: str,
) -> pulumi.Output[str]:
    """The stack's topic when the caller passed one, else a topic of the component's own.

    A component used alone (a test, another program) still pages someone; inside the
    perimeter every component shares the one topic.
    """
    if given is not None:
        return pulumi.Output.from_input(given)
    return AlarmTopic(
        name,
        {
            "account_id": account_id,
            "region": region,
            "partition": partition,
            "purpose": purpose,
            "subscriptions": list(subscriptions),
            "tags": dict(tags),
            "name_base": name_base,
        },
        opts=pulumi.ResourceOptions(parent=parent),
    ).topic_arn
