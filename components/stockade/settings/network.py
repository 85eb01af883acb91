"""`stockade:network`: where the perimeter's workloads live and how they reach out."""

from collections.abc import Iterator
from enum import StrEnum
from ipaddress import IPv4Network
from typing import Annotated

from pydantic import Field
from pydantic_core import PydanticCustomError

from stockade.netplan.subnet_layout import LayoutError, subnet_layout
from stockade.settings.base import SettingsModel, empty_list
from stockade.settings.problems import invalid
from stockade.settings.types import DomainName, Ipv4Cidr, LogRetentionDays

SubnetId = Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]
RouteTableId = Annotated[str, Field(pattern=r"^rtb-[0-9a-f]{8,17}$")]
SecurityGroupId = Annotated[str, Field(pattern=r"^sg-[0-9a-f]{8,17}$")]

# A security group holds 60 egress rules by default, and a rule that references a
# prefix list counts as that list's size. The public-internet list takes 38, so the
# allowlist of CIDRs must stay small (docs/sandbox-fleet.md, "Quotas").
MAX_ALLOWED_CIDRS = 16


class EgressMode(StrEnum):
    FILTERED = "filtered"
    """Default deny: HTTPS to the vendor API, the VPC endpoints and the allowlist only."""
    OPEN = "open"
    """Any destination on the internet. Flagged in synth, diff and policy output."""


class EgressEnforcement(StrEnum):
    NETWORK_FIREWALL = "network-firewall"
    """Default. AWS Network Firewall checks the TLS SNI of every connection against the
    allowlist (an IP-literal connection has no allowed name and is dropped), and Route 53
    Resolver DNS Firewall refuses to resolve names outside it. About 0.395 USD per AZ-hour
    plus per-GB processing."""
    DNS_FIREWALL = "dns-firewall"
    """Route 53 Resolver DNS Firewall only: cheap, but a process that connects to an IP
    address directly is not stopped. Reported as a weakening."""
    EXTERNAL = "external"
    """Bring-your-own VPC whose egress path already filters (e.g. a central egress VPC with
    its own firewall behind a transit gateway). Stockade creates no egress filter and
    documents what yours must allow; it cannot check that it does. Reported as a weakening."""


class EgressSettings(SettingsModel):
    """Outbound traffic from sandboxes and workers."""

    mode: EgressMode = EgressMode.FILTERED
    """`filtered` (default) allows only the vendor API, the AWS endpoints and the lists
    below; `open` allows any destination and is reported as a weakening everywhere."""

    enforcement: EgressEnforcement = EgressEnforcement.NETWORK_FIREWALL
    """How `filtered` is enforced: `network-firewall` (default), `dns-firewall` or
    `external`. See docs/sandbox-fleet.md for the trade-offs and the cost of each."""

    allowed_domains: list[DomainName] = Field(default_factory=empty_list, max_length=1000)
    """Extra DNS names sandboxes may resolve and reach on 443 (`*.example.com` allowed)."""

    allowed_cidrs: list[Ipv4Cidr] = Field(default_factory=empty_list, max_length=MAX_ALLOWED_CIDRS)
    """Extra IPv4 networks sandboxes may reach on 443. Private ranges (RFC 1918 and
    100.64.0.0/10) stay closed unless listed here."""

    def rule_errors(self) -> Iterator[PydanticCustomError]:
        if self.mode is EgressMode.OPEN:
            if self.allowed_domains or self.allowed_cidrs:
                yield invalid(
                    "allowlists have no effect when egress mode is 'open'",
                    "remove allowedDomains/allowedCidrs, or set mode: filtered to enforce them",
                )
            if "enforcement" in self.model_fields_set:
                yield invalid(
                    "enforcement has no effect when egress mode is 'open'",
                    "remove enforcement, or set mode: filtered",
                    field="enforcement",
                )
        if len(set(self.allowed_cidrs)) != len(self.allowed_cidrs):
            yield invalid("allowedCidrs lists a network twice", "remove the duplicate", field="allowedCidrs")
        if len(set(self.allowed_domains)) != len(self.allowed_domains):
            yield invalid("allowedDomains lists a name twice", "remove the duplicate", field="allowedDomains")


class FlowLogSettings(SettingsModel):
    """Connection records: VPC flow logs, DNS query logs and Network Firewall alert logs."""

    enabled: bool = True
    """Disabling them is a weakening and is reported as one."""

    retention_days: LogRetentionDays = 365
    """CloudWatch retention for these logs."""


class NetworkSettings(SettingsModel):
    """The VPC: created by Stockade, or brought by the customer."""

    cidr: Ipv4Cidr = IPv4Network("10.40.0.0/16")
    """CIDR of the VPC Stockade creates (/16 to /24). With `vpcId`, set it to that VPC's
    primary CIDR: the endpoints' security group admits HTTPS from it."""

    availability_zones: Annotated[int, Field(ge=1, le=6)] = 2
    """How many AZs to spread private subnets and replicas over; prod needs at least 2.
    Not used with `vpcId` (the subnets decide)."""

    vpc_id: Annotated[str, Field(pattern=r"^vpc-[0-9a-f]{8,17}$")] | None = None
    """Bring your own VPC: its ID. Requires `privateSubnetIds` and `cidr`."""

    private_subnet_ids: list[SubnetId] = Field(default_factory=empty_list, max_length=6)
    """Bring your own VPC: private subnets (no route to an internet gateway), one per AZ."""

    private_route_table_ids: list[RouteTableId] = Field(default_factory=empty_list, max_length=6)
    """Bring your own VPC: the private subnets' route tables, for the S3 gateway endpoint.
    Required with `vpcEndpoints: true`."""

    endpoints_security_group_id: SecurityGroupId | None = None
    """Bring your own VPC with `vpcEndpoints: false`: the security group of the interface
    endpoints the VPC already has; workloads get HTTPS egress to it."""

    egress: EgressSettings = Field(default_factory=EgressSettings)
    """Outbound policy for sandboxes and workers."""

    vpc_endpoints: bool = True
    """Interface endpoints (ECR, ECS, Secrets Manager, KMS, Logs, STS, CloudWatch) and the
    S3 gateway endpoint, so AWS traffic never crosses the internet."""

    flow_logs: FlowLogSettings = Field(default_factory=FlowLogSettings)
    """Connection record settings."""

    def rule_errors(self) -> Iterator[PydanticCustomError]:
        if self.vpc_id and not self.private_subnet_ids:
            yield invalid(
                "an existing VPC needs its private subnets",
                "list them under privateSubnetIds, one per availability zone",
                field="privateSubnetIds",
            )
        if not self.vpc_id:
            for name, value in (
                ("privateSubnetIds", self.private_subnet_ids),
                ("privateRouteTableIds", self.private_route_table_ids),
                ("endpointsSecurityGroupId", self.endpoints_security_group_id),
            ):
                if value:
                    yield invalid(f"{name} needs vpcId", "set vpcId to their VPC, or remove it", field=name)
            yield from self._new_vpc_errors()
        else:
            yield from self._byo_errors()

    def _new_vpc_errors(self) -> Iterator[PydanticCustomError]:
        if self.egress.mode is EgressMode.FILTERED and self.egress.enforcement is EgressEnforcement.EXTERNAL:
            yield invalid(
                "external enforcement relies on the egress path of your own VPC, and a VPC Stockade "
                "creates has no other filter",
                "use network-firewall (default) or dns-firewall, or bring your VPC with vpcId",
                field="egress.enforcement",
            )
        if not 16 <= self.cidr.prefixlen <= 24:
            yield invalid("the VPC CIDR must be between /16 and /24", "use e.g. 10.40.0.0/16", field="cidr")
            return  # the layout rule below reads the CIDR
        try:
            subnet_layout(self.cidr, self.availability_zones)
        except LayoutError as exc:
            yield invalid(
                str(exc),
                "use a larger cidr (a /21 or larger holds 6 AZs) or fewer availabilityZones",
                field="availabilityZones",
            )

    def _byo_errors(self) -> Iterator[PydanticCustomError]:
        if "cidr" not in self.model_fields_set:
            yield invalid(
                "an existing VPC needs its CIDR stated",
                "set network.cidr to the VPC's primary IPv4 CIDR (the endpoints admit HTTPS from it)",
                field="cidr",
            )
        if len(set(self.private_subnet_ids)) != len(self.private_subnet_ids):
            yield invalid(
                "privateSubnetIds lists a subnet twice", "remove the duplicate", field="privateSubnetIds"
            )
        if "availability_zones" in self.model_fields_set:
            yield invalid(
                "availabilityZones is not used with vpcId; the subnets decide",
                "remove availabilityZones and list one private subnet per AZ",
                field="availabilityZones",
            )
        if self.vpc_endpoints and not self.private_route_table_ids:
            yield invalid(
                "the S3 gateway endpoint needs the private subnets' route tables",
                "list them under privateRouteTableIds, or set vpcEndpoints: false if the VPC has its own",
                field="privateRouteTableIds",
            )
        if self.vpc_endpoints and self.endpoints_security_group_id:
            yield invalid(
                "endpointsSecurityGroupId names existing endpoints, but vpcEndpoints: true creates new ones",
                "set vpcEndpoints: false to use the VPC's endpoints, or remove endpointsSecurityGroupId",
                field="endpointsSecurityGroupId",
            )
        if (
            self.egress.mode is EgressMode.FILTERED
            and self.egress.enforcement is EgressEnforcement.NETWORK_FIREWALL
        ):
            yield invalid(
                "network-firewall enforcement re-routes the VPC's egress, which Stockade only does "
                "in a VPC it creates",
                "set network.egress.enforcement: external if your egress path inspects traffic "
                "(see docs/sandbox-fleet.md, 'Bring your own VPC'), or dns-firewall",
                field="egress.enforcement",
            )

    @property
    def bring_your_own(self) -> bool:
        return self.vpc_id is not None
