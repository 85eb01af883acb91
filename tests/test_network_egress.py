"""The pure egress rules: the public-internet complement, the subnet layout, endpoint policies."""

from __future__ import annotations

import ipaddress
import itertools
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockade.aws.network.endpoint_policies import (
    ENDPOINT_ACTIONS,
    interface_endpoint_policy,
    s3_gateway_policy,
)
from stockade.aws.shared.iam import WildcardPolicyError, check_statements
from stockade.netplan.egress_policy import (
    PRIVATE_RANGES,
    aws_service_domains,
    dedupe,
    network_firewall_domain,
    public_internet_cidrs,
    registry_domains,
)
from stockade.netplan.subnet_layout import RESERVED_PER_SUBNET, LayoutError, max_zones, subnet_layout

PUBLIC = [ipaddress.IPv4Network(c) for c in public_internet_cidrs()]
PRIVATE = [ipaddress.IPv4Network(c) for c in PRIVATE_RANGES]


def test_public_internet_list_and_private_ranges_partition_the_address_space() -> None:
    everything = sorted([*PUBLIC, *PRIVATE])
    assert sum(n.num_addresses for n in everything) == 2**32
    for first, second in itertools.pairwise(everything):
        assert not first.overlaps(second), (first, second)
    # Small enough that one security-group rule referencing it leaves room under the 60-rule quota.
    assert len(PUBLIC) <= 40


@given(st.integers(0, 2**32 - 1))
def test_an_address_is_public_exactly_when_it_is_outside_the_private_ranges(value: int) -> None:
    address = ipaddress.IPv4Address(value)
    in_public = any(address in n for n in PUBLIC)
    in_private = any(address in n for n in PRIVATE)
    assert in_public != in_private


@pytest.mark.parametrize(
    "address", ["10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.254", "192.168.1.1", "100.64.0.1"]
)
def test_transit_gateway_style_destinations_are_not_public(address: str) -> None:
    assert not any(ipaddress.IPv4Address(address) in n for n in PUBLIC)


@pytest.mark.parametrize("address", ["1.1.1.1", "8.8.8.8", "198.41.192.10", "160.79.104.10", "172.32.0.1"])
def test_internet_destinations_are_public(address: str) -> None:
    assert any(ipaddress.IPv4Address(address) in n for n in PUBLIC)


def test_aws_names_cover_ecr_s3_and_each_endpoint_service() -> None:
    names = aws_service_domains("eu-west-1", ["ecr.api", "ecr.dkr", "logs", "monitoring"])
    assert names == [
        "api.ecr.eu-west-1.amazonaws.com",
        "*.dkr.ecr.eu-west-1.amazonaws.com",
        "logs.eu-west-1.amazonaws.com",
        "monitoring.eu-west-1.amazonaws.com",
        "s3.eu-west-1.amazonaws.com",
        "*.s3.eu-west-1.amazonaws.com",
    ]


def test_dedupe_drops_names_a_wildcard_covers_but_keeps_the_wildcard() -> None:
    assert dedupe(["b.example.com", "*.example.com", "a.other.org", "a.other.org"]) == [
        "*.example.com",
        "a.other.org",
    ]


def test_network_firewall_spelling_uses_the_leading_dot() -> None:
    assert network_firewall_domain("*.argotunnel.com") == ".argotunnel.com"
    assert network_firewall_domain("api.anthropic.com") == "api.anthropic.com"


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("ghcr.io/acme/session:1", ["ghcr.io"]),
        ("registry.example.com:5000/a/b@sha256:" + "0" * 64, ["registry.example.com"]),
        (
            "cloudflare/cloudflared@sha256:" + "1" * 64,
            ["auth.docker.io", "production.cloudflare.docker.com", "registry-1.docker.io"],
        ),
        ("ubuntu:24.04", ["auth.docker.io", "production.cloudflare.docker.com", "registry-1.docker.io"]),
    ],
)
def test_registry_domains(image: str, expected: list[str]) -> None:
    assert registry_domains(image) == expected


# --------------------------------------------------------------------------- layout


@given(st.integers(16, 24), st.integers(1, 6))
def test_layout_subnets_are_disjoint_inside_the_vpc_and_stable_when_zones_are_added(
    prefix: int, zones: int
) -> None:
    vpc = ipaddress.IPv4Network(f"10.0.0.0/{prefix}")
    if zones > max_zones(vpc):
        with pytest.raises(LayoutError, match=f"/{prefix} VPC holds at most"):
            subnet_layout(vpc, zones)
        return
    layout = subnet_layout(vpc, zones)
    subnets = [s for z in layout for s in (z.private, z.public, z.firewall)]
    assert all(s.subnet_of(vpc) and s.prefixlen <= 28 for s in subnets)
    for i, first in enumerate(subnets):
        for second in subnets[i + 1 :]:
            assert not first.overlaps(second)
    # Adding an AZ appends; it never renumbers an existing subnet (which would replace it).
    assert subnet_layout(vpc, zones)[: zones - 1] == subnet_layout(vpc, max(zones - 1, 1))[: zones - 1]


def test_layout_of_the_default_cidr() -> None:
    zone = subnet_layout(ipaddress.IPv4Network("10.40.0.0/16"), 3)[2]
    assert str(zone.private) == "10.40.64.0/19"
    assert str(zone.public) == "10.40.224.64/28"
    assert str(zone.firewall) == "10.40.224.80/28"
    assert zone.private_capacity == 8192 - RESERVED_PER_SUBNET


# --------------------------------------------------------------------------- endpoint policies


@pytest.mark.parametrize("service", sorted(ENDPOINT_ACTIONS))
def test_interface_endpoint_policies_name_actions_and_bind_the_account(service: str) -> None:
    document = interface_endpoint_policy(service, "123456789012")
    (statement,) = document["Statement"]
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalAccount": "123456789012"}}
    assert statement["Action"] and all(":" in a and not a.endswith("*") for a in statement["Action"])
    check_statements(document["Statement"])


def test_an_endpoint_without_a_policy_entry_is_refused() -> None:
    with pytest.raises(KeyError, match="add its actions"):
        interface_endpoint_policy("dynamodb", "123456789012")


def test_s3_gateway_allows_ecr_layers_and_only_this_accounts_buckets() -> None:
    statements = s3_gateway_policy("123456789012", "aws", "us-east-1")["Statement"]
    layers, own = statements
    assert layers["Resource"] == ["arn:aws:s3:::prod-us-east-1-starport-layer-bucket/*"]
    assert own["Condition"]["StringEquals"]["aws:ResourceAccount"] == "123456789012"
    assert "s3:*" not in own["Action"]


def test_the_wildcard_check_used_by_endpoint_policies_refuses_a_star() -> None:
    with pytest.raises(WildcardPolicyError):
        check_statements([{"Effect": "Allow", "Action": "*", "Resource": "*"}])


@pytest.mark.parametrize("action", ["*", "s3:*", "s3:Get*", "iam:Pass*", "kms:*Key", "ecs:Run?ask"])
def test_any_wildcard_action_on_every_resource_is_refused(action: str) -> None:
    with pytest.raises(WildcardPolicyError, match=re.escape(repr(action))):
        check_statements(
            [{"Sid": "Wide", "Effect": "Allow", "Action": ["s3:GetObject", action], "Resource": "*"}]
        )


def test_wildcard_actions_on_named_resources_and_exact_actions_on_every_resource_pass() -> None:
    check_statements(
        [
            {"Effect": "Allow", "Action": ["s3:Get*"], "Resource": ["arn:aws:s3:::bucket/*"]},
            {"Effect": "Allow", "Action": ["ecs:ListTasks"], "Resource": "*"},
            {"Effect": "Deny", "Action": "*", "Resource": "*"},  # a Deny narrows, never widens
        ]
    )
    with pytest.raises(WildcardPolicyError):
        check_statements([{"Effect": "Allow", "Action": "*", "Resource": ["arn:aws:s3:::bucket/*"]}])
