"""Health for a gateway that has no health endpoint (docs/vendor-interface.md §2.7 and unknown 7).

Built from what exists: the log lines the vendor documents become metrics, and
ECS's own task count (Container Insights) tells whether anything runs at all.

Alarms go to the stack's alarm topic (aws/shared/alarm_topic.py); a gateway used on its
own makes a topic of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from stockade.aws.shared.alarms import AlarmSpec, metric_alarms, no_running_tasks
from stockade.aws.shared.naming import Naming
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


def metric_namespace(naming: Naming) -> str:
    # One namespace per gateway, so two stacks (or two gateways) in one account never mix counts.
    return f"Stockade/{naming.scope}/TunnelGateway"


def filter_pattern(phrase: str) -> str:
    return f'"{phrase}"'


@dataclass(frozen=True)
class Monitoring:
    """The gateway's alarm topic (when alarms are on) and the names of its alarms."""

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
    naming: Naming,
    expect_running: bool = True,
) -> Monitoring:
    """Metric filters always; the alarms only with a topic to notify (None: alarms are off)."""
    child = pulumi.ResourceOptions(parent=parent)
    namespace = metric_namespace(naming)
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
    specs = [
        AlarmSpec(
            key="ip-validation-failed",
            alarm_name=naming.name("tunnel-ip-validation-failed"),
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
    if expect_running:
        # Not while the gateway waits at zero tasks for the setup task to give the tunnel its domain.
        specs.insert(
            0,
            no_running_tasks(
                "no-running-tasks",
                alarm_name=naming.name("tunnel-no-running-tasks"),
                description=(
                    "No tunnel gateway task is running: MCP servers behind the tunnel are unreachable. "
                    "See docs/tunnel-gateway.md (Health)."
                ),
                cluster_name=cluster_name,
                service_name=service_name,
            ),
        )
    made = metric_alarms(name, specs, topic_arn=topic_arn, tags=tags, parent=parent)
    return Monitoring(topic_arn=topic_arn, alarm_names=[alarm.name for alarm in made.values()])
