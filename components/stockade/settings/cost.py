"""`stockade:cost`: the usage `stockade cost` assumes where the desired state cannot say.

Fixed charges (hours of a NAT gateway, a firewall endpoint, a poller) follow from
the resources themselves; these settings cover what depends on traffic and load.
Every default is stated in docs/review.md next to the price table.
"""

from pydantic import Field

from stockade.settings.base import SettingsModel


class CostSettings(SettingsModel):
    """Usage assumptions for cost estimates; they change no resource."""

    egress_gb_per_month: float = Field(default=50.0, ge=0, le=1_000_000)
    """Internet-bound traffic per month, in GB, that passes the NAT gateways and the firewall."""

    endpoint_gb_per_month: float = Field(default=20.0, ge=0, le=1_000_000)
    """Traffic per month, in GB, through the interface VPC endpoints (ECR pulls, logs, secrets)."""

    sandbox_hours_per_month: float = Field(default=200.0, ge=0, le=10_000_000)
    """Session-hours per month: how long per-session sandbox tasks run in total."""

    log_gb_per_month: float = Field(default=5.0, ge=0, le=1_000_000)
    """Log data ingested per month, in GB, across all of the stack's log groups."""

    dns_queries_millions_per_month: float = Field(default=1.0, ge=0, le=1_000_000)
    """DNS queries per month, in millions, answered through the DNS Firewall."""
