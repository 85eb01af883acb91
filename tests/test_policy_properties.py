"""Property tests for the CIDR judgements, against brute force over addresses."""

from __future__ import annotations

import ipaddress
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pulumi_policy import PolicyCustomTimeouts, PolicyResource, PolicyResourceOptions, StackValidationArgs
from pulumi_policy.proxy import unknown_checking_proxy

from stockade.guardrails.facts import PolicyFacts
from stockade.guardrails.rules.network import check_egress_declared
from stockade.guardrails.rules.permissions import internet_wide
from stockade.guardrails.rules.tunnel import widening

# A small address space so random networks overlap often and brute force stays cheap.
SPACE = ipaddress.IPv4Network("10.9.0.0/22")


@st.composite
def small_networks(draw: Any) -> ipaddress.IPv4Network:
    prefix = draw(st.integers(min_value=23, max_value=32))
    # Offsets on a coarse grid make sibling blocks (a /24 split into two /25 routes) likely.
    offset = draw(st.integers(min_value=0, max_value=15)) * 64
    return ipaddress.IPv4Network(f"{SPACE.network_address + offset}/{prefix}", strict=False)


def _covered(network: ipaddress.IPv4Network, routes: list[ipaddress.IPv4Network]) -> bool:
    return all(any(address in r for r in routes) for address in network)


@settings(max_examples=200, deadline=None)
@given(routes=st.lists(small_networks(), min_size=1, max_size=5), candidate=small_networks())
def test_allowed_ips_are_judged_by_the_addresses_they_admit(
    routes: list[ipaddress.IPv4Network], candidate: ipaddress.IPv4Network
) -> None:
    facts = PolicyFacts(tunnel_route_cidrs=[str(r) for r in routes])
    undeclared, declared = widening([str(candidate)], facts)
    assert declared == []
    assert (undeclared == []) == _covered(candidate, routes)


@settings(max_examples=100, deadline=None)
@given(routes=st.lists(small_networks(), min_size=1, max_size=3), candidate=small_networks())
def test_a_declared_network_moves_a_widening_to_allowed(
    routes: list[ipaddress.IPv4Network], candidate: ipaddress.IPv4Network
) -> None:
    facts = PolicyFacts(
        tunnel_route_cidrs=[str(r) for r in routes], tunnel_declared_allowed_ips=[str(candidate)]
    )
    undeclared, declared = widening([str(candidate)], facts)
    assert undeclared == []
    assert (declared == []) == _covered(candidate, routes)


def test_routes_that_tile_a_network_cover_it() -> None:
    facts = PolicyFacts(tunnel_route_cidrs=["10.9.0.0/25", "10.9.0.128/25"])
    assert widening(["10.9.0.0/24"], facts) == ([], [])
    assert widening(["10.9.0.0/23"], facts) == (["10.9.0.0/23"], [])


ipv4_networks = st.builds(
    lambda address, prefix: ipaddress.IPv4Network(f"{ipaddress.IPv4Address(address)}/{prefix}", strict=False),
    st.integers(min_value=0, max_value=2**32 - 1),
    st.integers(min_value=0, max_value=32),
)


@given(ipv4_networks)
def test_internet_wide_means_more_than_a_slash_8_of_addresses(network: ipaddress.IPv4Network) -> None:
    assert internet_wide(str(network)) == (network.num_addresses > 2**24)


def _egress_stack(cidr: str, port: int) -> StackValidationArgs:
    options = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)
    group = PolicyResource(
        "aws:ec2/securityGroup:SecurityGroup",
        unknown_checking_proxy({"id": "sg-0123456789abcdef0"}),
        "urn:pulumi:s::p::aws:ec2/securityGroup:SecurityGroup::sg",
        "sg",
        options,
        None,
        None,
        [],
        {},
    )
    rule = PolicyResource(
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        unknown_checking_proxy(
            {
                "securityGroupId": "sg-0123456789abcdef0",
                "ipProtocol": "tcp",
                "fromPort": float(port),
                "toPort": float(port),
                "cidrIpv4": cidr,
            }
        ),
        "urn:pulumi:s::p::aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule::sg-out",
        "sg-out",
        options,
        None,
        group,
        [group],
        {"securityGroupId": [group]},
    )
    return StackValidationArgs([group, rule], {"openEgressAllowed": False})


@given(ipv4_networks, st.sampled_from([22, 443, 7844]))
def test_egress_fails_exactly_for_internet_wide_destinations(
    network: ipaddress.IPv4Network, port: int
) -> None:
    messages: list[str] = []
    check_egress_declared(_egress_stack(str(network), port), lambda m, u=None: messages.append(m))
    assert bool(messages) == internet_wide(str(network))
