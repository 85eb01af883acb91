"""Health for a gateway that has no health endpoint (contract 2.7, open question 7).

Built from what exists: the log lines the vendor documents become metrics, and
ECS's own task count (Container Insights) tells whether anything runs at all.

Alarms go to an SNS topic encrypted with a small key of its own: CloudWatch can
publish to an encrypted topic only when the key policy lets the CloudWatch
service use the key, and the stack's key may be the customer's (kmsKeyArn), whose
policy Stockade does not own. The fleet's alarm topic is built the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from stockade.settings.tunnel import TunnelAlarmSettings


@dataclass(frozen=True)
class LogSignal:
    """A documented log line, turned into a metric."""

    key: str
    metric: str
    phrase: str
    meaning: str


# The phrases exactly as the vendor's pages print them; CloudWatch matches quoted terms verbatim.
LOG_SIGNALS = (
    LogSignal("registered", "TunnelConnectionsRegistered", "Registered tunnel connection",
              "cloudflared registered a connection with the edge (four per healthy replica at start)"),
    LogSignal("no-route", "NoRouteForHost", "no route for host",
              "a request named a route the proxy does not have"),
    LogSignal("ip-validation", "IpValidationFailed", "IP validation failed",
              "the proxy refused an upstream address outside allowed_ips (possible SSRF probe)"),
    LogSignal("tls-handshake", "TlsHandshakeFailed", "tls handshake failed",
              "the inner TLS handshake failed (certificate or CA registration problem)"),
)  # fmt: skip


def metric_namespace() -> str:
    # One namespace per stack, so two stacks in one account never mix their counts.
    return f"Stockade/{pulumi.get_stack()}/TunnelGateway"


def filter_pattern(phrase: str) -> str:
    return f'"{phrase}"'


@dataclass(frozen=True)
class AccountScope:
    """Who may publish: CloudWatch alarms of this account and region only."""

    account_id: str
    partition: str
    region: str

    @property
    def alarm_arns(self) -> str:
        return f"arn:{self.partition}:cloudwatch:{self.region}:{self.account_id}:alarm:*"

    def condition(self) -> dict[str, dict[str, str]]:
        return {
            "StringEquals": {"aws:SourceAccount": self.account_id},
            "ArnLike": {"aws:SourceArn": self.alarm_arns},
        }


def _key_policy(account: AccountScope) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministersThroughIam",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{account.partition}:iam::{account.account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "CloudWatchAlarmsOfThisAccountPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                    "Resource": "*",
                    "Condition": account.condition(),
                },
            ],
        },
        sort_keys=True,
    )


def _topic_policy(topic_arn: str, account: AccountScope) -> str:
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
                    "Condition": account.condition(),
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
    account: AccountScope,
    alarms: TunnelAlarmSettings,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> aws.sns.Topic:
    child = pulumi.ResourceOptions(parent=parent)
    key = aws.kms.Key(
        f"{name}-key",
        description=f"Stockade {pulumi.get_stack()}: tunnel gateway alarm topic",
        enable_key_rotation=True,
        rotation_period_in_days=365,
        deletion_window_in_days=30,
        policy=_key_policy(account),
        tags=dict(tags),
        opts=child,
    )
    topic = aws.sns.Topic(
        f"{name}-topic",
        name=f"stockade-{pulumi.get_stack()}-tunnel-alarms",
        kms_master_key_id=key.arn,
        tags=dict(tags),
        opts=child,
    )
    aws.sns.TopicPolicy(
        f"{name}-topic-policy",
        arn=topic.arn,
        policy=topic.arn.apply(lambda arn: _topic_policy(arn, account)),
        opts=pulumi.ResourceOptions(parent=topic),
    )
    for index, subscription in enumerate(alarms.subscriptions, start=1):
        aws.sns.TopicSubscription(
            f"{name}-subscription-{index}",
            topic=topic.arn,
            protocol=subscription.protocol.value,
            endpoint=subscription.endpoint,
            opts=pulumi.ResourceOptions(parent=topic),
        )
    return topic


@dataclass(frozen=True)
class Monitoring:
    topic_arn: pulumi.Output[str] | None
    alarm_names: list[pulumi.Output[str]]


def gateway_monitoring(
    name: str,
    *,
    log_group_name: pulumi.Input[str],
    cluster_name: pulumi.Input[str],
    service_name: pulumi.Input[str],
    alarms: TunnelAlarmSettings,
    account: AccountScope,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> Monitoring:
    child = pulumi.ResourceOptions(parent=parent)
    namespace = metric_namespace()
    for signal in LOG_SIGNALS:
        aws.cloudwatch.LogMetricFilter(
            f"{name}-{signal.key}",
            log_group_name=log_group_name,
            pattern=filter_pattern(signal.phrase),
            metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                name=signal.metric, namespace=namespace, value="1", default_value="0"
            ),
            opts=child,
        )
    if not alarms.enabled:
        return Monitoring(topic_arn=None, alarm_names=[])
    topic = alarm_topic(f"{name}-alarms", account=account, alarms=alarms, tags=tags, parent=parent)
    actions = [topic.arn]
    no_tasks = aws.cloudwatch.MetricAlarm(
        f"{name}-no-running-tasks",
        name=f"stockade-{pulumi.get_stack()}-tunnel-no-running-tasks",
        alarm_description=(
            "No tunnel gateway task is running: MCP servers behind the tunnel are unreachable. "
            "See docs/tunnel-gateway.md (Health)."
        ),
        namespace="ECS/ContainerInsights",
        metric_name="RunningTaskCount",
        dimensions={"ClusterName": cluster_name, "ServiceName": service_name},
        statistic="Minimum",
        period=60,
        evaluation_periods=3,
        datapoints_to_alarm=3,
        threshold=1,
        comparison_operator="LessThanThreshold",
        # No data at all means no tasks (or no Container Insights): both deserve a page.
        treat_missing_data="breaching",
        alarm_actions=actions,
        ok_actions=actions,
        tags=dict(tags),
        opts=child,
    )
    probe = aws.cloudwatch.MetricAlarm(
        f"{name}-ip-validation-failed",
        name=f"stockade-{pulumi.get_stack()}-tunnel-ip-validation-failed",
        alarm_description=(
            f"The proxy refused {alarms.ip_validation_failures}+ upstream addresses per "
            f"{alarms.period_minutes} min for {alarms.sustained_periods} periods: a possible SSRF probe "
            "through the tunnel. See docs/runbooks/tunnel-compromise.md."
        ),
        namespace=namespace,
        metric_name="IpValidationFailed",
        statistic="Sum",
        period=alarms.period_minutes * 60,
        evaluation_periods=alarms.sustained_periods,
        datapoints_to_alarm=alarms.sustained_periods,
        threshold=alarms.ip_validation_failures,
        comparison_operator="GreaterThanOrEqualToThreshold",
        treat_missing_data="notBreaching",
        alarm_actions=actions,
        ok_actions=actions,
        tags=dict(tags),
        opts=child,
    )
    return Monitoring(topic_arn=topic.arn, alarm_names=[no_tasks.name, probe.name])
