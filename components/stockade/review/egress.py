"""Where a resource lets traffic go: the egress destinations each perimeter resource allows.

Each resource type that can open a way out is read into a set of `Destination`s
(a domain on an allowlist, a CIDR and port a firewall passes, a route target, a
VPC endpoint's service, a domain an egress proxy admits). Comparing the sets of
the two sides gives what a change newly allows (risky, named one by one) and
what it stops allowing (reported as narrowing). Security-group and NACL rules
are `netrules`' business; endpoint policies are compared as IAM documents.

A DNS Firewall domain list does not say whether a rule allows or blocks it; a
list holding `*` is taken as the block-everything-else list (Stockade's layout),
every other list as an allowlist. A blocklist mistaken for an allowlist errs on
the loud side: adding to it is reported as widening.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from stockade.review.text import code, string_list

DOMAIN_LIST = "aws:route53/resolverFirewallDomainList:ResolverFirewallDomainList"
RULE_GROUP = "aws:networkfirewall/ruleGroup:RuleGroup"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
PREFIX_LIST = "aws:ec2/managedPrefixList:ManagedPrefixList"
PREFIX_LIST_ENTRY = "aws:ec2/managedPrefixListEntry:ManagedPrefixListEntry"
DOCKER_CONTAINER = "docker:index/container:Container"

ROUTE_TARGETS = (
    "gatewayId",
    "natGatewayId",
    "vpcEndpointId",
    "transitGatewayId",
    "networkInterfaceId",
    "vpcPeeringConnectionId",
    "egressOnlyGatewayId",
    "carrierGatewayId",
    "localGatewayId",
    "coreNetworkArn",
)
ROUTE_DESTINATIONS = (
    "destinationCidrBlock",
    "destinationIpv6CidrBlock",
    "destinationPrefixListId",
    "cidrBlock",
    "ipv6CidrBlock",
)
# Squid ACL lines the egress proxy renders: `acl NAME dstdomain [-n] a b c` and `acl NAME dst CIDR...`.
_SQUID_ACL = re.compile(r"^\s*acl\s+\S+\s+(dstdomain|dst)\s+(.*)$", re.MULTILINE)


@dataclass(frozen=True, order=True)
class Destination:
    """One way out: `what` is the kind of allowance, `target` where it leads (plain text)."""

    what: str
    target: str

    def describe(self) -> str:
        return f"{self.what} {code(self.target)}"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _domain_list(inputs: Mapping[str, Any]) -> Iterator[Destination]:
    domains = string_list(inputs.get("domains"))
    if "*" in domains:
        return
    for domain in domains:
        yield Destination("DNS allowlist admits", domain)


def _rule_group(inputs: Mapping[str, Any]) -> Iterator[Destination]:
    source = _mapping(_mapping(inputs.get("ruleGroup")).get("rulesSource"))
    listing = _mapping(source.get("rulesSourceList"))
    if listing and str(listing.get("generatedRulesType", "")).upper() == "ALLOWLIST":
        kinds = "/".join(string_list(listing.get("targetTypes"))) or "domain"
        for target in string_list(listing.get("targets")):
            yield Destination(f"Network Firewall passes {kinds}", target)
    for rule in source.get("statefulRules") or ():
        rule = _mapping(rule)
        if str(rule.get("action", "")).upper() != "PASS":
            continue
        header = _mapping(rule.get("header"))
        protocol = str(header.get("protocol", "IP")).upper()
        port = str(header.get("destinationPort", "ANY"))
        target = str(header.get("destination", "ANY"))
        yield Destination("Network Firewall passes", f"{protocol} to {target} port {port}")
    rules_string = inputs.get("rules") or source.get("rulesString")
    if isinstance(rules_string, str):
        for line in rules_string.splitlines():
            if line.strip().lower().startswith("pass "):
                yield Destination("Network Firewall passes", line.strip())


def _route(block: Mapping[str, Any]) -> Iterator[Destination]:
    destination = next((str(block[k]) for k in ROUTE_DESTINATIONS if block.get(k)), None)
    target = next((f"{k} {block[k]}" for k in ROUTE_TARGETS if block.get(k)), None)
    if destination and target:
        yield Destination("route", f"{destination} via {target}")


def _squid(content: str) -> Iterator[Destination]:
    for kind, rest in _SQUID_ACL.findall(content):
        for item in rest.split():
            if not item.startswith("-"):
                what = "egress proxy admits domain" if kind == "dstdomain" else "egress proxy admits address"
                yield Destination(what, item)


def destinations(type_token: str, inputs: Mapping[str, Any] | None) -> frozenset[Destination]:
    """Every egress destination a resource with these inputs allows (empty for other types)."""
    if not inputs:
        return frozenset()
    found: Iterable[Destination] = ()
    if type_token == DOMAIN_LIST:
        found = _domain_list(inputs)
    elif type_token == RULE_GROUP:
        found = _rule_group(inputs)
    elif type_token == ROUTE:
        found = _route(inputs)
    elif type_token == ROUTE_TABLE:
        found = (d for block in inputs.get("routes") or () for d in _route(_mapping(block)))
    elif type_token == VPC_ENDPOINT:
        service = inputs.get("serviceName")
        found = [Destination("VPC endpoint to", str(service))] if service else []
    elif type_token == PREFIX_LIST:
        found = [
            Destination("prefix list admits", str(entry["cidr"]))
            for entry in inputs.get("entries") or ()
            if isinstance(entry, Mapping) and entry.get("cidr")
        ]
    elif type_token == PREFIX_LIST_ENTRY and inputs.get("cidr"):
        found = [Destination("prefix list admits", str(inputs["cidr"]))]
    elif type_token == DOCKER_CONTAINER:
        found = (
            d
            for upload in inputs.get("uploads") or ()
            if isinstance(upload, Mapping) and isinstance(upload.get("content"), str)
            for d in _squid(upload["content"])
        )
    return frozenset(found)


def compare(
    type_token: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> tuple[list[Destination], list[Destination]]:
    """(newly allowed, no longer allowed), each sorted; a removed resource allows nothing any more."""
    old, new = destinations(type_token, before), destinations(type_token, after)
    return sorted(new - old), sorted(old - new)
