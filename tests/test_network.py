"""stockade:aws:Network: private subnets only, default-deny egress, endpoints, flow logs, BYO VPC."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from typing import Any

import pytest

from stockade.emulators import resource_id, stable_suffix
from stockade.engine import SynthResource, SynthResult
from stockade.netplan.egress_policy import public_internet_cidrs
from stockade.netplan.subnet_layout import subnet_layout

SUBNET = "aws:ec2/subnet:Subnet"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
FIREWALL = "aws:networkfirewall/firewall:Firewall"
RULE_GROUP = "aws:networkfirewall/ruleGroup:RuleGroup"
DNS_RULE = "aws:route53/resolverFirewallRule:ResolverFirewallRule"
DNS_LIST = "aws:route53/resolverFirewallDomainList:ResolverFirewallDomainList"
DNS_ASSOCIATION = "aws:route53/resolverFirewallRuleGroupAssociation:ResolverFirewallRuleGroupAssociation"
CREATED_BY_NEW_VPC_ONLY = (
    "aws:ec2/vpc:Vpc",
    SUBNET,
    ROUTE,
    ROUTE_TABLE,
    ASSOCIATION,
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/eip:Eip",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
)

Synth = Callable[..., SynthResult]


def named(result: SynthResult, type_token: str, name: str) -> SynthResource:
    (found,) = [r for r in result.by_type(type_token) if r.name == name]
    return found


def network_resources(result: SynthResult) -> list[SynthResource]:
    return [r for r in result.resources if "stockade:aws:Network" in r.urn.split("::")[2]]


def emulated_id(prefix: str, resource: SynthResource) -> str:
    """The ID the offline engine gives a resource (engine/emulators.py), to follow references."""
    return f"{prefix}-{stable_suffix(resource.name, length=17)}"


def byo_config(example_config: Callable[[str], dict[str, Any]], **network: Any) -> dict[str, Any]:
    config = example_config("dev")
    config["stockade:network"] = {
        "vpcId": "vpc-0123456789abcdef0",
        "cidr": "10.90.0.0/16",
        "privateSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"],
        "privateRouteTableIds": ["rtb-0aaaaaaaaaaaaaaa1", "rtb-0bbbbbbbbbbbbbbb2"],
        "egress": {"enforcement": "dns-firewall", "allowedDomains": ["pypi.org"]},
        **network,
    }
    return config


# --------------------------------------------------------------------------- new VPC


def test_new_vpc_has_private_public_and_firewall_subnets_per_az_none_mapping_public_ips(synth_stack) -> None:
    result = synth_stack("prod-use1")
    subnets = result.by_type(SUBNET)
    assert len(subnets) == 9  # 3 AZs x (private, public, firewall)
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in subnets)
    layout = subnet_layout(ipaddress.IPv4Network("10.50.0.0/16"), 3)
    for index, zone in enumerate(layout, start=1):
        for role in ("private", "public", "firewall"):
            subnet = named(result, SUBNET, f"stockade-network-{role}-{index}")
            assert subnet.inputs["cidrBlock"] == str(getattr(zone, role))
            assert subnet.inputs["availabilityZone"] == f"us-east-1{'abc'[index - 1]}"
    vpc = result.one("aws:ec2/vpc:Vpc")
    assert vpc.inputs["enableDnsSupport"] is True and vpc.inputs["enableDnsHostnames"] is True
    default_group = result.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert not default_group.inputs.get("ingress") and not default_group.inputs.get("egress")


def test_with_network_firewall_every_hop_crosses_the_same_azs_firewall_endpoint(synth_stack) -> None:
    result = synth_stack("prod-use1")
    firewall = result.one(FIREWALL)
    assert len(firewall.inputs["subnetMappings"]) == 3
    for index in (1, 2, 3):
        private = named(result, ROUTE, f"stockade-network-private-default-{index}").inputs
        to_nat = named(result, ROUTE, f"stockade-network-firewall-default-{index}").inputs
        back = named(result, ROUTE, f"stockade-network-public-return-{index}").inputs
        out = named(result, ROUTE, f"stockade-network-public-default-{index}").inputs
        assert private["destinationCidrBlock"] == "0.0.0.0/0"
        assert private["vpcEndpointId"].startswith("vpce-") and "natGatewayId" not in private
        assert to_nat["natGatewayId"] and out["gatewayId"]
        # Replies for this AZ's private subnet return through the same firewall endpoint.
        assert back["vpcEndpointId"] == private["vpcEndpointId"]
        assert (
            back["destinationCidrBlock"]
            == named(result, SUBNET, f"stockade-network-private-{index}").inputs["cidrBlock"]
        )
    endpoints = {
        named(result, ROUTE, f"stockade-network-private-default-{i}").inputs["vpcEndpointId"]
        for i in (1, 2, 3)
    }
    assert len(endpoints) == 3


def test_network_firewall_passes_only_listed_snis_and_drops_the_rest(synth_stack) -> None:
    result = synth_stack("prod-use1")
    policy = result.one("aws:networkfirewall/firewallPolicy:FirewallPolicy").inputs["firewallPolicy"]
    assert policy["statefulDefaultActions"][0] == "aws:drop_established"
    assert policy["statefulEngineOptions"]["ruleOrder"] == "STRICT_ORDER"
    domains = named(result, RULE_GROUP, "stockade-network-nfw-domains").inputs["ruleGroup"]
    source = domains["rulesSource"]["rulesSourceList"]
    assert source["generatedRulesType"] == "ALLOWLIST" and source["targetTypes"] == ["TLS_SNI"]
    assert {"api.anthropic.com", "pypi.org", "files.pythonhosted.org"} <= set(source["targets"])
    # Endpoints answer inside the VPC, so AWS API names are not let through the firewall.
    assert not any(t.startswith("secretsmanager.") for t in source["targets"])
    flows = named(result, RULE_GROUP, "stockade-network-nfw-flows").inputs["ruleGroup"]["rulesSource"]
    destinations = {
        (r["header"]["protocol"], r["header"]["destination"], r["header"]["destinationPort"])
        for r in flows["statefulRules"]
    }
    # The tunnel's cloudflared edge; the private allowedCidr never crosses the firewall.
    assert destinations == {("TCP", "198.41.192.0/19", "7844"), ("UDP", "198.41.192.0/19", "7844")}
    key_arn = result.outputs["kmsKeyArn"]
    for token in (FIREWALL, RULE_GROUP, "aws:networkfirewall/firewallPolicy:FirewallPolicy"):
        for resource in result.by_type(token):
            assert resource.inputs["encryptionConfiguration"] == {"keyId": key_arn, "type": "CUSTOMER_KMS"}


def test_dns_firewall_resolves_only_the_allowlist_and_fails_closed(synth_stack) -> None:
    for stack in ("dev", "prod-use1"):
        result = synth_stack(stack)
        allow = named(result, DNS_RULE, "stockade-network-dns-allow").inputs
        block = named(result, DNS_RULE, "stockade-network-dns-block").inputs
        assert allow["action"] == "ALLOW" and block["action"] == "BLOCK"
        assert allow["priority"] < block["priority"]
        assert allow["firewallDomainRedirectionAction"] == "TRUST_REDIRECTION_DOMAIN"
        assert named(result, DNS_LIST, "stockade-network-dns-everything").inputs["domains"] == ["*"]
        allowed = set(named(result, DNS_LIST, "stockade-network-dns-allowed").inputs["domains"])
        region = "us-east-2" if stack == "dev" else "us-east-1"
        assert {
            "api.anthropic.com",
            "pypi.org",
            f"secretsmanager.{region}.amazonaws.com",
            f"*.dkr.ecr.{region}.amazonaws.com",
        } <= allowed
        assert result.one(DNS_ASSOCIATION).inputs["mutationProtection"] == "ENABLED"
        fail = result.one("aws:route53/resolverFirewallConfig:ResolverFirewallConfig").inputs
        assert fail["firewallFailOpen"] == "DISABLED"


def test_dns_firewall_enforcement_routes_through_nat_without_a_firewall(synth_stack) -> None:
    result = synth_stack("dev")
    assert not result.by_type(FIREWALL) and not result.by_type(RULE_GROUP)
    assert not [s for s in result.by_type(SUBNET) if "firewall" in s.name]
    for index in (1, 2):
        assert named(result, ROUTE, f"stockade-network-private-default-{index}").inputs["natGatewayId"]
    assert any("dns-firewall" in w for w in result.weakenings)


def test_the_endpoints_group_is_the_only_group_with_ingress_and_admits_only_https_from_the_vpc(
    synth_stack,
) -> None:
    for stack, cidr in (("dev", "10.40.0.0/16"), ("prod-use1", "10.50.0.0/16")):
        result = synth_stack(stack)
        group = named(result, SECURITY_GROUP, "stockade-network-endpoints-sg")
        assert group.inputs["tags"]["stockade:component"] == "network"
        rules = [
            r for r in result.by_type(INGRESS) if r.inputs["securityGroupId"] == emulated_id("sg", group)
        ]
        (rule,) = rules
        assert (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"]) == (
            "tcp",
            443,
            443,
        )
        assert rule.inputs["cidrIpv4"] == cidr
        others = [r for r in result.by_type(INGRESS) if r not in rules]
        network_ingress = [r for r in others if r in network_resources(result)]
        assert network_ingress == []


def test_interface_endpoints_use_private_dns_the_endpoint_group_and_account_bound_policies(
    synth_stack,
) -> None:
    result = synth_stack("prod-use1")
    endpoints = result.by_type(ENDPOINT)
    interface = [e for e in endpoints if e.inputs["vpcEndpointType"] == "Interface"]
    services = {
        e.inputs["serviceName"].rsplit(".", 1)[-1]
        if ".ecr." not in e.inputs["serviceName"]
        else e.inputs["serviceName"].split("us-east-1.", 1)[1]
        for e in interface
    }
    assert services == {"ecr.api", "ecr.dkr", "ecs", "logs", "secretsmanager", "kms", "sts", "monitoring"}
    group_id = emulated_id("sg", named(result, SECURITY_GROUP, "stockade-network-endpoints-sg"))
    subnets = sorted(
        emulated_id("subnet", named(result, SUBNET, f"stockade-network-private-{i}")) for i in (1, 2, 3)
    )
    for endpoint in interface:
        assert endpoint.inputs["privateDnsEnabled"] is True
        assert endpoint.inputs["securityGroupIds"] == [group_id]
        assert sorted(endpoint.inputs["subnetIds"]) == subnets
        (statement,) = json.loads(endpoint.inputs["policy"])["Statement"]
        assert statement["Condition"]["StringEquals"]["aws:PrincipalAccount"] == "333333333333"
    (gateway,) = [e for e in endpoints if e.inputs["vpcEndpointType"] == "Gateway"]
    assert gateway.inputs["serviceName"] == "com.amazonaws.us-east-1.s3"
    private_tables = sorted(resource_id(ROUTE_TABLE, f"stockade-network-private-rt-{i}") for i in (1, 2, 3))
    assert sorted(gateway.inputs["routeTableIds"]) == private_tables


def test_flow_logs_go_to_an_encrypted_expiring_group_through_a_bounded_least_privilege_role(
    synth_stack,
) -> None:
    result = synth_stack("prod-use1")
    flow = result.one("aws:ec2/flowLog:FlowLog").inputs
    assert flow["trafficType"] == "ALL" and flow["logDestinationType"] == "cloud-watch-logs"
    group = named(result, "aws:cloudwatch/logGroup:LogGroup", "stockade-network-flow-logs").inputs
    assert group["kmsKeyId"] == result.outputs["kmsKeyArn"] and group["retentionInDays"] == 365
    role = named(result, "aws:iam/role:Role", "stockade-network-flow-logs-role").inputs
    trust = json.loads(role["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == "333333333333"
    assert role["permissionsBoundary"] == "arn:aws:iam::333333333333:policy/stockade-boundary"
    policy = json.loads(
        named(result, "aws:iam/rolePolicy:RolePolicy", "stockade-network-flow-logs-role-policy").inputs[
            "policy"
        ]
    )
    (statement,) = policy["Statement"]
    assert all("flow-logs" in r for r in statement["Resource"])
    assert result.one("aws:route53/resolverQueryLogConfigAssociation:ResolverQueryLogConfigAssociation")


def test_public_internet_prefix_list_is_the_complement_of_private_ranges(synth_stack) -> None:
    prefix_list = synth_stack("dev").one("aws:ec2/managedPrefixList:ManagedPrefixList").inputs
    assert [e["cidr"] for e in prefix_list["entries"]] == list(public_internet_cidrs())
    assert prefix_list["maxEntries"] == len(public_internet_cidrs())


def test_outputs_name_the_network_for_callers(synth_stack) -> None:
    outputs = synth_stack("prod-use1").outputs
    for key in (
        "vpcId",
        "vpcCidr",
        "privateSubnetIds",
        "endpointsSecurityGroupId",
        "s3PrefixListId",
        "publicInternetPrefixListId",
        "natPublicIps",
        "networkFirewallArn",
        "dnsFirewallRuleGroupId",
    ):
        assert outputs[key], key
    assert len(outputs["privateSubnetIds"]) == 3 and len(outputs["natPublicIps"]) == 3
    assert "api.anthropic.com" in outputs["egressAllowedDomains"]


# --------------------------------------------------------------------------- variations


def test_open_egress_builds_no_filter_and_is_reported(synth_config, example_config) -> None:
    config = example_config("dev")
    config["stockade:network"] = {"cidr": "10.40.0.0/16", "egress": {"mode": "open"}}
    result = synth_config("dev", config)
    assert not result.by_type(FIREWALL) and not result.by_type(DNS_RULE)
    assert any("egress.mode is 'open'" in w for w in result.weakenings)
    # Open egress is still HTTPS to public addresses only: private ranges stay closed.
    assert result.one("aws:ec2/managedPrefixList:ManagedPrefixList")


def test_disabled_connection_logs_remove_flow_and_query_logs_and_are_reported(
    synth_config, example_config
) -> None:
    config = example_config("dev")
    config["stockade:network"]["flowLogs"] = {"enabled": False}
    result = synth_config("dev", config)
    assert not result.by_type("aws:ec2/flowLog:FlowLog")
    assert not result.by_type("aws:route53/resolverQueryLogConfig:ResolverQueryLogConfig")
    assert any("flowLogs.enabled is false" in w for w in result.weakenings)


def test_bring_your_own_vpc_creates_nothing_but_what_attaches_to_it(synth_config, example_config) -> None:
    result = synth_config("dev", byo_config(example_config))
    for token in CREATED_BY_NEW_VPC_ONLY:
        assert not [r for r in network_resources(result) if r.type == token], token
    assert not result.by_type(FIREWALL)
    endpoints = result.by_type(ENDPOINT)
    interface = [e for e in endpoints if e.inputs["vpcEndpointType"] == "Interface"]
    assert interface and all(e.inputs["vpcId"] == "vpc-0123456789abcdef0" for e in endpoints)
    assert all(
        e.inputs["subnetIds"] == ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"] for e in interface
    )
    (gateway,) = [e for e in endpoints if e.inputs["vpcEndpointType"] == "Gateway"]
    assert gateway.inputs["routeTableIds"] == ["rtb-0aaaaaaaaaaaaaaa1", "rtb-0bbbbbbbbbbbbbbb2"]
    assert result.one(DNS_ASSOCIATION).inputs["vpcId"] == "vpc-0123456789abcdef0"
    assert result.one("aws:ec2/flowLog:FlowLog").inputs["vpcId"] == "vpc-0123456789abcdef0"
    ingress = result.by_type(INGRESS)
    assert [r.inputs["cidrIpv4"] for r in ingress if r in network_resources(result)] == ["10.90.0.0/16"]
    assert result.outputs["vpcId"] == "vpc-0123456789abcdef0"
    assert "natPublicIps" not in result.outputs


def test_bring_your_own_endpoints_group_becomes_the_workloads_aws_egress(
    synth_config, example_config
) -> None:
    config = byo_config(
        example_config,
        vpcEndpoints=False,
        privateRouteTableIds=[],
        endpointsSecurityGroupId="sg-0cccccccccccccccc",
    )
    result = synth_config("dev", config)
    assert not result.by_type(ENDPOINT)
    fleet_groups = [g for g in result.by_type(SECURITY_GROUP) if "sandboxes" in g.name]
    rules = [
        r
        for r in result.by_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
        if r.name.endswith("-egress-aws-endpoints")
    ]
    # One per workload group (the fleet's and any other component's in the VPC).
    assert fleet_groups and len(rules) >= len(fleet_groups)
    assert all(r.inputs["referencedSecurityGroupId"] == "sg-0cccccccccccccccc" for r in rules)
    assert result.outputs["endpointsSecurityGroupId"] == "sg-0cccccccccccccccc"


@pytest.mark.parametrize("zones", [1, 2])
def test_zone_count_decides_per_az_resources(synth_config, example_config, zones: int) -> None:
    config = example_config("dev")
    config["stockade:network"]["availabilityZones"] = zones
    result = synth_config("dev", config)
    assert len(result.by_type("aws:ec2/natGateway:NatGateway")) == zones
    assert len([s for s in result.by_type(SUBNET) if "private" in s.name]) == zones


def test_without_endpoints_aws_names_cross_the_firewall_and_workloads_lose_the_endpoint_rules(
    synth_config, example_config
) -> None:
    config = example_config("prod-use1")
    config["stockade:network"]["vpcEndpoints"] = False
    result = synth_config("prod-use1", config)
    assert not result.by_type(ENDPOINT) and "endpointsSecurityGroupId" not in result.outputs
    targets = named(result, RULE_GROUP, "stockade-network-nfw-domains").inputs["ruleGroup"]["rulesSource"][
        "rulesSourceList"
    ]["targets"]
    assert {"secretsmanager.us-east-1.amazonaws.com", ".dkr.ecr.us-east-1.amazonaws.com"} <= set(targets)
    egress = [r.name for r in result.by_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")]
    assert not [n for n in egress if n.endswith(("-aws-endpoints", "-s3-gateway"))]
