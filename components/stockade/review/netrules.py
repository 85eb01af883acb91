"""Security-group and network-ACL rules as comparable permissions.

Every way AWS expresses a rule (inline `ingress`/`egress` blocks, SecurityGroupRule,
the vpc Ingress/Egress rule resources, NACL rules) becomes a set of atomic
`Permission`s: protocol, port range and one peer. A change opens a path when a
new permission is not covered by any old one, so narrowing a rule or splitting
it in two is not reported, while a wider CIDR or port range is.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from stockade.review.text import string_list

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
NACL_RULE = "aws:ec2/networkAclRule:NetworkAclRule"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"

ANYWHERE = frozenset({"0.0.0.0/0", "::/0"})
_PROTOCOL_NAMES = {"-1": "all", "all": "all", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}


@dataclass(frozen=True)
class Permission:
    protocol: str
    low: int
    high: int
    peer: str

    def covers(self, other: Permission) -> bool:
        if self.protocol != "all" and self.protocol != other.protocol:
            return False
        if not (self.low <= other.low and other.high <= self.high):
            return False
        return _peer_covers(self.peer, other.peer)

    def describe(self, preposition: str) -> str:
        if self.protocol == "all":
            what = "all traffic"
        elif self.low == 0 and self.high == 65535:
            what = f"{self.protocol} all ports"
        elif self.low == self.high:
            what = f"{self.protocol} {self.low}"
        else:
            what = f"{self.protocol} {self.low}-{self.high}"
        anywhere = " (anywhere)" if self.peer in ANYWHERE else ""
        return f"{what} {preposition} {self.peer}{anywhere}"


def _peer_covers(outer: str, inner: str) -> bool:
    if outer == inner:
        return True
    try:
        outer_net = ipaddress.ip_network(outer, strict=False)
        inner_net = ipaddress.ip_network(inner, strict=False)
    except ValueError:
        return False
    if outer_net.version != inner_net.version:
        return False
    return inner_net.subnet_of(outer_net)  # type: ignore[arg-type]


def _protocol(value: Any) -> str:
    text = str(value if value is not None else "all").strip().lower()
    return _PROTOCOL_NAMES.get(text, text)


def _ports(protocol: str, low: Any, high: Any) -> tuple[int, int]:
    if protocol == "all":
        return 0, 65535
    try:
        lo = int(low) if low is not None else 0
        hi = int(high) if high is not None else 65535
    except (TypeError, ValueError):
        return 0, 65535
    if lo < 0 or hi < 0:
        return 0, 65535
    return lo, hi


def _permissions(protocol_value: Any, low: Any, high: Any, peers: Iterable[str]) -> list[Permission]:
    protocol = _protocol(protocol_value)
    lo, hi = _ports(protocol, low, high)
    return [Permission(protocol, lo, hi, peer) for peer in peers]


def _block_peers(block: Mapping[str, Any], sg_key: str) -> list[str]:
    peers = string_list(block.get("cidrBlocks")) + string_list(block.get("ipv6CidrBlocks"))
    peers += [f"security group {g}" for g in string_list(block.get(sg_key))]
    peers += [f"prefix list {p}" for p in string_list(block.get("prefixListIds"))]
    if block.get("self") is True:
        peers.append("the group itself")
    return peers


def permissions(type_token: str, inputs: Mapping[str, Any] | None, direction: str) -> list[Permission]:
    """The permissions a resource grants in `direction` ("ingress" or "egress")."""
    if not inputs:
        return []
    if type_token in (SECURITY_GROUP, DEFAULT_SECURITY_GROUP):
        found: list[Permission] = []
        for block in inputs.get(direction) or []:
            if isinstance(block, Mapping):
                peers = _block_peers(block, "securityGroups")
                found += _permissions(
                    block.get("protocol"), block.get("fromPort"), block.get("toPort"), peers
                )
        return found
    if type_token == SECURITY_GROUP_RULE:
        if inputs.get("type") != direction:
            return []
        peers = _block_peers(inputs, "sourceSecurityGroupId")
        return _permissions(inputs.get("protocol"), inputs.get("fromPort"), inputs.get("toPort"), peers)
    if (type_token == INGRESS_RULE and direction == "ingress") or (
        type_token == EGRESS_RULE and direction == "egress"
    ):
        peers = string_list(inputs.get("cidrIpv4")) + string_list(inputs.get("cidrIpv6"))
        peers += [f"security group {g}" for g in string_list(inputs.get("referencedSecurityGroupId"))]
        peers += [f"prefix list {p}" for p in string_list(inputs.get("prefixListId"))]
        return _permissions(inputs.get("ipProtocol"), inputs.get("fromPort"), inputs.get("toPort"), peers)
    if type_token == NACL_RULE:
        is_egress = inputs.get("egress") is True
        if is_egress != (direction == "egress") or str(inputs.get("ruleAction", "")).lower() != "allow":
            return []
        peers = string_list(inputs.get("cidrBlock")) + string_list(inputs.get("ipv6CidrBlock"))
        return _permissions(inputs.get("protocol"), inputs.get("fromPort"), inputs.get("toPort"), peers)
    return []


def uncovered(new: Iterable[Permission], old: Iterable[Permission]) -> list[Permission]:
    """New permissions that no old permission already allowed, in a stable order."""
    old_list = list(old)
    fresh = {p for p in new if not any(o.covers(p) for o in old_list)}
    return sorted(fresh, key=lambda p: (p.protocol, p.low, p.high, p.peer))
