"""Security-group permissions from all three ways pulumi-aws can express them.

A group's rules may be inline (`ingress`/`egress` on the group), standalone
`vpc.SecurityGroupIngressRule`/`EgressRule` resources (what Stockade uses), or
legacy `ec2.SecurityGroupRule` resources. The rules must see all three, or a
component could open a port the checks never look at.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from stockade.guardrails.props import MISSING, UNKNOWN, as_int, get, is_set, items
from stockade.guardrails.rules import tokens
from stockade.guardrails.rules.graph import linked

if TYPE_CHECKING:
    from pulumi_policy import PolicyResource

Direction = Literal["ingress", "egress"]
IPV4_INTERNET_WIDE_PREFIX = 8
IPV6_INTERNET_WIDE_PREFIX = 16
_PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}


@dataclass(frozen=True)
class Permission:
    """One allowed flow: where it is declared, the group it applies to, and what it allows."""

    direction: Direction
    declared_by: PolicyResource
    group: PolicyResource | None
    protocol: str
    from_port: int | None
    to_port: int | None
    cidrs: tuple[str, ...]
    """CIDRs, including the entries of the stack's own prefix lists the permission references."""
    references: tuple[str, ...]
    """Security groups, prefix lists or `self` instead of CIDRs."""

    @property
    def all_traffic(self) -> bool:
        return self.protocol == "-1"

    @property
    def https_only(self) -> bool:
        return self.protocol == "tcp" and self.from_port == 443 and self.to_port == 443

    def describe(self) -> str:
        ports = "all ports" if self.all_traffic else _ports(self.from_port, self.to_port)
        proto = "all protocols" if self.all_traffic else self.protocol
        listed = [*self.cidrs, *self.references]
        # A prefix list can expand to dozens of ranges; name a few and count the rest.
        peers = ", ".join(listed[:4]) + (f" and {len(listed) - 4} more" if len(listed) > 4 else "")
        peers = peers or "nothing"
        word = "from" if self.direction == "ingress" else "to"
        return f"{proto} {ports} {word} {peers}"


def _ports(low: int | None, high: int | None) -> str:
    if low is None and high is None:
        return "any port"
    if low == high:
        return f"port {low}"
    return f"ports {low}-{high}"


def _protocol(value: Any) -> str:
    text = str(value).lower() if value not in (MISSING, UNKNOWN) else "-1"
    return _PROTOCOLS.get(text, text)


def internet_wide(cidr: str) -> bool:
    """A destination wide enough to mean "the internet": 0.0.0.0/0, ::/0, or nearly as wide."""
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return True  # unreadable: assume the worst
    limit = IPV4_INTERNET_WIDE_PREFIX if network.version == 4 else IPV6_INTERNET_WIDE_PREFIX
    return network.prefixlen < limit


def private_source(cidr: str) -> bool:
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False
    return network.is_private and network.prefixlen >= (8 if network.version == 4 else 7)


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in items(value) if v not in (MISSING, UNKNOWN) and str(v))


def _inline(group: PolicyResource, direction: Direction) -> Iterator[Permission]:
    for entry in items(get(group.props, direction)):
        if entry is UNKNOWN:
            continue
        refs = (
            *_strings(get(entry, "securityGroups")),
            *_strings(get(entry, "prefixListIds")),
            *(("self",) if get(entry, "self") is True else ()),
        )
        yield Permission(
            direction=direction,
            declared_by=group,
            group=group,
            protocol=_protocol(get(entry, "protocol")),
            from_port=as_int(get(entry, "fromPort")),
            to_port=as_int(get(entry, "toPort")),
            cidrs=(*_strings(get(entry, "cidrBlocks")), *_strings(get(entry, "ipv6CidrBlocks"))),
            references=refs,
        )


def _prefix_list_cidrs(resources: Sequence[PolicyResource]) -> dict[str, tuple[str, ...]]:
    """Prefix list URN -> its CIDRs (inline entries plus standalone entry resources)."""
    lists = [r for r in resources if r.resource_type == tokens.PREFIX_LIST]
    found: dict[str, list[str]] = {
        pl.urn: [str(get(e, "cidr")) for e in items(get(pl.props, "entries")) if is_set(get(e, "cidr"))]
        for pl in lists
    }
    for entry in (r for r in resources if r.resource_type == tokens.PREFIX_LIST_ENTRY):
        owner = linked(entry, "prefixListId", lists)
        cidr = get(entry.props, "cidr")
        if owner is not None and is_set(cidr):
            found[owner.urn].append(str(cidr))
    return {urn: tuple(cidrs) for urn, cidrs in found.items()}


def _standalone(
    rule: PolicyResource,
    direction: Direction,
    groups: Sequence[PolicyResource],
    prefix_lists: Sequence[PolicyResource],
    prefix_cidrs: dict[str, tuple[str, ...]],
) -> Permission:
    props = rule.props
    legacy = rule.resource_type == tokens.LEGACY_RULE
    list_prop = "prefixListIds" if legacy else "prefixListId"
    prefix_list = linked(rule, list_prop, prefix_lists) if is_set(get(props, list_prop)) else None
    expanded = prefix_cidrs.get(prefix_list.urn, ()) if prefix_list is not None else ()
    if legacy:
        cidrs = (*_strings(get(props, "cidrBlocks")), *_strings(get(props, "ipv6CidrBlocks")), *expanded)
        refs = (
            *_strings(get(props, "sourceSecurityGroupId")),
            *_strings(get(props, "prefixListIds")),
            *(("self",) if get(props, "self") is True else ()),
        )
        protocol = _protocol(get(props, "protocol"))
    else:
        cidrs = (*_strings(get(props, "cidrIpv4")), *_strings(get(props, "cidrIpv6")), *expanded)
        refs = (*_strings(get(props, "referencedSecurityGroupId")), *_strings(get(props, "prefixListId")))
        protocol = _protocol(get(props, "ipProtocol"))
    return Permission(
        direction=direction,
        declared_by=rule,
        group=linked(rule, "securityGroupId", groups),
        protocol=protocol,
        from_port=as_int(get(props, "fromPort")),
        to_port=as_int(get(props, "toPort")),
        cidrs=cidrs,
        references=refs,
    )


def permissions(resources: Sequence[PolicyResource], direction: Direction) -> list[Permission]:
    """Every `direction` permission in the stack, attributed to its group where it can be told."""
    groups = [r for r in resources if r.resource_type == tokens.SECURITY_GROUP]
    prefix_lists = [r for r in resources if r.resource_type == tokens.PREFIX_LIST]
    prefix_cidrs = _prefix_list_cidrs(resources)
    found: list[Permission] = []
    for group in groups:
        found.extend(_inline(group, direction))
    for resource in resources:
        kind = resource.resource_type
        standalone = kind == (tokens.INGRESS_RULE if direction == "ingress" else tokens.EGRESS_RULE)
        legacy = kind == tokens.LEGACY_RULE and str(get(resource.props, "type")) == direction
        if standalone or legacy:
            found.append(_standalone(resource, direction, groups, prefix_lists, prefix_cidrs))
    return found
