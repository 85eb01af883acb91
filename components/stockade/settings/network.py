"""`stockade:network`: where the perimeter's workloads live and how they reach out."""

from __future__ import annotations

from enum import StrEnum
from ipaddress import IPv4Network
from typing import Annotated

from pydantic import Field, model_validator

from stockade.settings.base import SettingsModel
from stockade.settings.problems import invalid
from stockade.settings.types import DomainName, Ipv4Cidr, LogRetentionDays


class EgressMode(StrEnum):
    FILTERED = "filtered"
    """Default deny: HTTPS to the vendor API, the VPC endpoints and the allowlist only."""
    OPEN = "open"
    """Any destination on the internet. Flagged in synth, diff and policy output."""


class EgressSettings(SettingsModel):
    """Outbound traffic from sandboxes and workers."""

    mode: EgressMode = EgressMode.FILTERED
    """`filtered` (default) allows only the vendor API, the AWS endpoints and the lists
    below; `open` allows any destination and is reported as a weakening everywhere."""

    allowed_domains: list[DomainName] = Field(default_factory=list, max_length=1000)
    """Extra DNS names sandboxes may resolve and reach on 443 (`*.example.com` allowed)."""

    allowed_cidrs: list[Ipv4Cidr] = Field(default_factory=list, max_length=50)
    """Extra IPv4 networks sandboxes may reach on 443. Private ranges stay closed unless
    listed here."""

    @model_validator(mode="after")
    def _open_needs_no_lists(self) -> EgressSettings:
        if self.mode is EgressMode.OPEN and (self.allowed_domains or self.allowed_cidrs):
            raise invalid(
                "allowlists have no effect when egress mode is 'open'",
                "remove allowedDomains/allowedCidrs, or set mode: filtered to enforce them",
            )
        return self


class FlowLogSettings(SettingsModel):
    """VPC flow logs: the record of every connection attempt in the perimeter."""

    enabled: bool = True
    """Disabling flow logs is a weakening and is reported as one."""

    retention_days: LogRetentionDays = 365
    """CloudWatch retention for flow logs."""


class NetworkSettings(SettingsModel):
    """The VPC: created by Stockade, or brought by the customer."""

    cidr: Ipv4Cidr = IPv4Network("10.40.0.0/16")
    """CIDR of the VPC Stockade creates (ignored with `vpcId`). /16 to /24."""

    availability_zones: Annotated[int, Field(ge=1, le=6)] = 2
    """How many AZs to spread private subnets and replicas over; prod needs at least 2."""

    vpc_id: Annotated[str, Field(pattern=r"^vpc-[0-9a-f]{8,17}$")] | None = None
    """Bring your own VPC: its ID. Requires `privateSubnetIds`."""

    private_subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = Field(
        default_factory=list
    )
    """Bring your own VPC: private subnets (no route to an internet gateway), one per AZ."""

    egress: EgressSettings = Field(default_factory=EgressSettings)
    """Outbound policy for sandboxes and workers."""

    vpc_endpoints: bool = True
    """Interface and gateway endpoints for ECR, Secrets Manager, KMS, Logs, S3, so AWS
    traffic never crosses the internet."""

    flow_logs: FlowLogSettings = Field(default_factory=FlowLogSettings)
    """VPC flow log settings."""

    @model_validator(mode="after")
    def _byo_vpc_is_complete(self) -> NetworkSettings:
        if self.vpc_id and not self.private_subnet_ids:
            raise invalid(
                "an existing VPC needs its private subnets",
                "list them under privateSubnetIds, one per availability zone",
            )
        if self.private_subnet_ids and not self.vpc_id:
            raise invalid("privateSubnetIds needs vpcId", "set vpcId to the subnets' VPC")
        if not 16 <= self.cidr.prefixlen <= 24:
            raise invalid("the VPC CIDR must be between /16 and /24", "use e.g. 10.40.0.0/16")
        return self

    @property
    def bring_your_own(self) -> bool:
        return self.vpc_id is not None
