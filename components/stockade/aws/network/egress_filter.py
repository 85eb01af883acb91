"""The two AWS mechanisms behind `network.egress.mode: filtered`.

* `dns_firewall`: Route 53 Resolver DNS Firewall on the VPC. Names outside the
  allowlist get NXDOMAIN; the resolver fails closed. Cheap, but a process that
  connects to an IP address never asks DNS.
* `network_firewall`: AWS Network Firewall between the private subnets and the
  NAT gateways. Strict rule order with `aws:drop_established` as the default: a
  TCP connection on 443 passes only if its TLS SNI is on the allowlist (or its
  destination is a listed flow), so an IP-literal connection is dropped.

docs/sandbox-fleet.md ("Egress") explains the choice, the limits (SNI is what
the client claims) and the cost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from stockade.netplan.egress_policy import FirewallFlow, network_firewall_domain

# Rule-group capacity cannot change after creation; size it for the largest allowlist
# settings accept (1000 domains plus the fleet's own names), so growing the list never
# forces a replacement.
DOMAIN_RULE_CAPACITY = 2500
FLOW_RULE_CAPACITY = 100
_DNS_ALLOW_PRIORITY = 100
_DNS_BLOCK_PRIORITY = 200
# DNS Firewall association priorities run 101-9899; customers' own rule groups may sit
# before or after this one.
_DNS_ASSOCIATION_PRIORITY = 1000


def dns_firewall(
    name: str,
    *,
    vpc_id: pulumi.Input[str],
    domains: Sequence[str],
    tags: Mapping[str, str],
    parent: pulumi.Resource,
    prefix: str,
) -> aws.route53.ResolverFirewallRuleGroup:
    """Resolve only `domains` (DNS Firewall spelling, `*.x` for subdomains); NXDOMAIN for the rest."""
    child = pulumi.ResourceOptions(parent=parent)
    allowed = aws.route53.ResolverFirewallDomainList(
        f"{name}-allowed",
        name=f"{prefix}-allowed",
        domains=list(domains),
        tags=dict(tags),
        opts=child,
    )
    everything = aws.route53.ResolverFirewallDomainList(
        f"{name}-everything", name=f"{prefix}-everything", domains=["*"], tags=dict(tags), opts=child
    )
    group = aws.route53.ResolverFirewallRuleGroup(
        f"{name}-rules", name=f"{prefix}-egress", tags=dict(tags), opts=child
    )
    in_group = pulumi.ResourceOptions(parent=group)

    def rule(
        key: str, rule_name: str, domain_list: aws.route53.ResolverFirewallDomainList, **how: Any
    ) -> None:
        aws.route53.ResolverFirewallRule(
            f"{name}-{key}",
            name=rule_name,
            firewall_rule_group_id=group.id,
            firewall_domain_list_id=domain_list.id,
            **how,
            opts=in_group,
        )

    # api.anthropic.com and CDN-fronted hosts answer through CNAME chains; the default
    # would demand every hop be listed too.
    rule(
        "allow",
        "allow-listed",
        allowed,
        priority=_DNS_ALLOW_PRIORITY,
        action="ALLOW",
        firewall_domain_redirection_action="TRUST_REDIRECTION_DOMAIN",
    )
    rule(
        "block",
        "block-everything-else",
        everything,
        priority=_DNS_BLOCK_PRIORITY,
        action="BLOCK",
        block_response="NXDOMAIN",
    )
    aws.route53.ResolverFirewallRuleGroupAssociation(
        f"{name}-association",
        name=f"{prefix}-egress",
        firewall_rule_group_id=group.id,
        vpc_id=vpc_id,
        priority=_DNS_ASSOCIATION_PRIORITY,
        mutation_protection="ENABLED",
        tags=dict(tags),
        opts=in_group,
    )
    # Fail closed: if DNS Firewall cannot answer, queries fail instead of going unfiltered.
    aws.route53.ResolverFirewallConfig(
        f"{name}-fail-closed", resource_id=vpc_id, firewall_fail_open="DISABLED", opts=child
    )
    return group


@dataclass(frozen=True)
class NetworkFirewall:
    """The egress firewall and its endpoints, for the routes that send traffic through it."""

    firewall: aws.networkfirewall.Firewall
    endpoint_ids: pulumi.Output[dict[str, str]]
    """Firewall subnet ID -> the firewall endpoint (a VPC endpoint ID) in it, for routes."""


def _flow_rule(flow: FirewallFlow, sid: int, home_net: str) -> dict[str, object]:
    return {
        "action": "PASS",
        "header": {
            "protocol": flow.protocol,
            "source": home_net,
            "source_port": "ANY",
            "direction": "FORWARD",
            "destination": flow.cidr,
            "destination_port": str(flow.port),
        },
        "rule_options": [{"keyword": "sid", "settings": [str(sid)]}],
    }


def network_firewall(
    name: str,
    *,
    vpc_id: pulumi.Input[str],
    vpc_cidr: str,
    subnet_ids: Sequence[pulumi.Input[str]],
    domains: Sequence[str],
    flows: Sequence[FirewallFlow],
    kms_key_arn: pulumi.Input[str],
    alert_log_group_name: pulumi.Input[str] | None,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
    prefix: str,
) -> NetworkFirewall:
    """A Network Firewall in `subnet_ids` (one per AZ) that passes only listed SNIs and flows."""
    child = pulumi.ResourceOptions(parent=parent)
    encryption = {"type": "CUSTOMER_KMS", "key_id": kms_key_arn}
    home_net = {"ip_sets": [{"key": "HOME_NET", "ip_set": {"definition": [vpc_cidr]}}]}

    def stateful_group(
        key: str, description: str, capacity: int, rules: Mapping[str, Any]
    ) -> pulumi.Output[str]:
        return aws.networkfirewall.RuleGroup(
            f"{name}-{key}",
            name=f"{prefix}-{key}",
            description=description,
            type="STATEFUL",
            capacity=capacity,
            rule_group={**rules, "stateful_rule_options": {"rule_order": "STRICT_ORDER"}},
            encryption_configuration=encryption,
            tags=dict(tags),
            opts=child,
        ).arn

    domain_group = stateful_group(
        "domains",
        "Pass TLS only to allowlisted server names",
        DOMAIN_RULE_CAPACITY,
        {
            "rule_variables": home_net,
            "rules_source": {
                "rules_source_list": {
                    "generated_rules_type": "ALLOWLIST",
                    # Workload security groups allow 443 only, so HTTP_HOST would never match.
                    "target_types": ["TLS_SNI"],
                    "targets": sorted({network_firewall_domain(d) for d in domains}),
                }
            },
        },
    )
    references: list[dict[str, pulumi.Input[object]]] = [{"priority": 10, "resource_arn": domain_group}]
    if flows:
        flow_group = stateful_group(
            "flows",
            "Pass listed destinations that are addresses, not names",
            FLOW_RULE_CAPACITY,
            {
                "rules_source": {
                    "stateful_rules": [
                        _flow_rule(flow, sid, vpc_cidr) for sid, flow in enumerate(flows, start=1)
                    ]
                }
            },
        )
        references.append({"priority": 20, "resource_arn": flow_group})
    policy = aws.networkfirewall.FirewallPolicy(
        f"{name}-policy",
        name=f"{prefix}-egress",
        firewall_policy={
            "stateless_default_actions": ["aws:forward_to_sfe"],
            "stateless_fragment_default_actions": ["aws:forward_to_sfe"],
            # Anything no pass rule matched is dropped once the flow is established, which
            # lets the TCP handshake through so the TLS ClientHello (and its SNI) can be read.
            "stateful_default_actions": ["aws:drop_established", "aws:alert_established"],
            "stateful_engine_options": {"rule_order": "STRICT_ORDER", "stream_exception_policy": "DROP"},
            "stateful_rule_group_references": references,
        },
        encryption_configuration=encryption,
        tags=dict(tags),
        opts=child,
    )
    firewall = aws.networkfirewall.Firewall(
        f"{name}-firewall",
        name=f"{prefix}",
        description="Stockade egress allowlist",
        vpc_id=vpc_id,
        firewall_policy_arn=policy.arn,
        subnet_mappings=[{"subnet_id": s} for s in subnet_ids],
        encryption_configuration=encryption,
        tags=dict(tags),
        opts=child,
    )
    if alert_log_group_name is not None:
        aws.networkfirewall.LoggingConfiguration(
            f"{name}-logging",
            firewall_arn=firewall.arn,
            logging_configuration={
                "log_destination_configs": [
                    {
                        "log_destination_type": "CloudWatchLogs",
                        "log_type": "ALERT",
                        "log_destination": {"logGroup": alert_log_group_name},
                    }
                ]
            },
            opts=pulumi.ResourceOptions(parent=firewall),
        )
    return NetworkFirewall(
        firewall=firewall, endpoint_ids=firewall.firewall_statuses.apply(_endpoints_by_subnet)
    )


def _endpoints_by_subnet(statuses: Sequence[object] | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for status in statuses or []:
        for state in _items(_get(status, "sync_states")):
            for attachment in _items(_get(state, "attachments")):
                found[str(_get(attachment, "subnet_id"))] = str(_get(attachment, "endpoint_id"))
    return found


def _items(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else []


def _get(value: object, key: str) -> object:
    # Provider outputs arrive as typed output objects; some SDK paths hand back plain dicts.
    if isinstance(value, dict):
        return value.get(key)
    return getattr(value, key, None)
