"""Health for a gateway that has no health endpoint (docs/vendor-interface.md §2.7 and unknown 7).

Built from what exists: the log lines the vendor documents become metrics, and
ECS's own task count (Container Insights) tells whether anything runs at all.

Alarms go to the stack's alarm topic (aws/alarm_topic.py); a gateway used on its
own makes a topic of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from stockade.aws.shared.alarms import AlarmSpec, metric_alarms, no_running_tasks
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
    topic_arn: pulumi.Output[str] | None,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> Monitoring:
    """Metric filters always; the alarms only with a topic to notify (None: alarms are off)."""
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
    if topic_arn is None:
        return Monitoring(topic_arn=None, alarm_names=[])
    stack = pulumi.get_stack()
    specs = [
        no_running_tasks(
            "no-running-tasks",
            alarm_name=f"stockade-{stack}-tunnel-no-running-tasks",
            description=(
                "No tunnel gateway task is running: MCP servers behind the tunnel are unreachable. "
                "See docs/tunnel-gateway.md (Health)."
            ),
            cluster_name=cluster_name,
            service_name=service_name,
        ),
        AlarmSpec(
            key="ip-validation-failed",
            alarm_name=f"stockade-{stack}-tunnel-ip-validation-failed",
            description=(
                f"The proxy refused {alarms.ip_validation_failures}+ upstream addresses per "
                f"{alarms.period_minutes} min for {alarms.sustained_periods} periods: a possible SSRF probe "
                "through the tunnel. See docs/runbooks/tunnel-compromise.md."
            ),
            namespace=namespace,
            metric="IpValidationFailed",
            statistic="Sum",
            period_seconds=alarms.period_minutes * 60,
            periods=alarms.sustained_periods,
            threshold=alarms.ip_validation_failures,
            comparison="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
        ),
    ]
    made = metric_alarms(name, specs, topic_arn=topic_arn, tags=tags, parent=parent)
    return Monitoring(topic_arn=topic_arn, alarm_names=[alarm.name for alarm in made.values()])
