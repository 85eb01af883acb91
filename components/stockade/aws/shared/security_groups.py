"""Security groups with no ingress at all and egress only to what is listed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class EgressRule:
    """One allowed destination. `key` names the rule resource, so reordering never replaces it."""

    key: str
    description: str
    protocol: str  # "tcp", "udp" or "-1"
    from_port: int
    to_port: int
    cidr_ipv4: str | None = None
    prefix_list_id: pulumi.Input[str] | None = None
    destination_security_group_id: pulumi.Input[str] | None = None

    def __post_init__(self) -> None:
        targets = [self.cidr_ipv4, self.prefix_list_id, self.destination_security_group_id]
        if sum(t is not None for t in targets) != 1:
            raise ValueError(f"egress rule {self.key!r} needs exactly one destination")
        if self.cidr_ipv4 == "0.0.0.0/0" and self.protocol == "-1":
            raise ValueError(f"egress rule {self.key!r} would allow everything everywhere")


def egress_only_security_group(
    name: str,
    *,
    vpc_id: pulumi.Input[str],
    description: str,
    rules: Sequence[EgressRule],
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> aws.ec2.SecurityGroup:
    """A security group with zero ingress rules; egress exactly `rules`.

    Rules are separate resources (not inline blocks) so that adding one is a
    create in the diff rather than an in-place rewrite of the whole group, and the
    provider removes AWS's default allow-all egress rule on creation.
    """
    keys = [r.key for r in rules]
    if len(keys) != len(set(keys)):
        raise ValueError(f"security group {name}: duplicate egress rule keys {sorted(keys)}")
    group = aws.ec2.SecurityGroup(
        name,
        vpc_id=vpc_id,
        description=description,
        revoke_rules_on_delete=True,
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    for rule in rules:
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-egress-{rule.key}",
            security_group_id=group.id,
            description=rule.description,
            ip_protocol=rule.protocol,
            from_port=None if rule.protocol == "-1" else rule.from_port,
            to_port=None if rule.protocol == "-1" else rule.to_port,
            cidr_ipv4=rule.cidr_ipv4,
            prefix_list_id=rule.prefix_list_id,
            referenced_security_group_id=rule.destination_security_group_id,
            tags=dict(tags),
            opts=pulumi.ResourceOptions(parent=group),
        )
    return group


def aws_service_egress(
    endpoints_security_group_id: pulumi.Input[str] | None,
    s3_prefix_list_id: pulumi.Input[str] | None,
) -> list[EgressRule]:
    """Egress a workload needs to reach AWS APIs through the VPC's endpoints.

    Interface endpoints (ECR, Secrets Manager, KMS, Logs, ...) answer on 443 behind
    their own security group; ECR image layers come from S3 through the gateway
    endpoint's prefix list. Without endpoints the list is empty and AWS traffic
    takes the internet egress path instead.
    """
    rules: list[EgressRule] = []
    if endpoints_security_group_id is not None:
        rules.append(
            EgressRule(
                key="aws-endpoints",
                description="HTTPS to the VPC interface endpoints (AWS APIs)",
                protocol="tcp",
                from_port=443,
                to_port=443,
                destination_security_group_id=endpoints_security_group_id,
            )
        )
    if s3_prefix_list_id is not None:
        rules.append(
            EgressRule(
                key="s3-gateway",
                description="HTTPS to S3 through the gateway endpoint (ECR layers, artifacts)",
                protocol="tcp",
                from_port=443,
                to_port=443,
                prefix_list_id=s3_prefix_list_id,
            )
        )
    return rules


def internet_https(description: str, internet_prefix_list_id: pulumi.Input[str] | None) -> EgressRule:
    """HTTPS out through the network's egress path (NAT, and its domain filter where one runs).

    With the network's prefix list of public IPv4 space the rule reaches public addresses
    only, so private ranges stay closed; without one it targets 0.0.0.0/0 and leaves the
    choice of destination to the network's firewall.
    """
    return EgressRule(
        key="internet-https",
        description=description[:255],
        protocol="tcp",
        from_port=443,
        to_port=443,
        cidr_ipv4=None if internet_prefix_list_id is not None else "0.0.0.0/0",
        prefix_list_id=internet_prefix_list_id,
    )
