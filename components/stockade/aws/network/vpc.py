"""`stockade:aws:Network`: the VPC every Stockade workload lives in, and the only way out of it.

Two shapes, one interface (`vpc_id`, `vpc_cidr`, `private_subnet_ids`,
`endpoints_security_group_id`, `s3_prefix_list_id`, plus
`public_internet_prefix_list_id`):

* **new VPC**: private subnets across N AZs (workloads), public subnets that hold
  only NAT gateways, and, with network-firewall enforcement, a firewall subnet
  per AZ that all egress crosses. No subnet maps public IPs on launch.
* **bring your own**: the customer's VPC and private subnets; Stockade creates
  only what attaches to them (endpoints, DNS Firewall, flow logs, the prefix
  list) and never touches their routes.

The endpoints' security group is the one group in Stockade with an ingress
rule: interface endpoints are servers, reached on 443 from inside the VPC.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from ipaddress import IPv4Network
from typing import Any, Literal, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from stockade.aws.network.egress_filter import dns_firewall, network_firewall
from stockade.aws.network.endpoint_policies import interface_endpoint_policy, s3_gateway_policy
from stockade.aws.shared.arns import arn_concat
from stockade.aws.shared.iam import role_with_policy, service_trust_policy
from stockade.aws.shared.logs import encrypted_log_group
from stockade.aws.shared.naming import naming_for
from stockade.netplan.egress_policy import FirewallFlow, aws_service_domains, dedupe, public_internet_cidrs
from stockade.netplan.subnet_layout import ZoneSubnets, subnet_layout
from stockade.settings.network import EgressEnforcement, EgressMode
from stockade.tags import with_component

COMPONENT = "network"


class FirewallFlowArgs(TypedDict):
    """Traffic to an address range (not a name) that the Network Firewall must pass."""

    key: str
    """Unique key of the flow (names its rule)."""

    description: str
    """Why the flow is open."""

    cidr: str
    """Destination IPv4 network."""

    protocol: Literal["TCP", "UDP"]
    """Transport protocol."""

    port: int
    """Destination port."""


def flow_args(flow: FirewallFlow) -> FirewallFlowArgs:
    """A planned flow (stockade.netplan) as component args."""
    protocol: Literal["TCP", "UDP"] = "UDP" if flow.protocol == "UDP" else "TCP"
    return {
        "key": flow.key,
        "description": flow.description,
        "cidr": flow.cidr,
        "protocol": protocol,
        "port": flow.port,
    }


class NetworkArgs(TypedDict):
    """Inputs of a Network. Build them from settings with `network_args` (perimeter.py)."""

    account_id: str
    """Account the VPC lives in; scopes endpoint policies and the flow-log role's trust."""

    region: str
    """Region of the VPC (endpoint service names, DNS names)."""

    partition: str
    """AWS partition (`aws`, `aws-cn`, `aws-us-gov`)."""

    cidr: str
    """New VPC: its CIDR. Existing VPC: its primary CIDR (the endpoints admit HTTPS from it)."""

    availability_zones: int
    """New VPC: how many AZs get subnets, NAT gateways and firewall endpoints."""

    availability_zone_names: NotRequired[list[str]]
    """New VPC: exactly these AZs (at least `availability_zones` of them, first ones used).
    Default: the region's first zones that need no opt-in, looked up at deploy time."""

    vpc_id: str | None
    """Existing VPC to attach to; None creates one."""

    private_subnet_ids: list[str]
    """Existing VPC: its private subnets, one per AZ."""

    private_route_table_ids: list[str]
    """Existing VPC: the private subnets' route tables (for the S3 gateway endpoint)."""

    existing_endpoints_security_group_id: str | None
    """Existing VPC without new endpoints: the security group of the VPC's own endpoints."""

    vpc_endpoints: bool
    """Create interface endpoints for `interface_services` and the S3 gateway endpoint."""

    interface_services: list[str]
    """Interface endpoint services (`ecr.api`, `logs`, ...)."""

    egress_mode: Literal["filtered", "open"]
    """`filtered` (default deny, allowlist only) or `open` (any internet destination)."""

    enforcement: Literal["network-firewall", "dns-firewall", "external"]
    """How `filtered` is enforced: Network Firewall (SNI) plus DNS Firewall, DNS Firewall only,
    or the customer's own egress path."""

    allowed_domains: list[str]
    """Every name workloads may resolve and reach besides AWS's (vendor API, allowlist,
    registries, other components' needs); `*.example.com` covers subdomains."""

    firewall_flows: list[FirewallFlowArgs]
    """Destinations given as addresses that the Network Firewall must pass."""

    resolve_only_domains: NotRequired[list[str]]
    """Names workloads may resolve (DNS Firewall) but never reach by name through the Network
    Firewall: their traffic goes to addresses in `firewall_flows` (cloudflared's edge)."""

    connection_logs: bool
    """VPC flow logs, DNS query logs and firewall alert logs."""

    connection_log_retention_days: int
    """Retention of those logs."""

    kms_key_arn: pulumi.Input[str]
    """The stack's CMK: log groups and the Network Firewall are encrypted with it."""

    permissions_boundary_arn: str | None
    """Boundary for the flow-log delivery role."""

    tags: dict[str, str]
    """Stack tags; the component adds `stockade:component=network`."""

    name_base: NotRequired[str]
    """First part of every physical name (`<name_base>-<stack>-...`); default: derived from the
    component's name (aws/shared/naming.py)."""


DEFAULT_NAME = "stockade-network"


class Network(pulumi.ComponentResource):
    """A private network with default-deny egress; see the module docstring."""

    vpc_id: pulumi.Output[str]
    """The VPC (new, or the one given)."""
    vpc_cidr: pulumi.Output[str]
    """Its primary CIDR."""
    private_subnet_ids: pulumi.Output[list[str]]
    """Private subnets, one per AZ: where every workload runs. No route to an internet gateway."""
    endpoints_security_group_id: pulumi.Output[str] | None
    """Security group of the interface endpoints (workloads' egress rules reference it); None
    without endpoints."""
    s3_prefix_list_id: pulumi.Output[str] | None
    """Prefix list of the S3 gateway endpoint (ECR layers); None without it."""
    public_internet_prefix_list_id: pulumi.Output[str]
    """Every IPv4 address except private ranges: the destination of "HTTPS to the internet"."""
    nat_public_ips: pulumi.Output[list[str]] | None
    """The NAT gateways' Elastic IPs (what upstreams see); None in an existing VPC."""
    firewall_arn: pulumi.Output[str] | None
    """The Network Firewall (enforcement `network-firewall`), else None."""
    dns_firewall_rule_group_id: pulumi.Output[str] | None
    """The DNS Firewall rule group (filtered egress), else None."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stockade:aws:Network", name, None, opts)
        self._name = name
        self._naming = naming_for(name, DEFAULT_NAME, args.get("name_base"))
        self._args = args
        self._tags = with_component(args["tags"], COMPONENT)
        filtered = EgressMode(args["egress_mode"]) is EgressMode.FILTERED
        enforcement = EgressEnforcement(args["enforcement"]) if filtered else None

        private_route_tables: list[pulumi.Input[str]]
        self.nat_public_ips = None
        self.firewall_arn = None
        if args["vpc_id"] is None:
            private_route_tables = self._new_vpc(
                with_firewall=enforcement is EgressEnforcement.NETWORK_FIREWALL
            )
        else:
            self.vpc_id = pulumi.Output.from_input(args["vpc_id"])
            self.private_subnet_ids = pulumi.Output.from_input(list(args["private_subnet_ids"]))
            private_route_tables = list(args["private_route_table_ids"])
        self.vpc_cidr = pulumi.Output.from_input(args["cidr"])

        self.endpoints_security_group_id = None
        self.s3_prefix_list_id = None
        if args["vpc_endpoints"]:
            self._endpoints(private_route_tables)
        elif args["existing_endpoints_security_group_id"]:
            self.endpoints_security_group_id = pulumi.Output.from_input(
                args["existing_endpoints_security_group_id"]
            )

        internet = public_internet_cidrs()
        self.public_internet_prefix_list_id = aws.ec2.ManagedPrefixList(
            f"{name}-public-internet",
            name=f"{self._naming.prefix}-public-internet",
            address_family="IPv4",
            max_entries=len(internet),
            entries=[{"cidr": c, "description": "public IPv4 (not RFC 1918 or 100.64/10)"} for c in internet],
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self),
        ).id

        self.dns_firewall_rule_group_id = None
        if enforcement in (EgressEnforcement.NETWORK_FIREWALL, EgressEnforcement.DNS_FIREWALL):
            self.dns_firewall_rule_group_id = dns_firewall(
                f"{name}-dns",
                vpc_id=self.vpc_id,
                domains=self.dns_allowlist(),
                tags=self._tags,
                parent=self,
                prefix=self._naming.prefix,
            ).id
        if args["connection_logs"]:
            self._connection_logs()

        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "vpc_cidr": self.vpc_cidr,
                "private_subnet_ids": self.private_subnet_ids,
                "endpoints_security_group_id": self.endpoints_security_group_id,
                "s3_prefix_list_id": self.s3_prefix_list_id,
                "public_internet_prefix_list_id": self.public_internet_prefix_list_id,
                "nat_public_ips": self.nat_public_ips,
                "firewall_arn": self.firewall_arn,
                "dns_firewall_rule_group_id": self.dns_firewall_rule_group_id,
            }
        )

    # ------------------------------------------------------------------ allowlists

    def dns_allowlist(self) -> list[str]:
        """Everything workloads may resolve: the caller's names plus the AWS APIs they use.

        The AWS names stay on the list with or without Stockade's endpoints: they
        resolve to the endpoints' private addresses, the customer's endpoints, or
        the public service through the egress path.
        """
        args = self._args
        aws_names = aws_service_domains(args["region"], args["interface_services"], _dns_suffix(args))
        return dedupe([*args["allowed_domains"], *args.get("resolve_only_domains", []), *aws_names])

    def sni_allowlist(self) -> list[str]:
        """What the Network Firewall passes. Traffic to interface endpoints stays inside
        the VPC and S3 in this region takes the gateway endpoint's more specific route, so
        AWS names are needed here only when there are no endpoints."""
        args = self._args
        aws_names = (
            []
            if args["vpc_endpoints"]
            else aws_service_domains(args["region"], args["interface_services"], _dns_suffix(args))
        )
        return dedupe([*args["allowed_domains"], *aws_names])

    # ------------------------------------------------------------------ new VPC

    def _new_vpc(self, *, with_firewall: bool) -> list[pulumi.Input[str]]:
        args, name, tags = self._args, self._name, self._tags
        child = pulumi.ResourceOptions(parent=self)
        layout = subnet_layout(IPv4Network(args["cidr"]), args["availability_zones"])
        given = args.get("availability_zone_names")
        if given is None:
            given = aws.get_availability_zones(
                state="available", filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}]
            ).names
        zones = list(given or [])[: len(layout)]
        if len(zones) < len(layout):
            raise ValueError(
                f"{name}: {len(zones)} usable AZs found, {len(layout)} configured (availability_zones); "
                "lower availability_zones or list the zones in availability_zone_names"
            )

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args["cidr"],
            enable_dns_support=True,  # private DNS of interface endpoints needs both
            enable_dns_hostnames=True,
            tags={**tags, "Name": f"{self._naming.prefix}"},
            opts=child,
        )
        self.vpc_id = vpc.id
        in_vpc = pulumi.ResourceOptions(parent=vpc)
        # AWS's default group allows all traffic between its members; nothing may use it.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id, tags=tags, opts=in_vpc)
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=tags, opts=in_vpc)

        subnets = [
            self._zone_subnets(vpc, index, zone, cidrs, with_firewall)
            for index, (zone, cidrs) in enumerate(zip(zones, layout, strict=True))
        ]
        self.private_subnet_ids = pulumi.Output.all(*[s["private"].id for s in subnets]).apply(list)

        nats = []
        for index, subnet in enumerate(subnets):
            eip = aws.ec2.Eip(f"{name}-nat-ip-{index + 1}", domain="vpc", tags=tags, opts=in_vpc)
            nats.append(
                (
                    eip,
                    aws.ec2.NatGateway(
                        f"{name}-nat-{index + 1}",
                        subnet_id=subnet["public"].id,
                        allocation_id=eip.id,
                        connectivity_type="public",
                        tags=tags,
                        opts=pulumi.ResourceOptions(parent=vpc, depends_on=[igw]),
                    ),
                )
            )
        self.nat_public_ips = pulumi.Output.all(*[eip.public_ip for eip, _ in nats]).apply(list)

        endpoint_ids: pulumi.Output[dict[str, str]] | None = None
        if with_firewall:
            alert_group = self._firewall_alert_log_group()
            firewall = network_firewall(
                f"{name}-nfw",
                vpc_id=vpc.id,
                vpc_cidr=args["cidr"],
                subnet_ids=[s["firewall"].id for s in subnets],
                domains=self.sni_allowlist(),
                # FirewallFlow checks each flow's address and protocol again.
                flows=[FirewallFlow(**flow) for flow in args["firewall_flows"]],
                kms_key_arn=args["kms_key_arn"],
                alert_log_group_name=alert_group.name if alert_group is not None else None,
                tags=tags,
                parent=self,
                prefix=self._naming.prefix,
            )
            self.firewall_arn = firewall.firewall.arn
            endpoint_ids = firewall.endpoint_ids

        private_tables: list[pulumi.Input[str]] = []
        for index, (zone, cidrs, subnet, (_, nat)) in enumerate(
            zip(zones, layout, subnets, nats, strict=True)
        ):
            tables = self._zone_routes(vpc, index, zone, cidrs, subnet, igw, nat, endpoint_ids)
            private_tables.append(tables.id)
        return private_tables

    def _zone_subnets(
        self, vpc: aws.ec2.Vpc, index: int, zone: str, cidrs: ZoneSubnets, with_firewall: bool
    ) -> dict[str, aws.ec2.Subnet]:
        in_vpc = pulumi.ResourceOptions(parent=vpc)
        made: dict[str, aws.ec2.Subnet] = {}
        roles = [("private", cidrs.private), ("public", cidrs.public)]
        if with_firewall:
            roles.append(("firewall", cidrs.firewall))
        for role, cidr in roles:
            made[role] = aws.ec2.Subnet(
                f"{self._name}-{role}-{index + 1}",
                vpc_id=vpc.id,
                cidr_block=str(cidr),
                availability_zone=zone,
                # No public IPs anywhere: NAT gateways use Elastic IPs, workloads none.
                map_public_ip_on_launch=False,
                tags={
                    **self._tags,
                    "Name": f"{self._naming.prefix}-{role}-{zone}",
                    "stockade:tier": role,
                },
                opts=in_vpc,
            )
        return made

    def _zone_routes(
        self,
        vpc: aws.ec2.Vpc,
        index: int,
        zone: str,
        cidrs: ZoneSubnets,
        subnet: dict[str, aws.ec2.Subnet],
        igw: aws.ec2.InternetGateway,
        nat: aws.ec2.NatGateway,
        firewall_endpoints: pulumi.Output[dict[str, str]] | None,
    ) -> aws.ec2.RouteTable:
        """Per-AZ routing, so an AZ outage never takes another AZ's egress with it.

        Without a firewall: private -> NAT -> IGW. With one, every hop crosses it both
        ways: private -> firewall endpoint -> NAT -> IGW, and the public table sends
        replies for the private subnet back through the same AZ's endpoint.
        """
        name, tags = self._name, self._tags
        number = index + 1

        def table(role: str) -> aws.ec2.RouteTable:
            rt = aws.ec2.RouteTable(
                f"{name}-{role}-rt-{number}",
                vpc_id=vpc.id,
                tags={**tags, "Name": f"{self._naming.prefix}-{role}-{zone}"},
                opts=pulumi.ResourceOptions(parent=vpc),
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-{role}-rta-{number}",
                route_table_id=rt.id,
                subnet_id=subnet[role].id,
                opts=pulumi.ResourceOptions(parent=rt),
            )
            return rt

        def route(rt: aws.ec2.RouteTable, key: str, destination: str, **target: pulumi.Input[str]) -> None:
            aws.ec2.Route(
                f"{name}-{key}-{number}",
                route_table_id=rt.id,
                destination_cidr_block=destination,
                **target,
                opts=pulumi.ResourceOptions(parent=rt),
            )

        private, public = table("private"), table("public")
        route(public, "public-default", "0.0.0.0/0", gateway_id=igw.id)
        if firewall_endpoints is None:
            route(private, "private-default", "0.0.0.0/0", nat_gateway_id=nat.id)
            return private
        endpoint = pulumi.Output.all(firewall_endpoints, subnet["firewall"].id).apply(
            lambda pair: pair[0][pair[1]]
        )
        firewall = table("firewall")
        route(private, "private-default", "0.0.0.0/0", vpc_endpoint_id=endpoint)
        route(firewall, "firewall-default", "0.0.0.0/0", nat_gateway_id=nat.id)
        route(public, "public-return", str(cidrs.private), vpc_endpoint_id=endpoint)
        return private

    # ------------------------------------------------------------------ endpoints

    def _endpoints(self, private_route_tables: Sequence[pulumi.Input[str]]) -> None:
        args, name, tags = self._args, self._name, self._tags
        child = pulumi.ResourceOptions(parent=self)
        group = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg",
            vpc_id=self.vpc_id,
            description="Stockade VPC interface endpoints: HTTPS in from the VPC, nothing out",
            revoke_rules_on_delete=True,
            tags=tags,
            opts=child,
        )
        # The one ingress rule in Stockade: endpoints are servers for the VPC's workloads.
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-endpoints-sg-ingress-https",
            security_group_id=group.id,
            description="HTTPS from workloads in this VPC to AWS APIs",
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            cidr_ipv4=args["cidr"],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=group),
        )
        self.endpoints_security_group_id = group.id
        prefix = _service_prefix(args)
        for service in args["interface_services"]:
            aws.ec2.VpcEndpoint(
                f"{name}-endpoint-{service.replace('.', '-')}",
                vpc_id=self.vpc_id,
                service_name=f"{prefix}.{args['region']}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=self.private_subnet_ids,
                security_group_ids=[group.id],
                policy=json.dumps(interface_endpoint_policy(service, args["account_id"]), sort_keys=True),
                tags={**tags, "Name": f"{self._naming.prefix}-{service}"},
                opts=child,
            )
        s3 = aws.ec2.VpcEndpoint(
            f"{name}-endpoint-s3",
            vpc_id=self.vpc_id,
            service_name=f"{prefix}.{args['region']}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=list(private_route_tables),
            policy=json.dumps(
                s3_gateway_policy(args["account_id"], args["partition"], args["region"]), sort_keys=True
            ),
            tags={**tags, "Name": f"{self._naming.prefix}-s3"},
            opts=child,
        )
        self.s3_prefix_list_id = s3.prefix_list_id

    # ------------------------------------------------------------------ logs

    def _firewall_alert_log_group(self) -> aws.cloudwatch.LogGroup | None:
        if not self._args["connection_logs"]:
            return None
        return self._log_group("firewall-alerts")

    def _log_group(self, purpose: str) -> aws.cloudwatch.LogGroup:
        """A connection log group: the stack's key, the configured retention."""
        return encrypted_log_group(
            f"{self._name}-{purpose}",
            kms_key_arn=self._args["kms_key_arn"],
            retention_days=self._args["connection_log_retention_days"],
            tags=self._tags,
            parent=self,
        )

    def _connection_logs(self) -> None:
        args, name, tags = self._args, self._name, self._tags
        account, partition, region = args["account_id"], args["partition"], args["region"]
        flow_group = self._log_group("flow-logs")
        trust = service_trust_policy(
            "vpc-flow-logs.amazonaws.com", account, f"arn:{partition}:ec2:{region}:{account}:vpc-flow-log/*"
        )
        role = role_with_policy(
            f"{name}-flow-logs-role",
            trust_policy=trust,
            statements=[
                {
                    "Sid": "DeliverToTheFlowLogGroup",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                    "Resource": [flow_group.arn, arn_concat(flow_group.arn, ":*")],
                }
            ],
            permissions_boundary_arn=args["permissions_boundary_arn"],
            tags=tags,
            parent=self,
            description="Delivers this stack's VPC flow logs to their log group",
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=self.vpc_id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=flow_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        query_group = self._log_group("dns-queries")
        query_config = aws.route53.ResolverQueryLogConfig(
            f"{name}-dns-query-log",
            name=f"{self._naming.prefix}",
            destination_arn=query_group.arn,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.route53.ResolverQueryLogConfigAssociation(
            f"{name}-dns-query-log-association",
            resolver_query_log_config_id=query_config.id,
            resource_id=self.vpc_id,
            opts=pulumi.ResourceOptions(parent=query_config),
        )

    # ------------------------------------------------------------------ outputs

    def stack_outputs(self) -> dict[str, Any]:
        """Flat, named for what a caller needs (other stacks, runbooks, audits)."""
        outputs: dict[str, Any] = {
            "vpcId": self.vpc_id,
            "vpcCidr": self.vpc_cidr,
            "privateSubnetIds": self.private_subnet_ids,
            "publicInternetPrefixListId": self.public_internet_prefix_list_id,
        }
        optional = {
            "endpointsSecurityGroupId": self.endpoints_security_group_id,
            "s3PrefixListId": self.s3_prefix_list_id,
            "natPublicIps": self.nat_public_ips,
            "networkFirewallArn": self.firewall_arn,
            "dnsFirewallRuleGroupId": self.dns_firewall_rule_group_id,
        }
        outputs.update({k: v for k, v in optional.items() if v is not None})
        if EgressMode(self._args["egress_mode"]) is EgressMode.FILTERED:
            # What the egress filter allows, for reviews and for a customer's own firewall
            # (`external` enforcement) to mirror.
            outputs["egressAllowedDomains"] = self.dns_allowlist()
        return outputs


def _service_prefix(args: NetworkArgs) -> str:
    return "cn.com.amazonaws" if args["partition"] == "aws-cn" else "com.amazonaws"


def _dns_suffix(args: NetworkArgs) -> str:
    return "amazonaws.com.cn" if args["partition"] == "aws-cn" else "amazonaws.com"
