"""How a new VPC's CIDR is carved into subnets: pure arithmetic, shared by validation and the Network.

The layout is a function of the VPC CIDR and the AZ count only, never of the
egress mode, so switching enforcement (NAT only <-> Network Firewall) never
renumbers a subnet, and adding an AZ only appends subnets:

* the CIDR is cut into 8 equal blocks; block *i* (i < 6) is AZ *i*'s private
  subnet, where every workload ENI lives;
* block 7 is cut into /28s; AZ *i* takes /28 number 2i for its public (NAT
  gateway) subnet and 2i+1 for its Network Firewall subnet.

Block 6 and the rest of block 7 stay free for the customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network
from itertools import islice

MAX_ZONES = 6
# AWS keeps the first four addresses and the last one of every subnet.
RESERVED_PER_SUBNET = 5
_INFRA_PREFIX = 28


class LayoutError(ValueError):
    """The VPC CIDR cannot hold the requested number of AZs."""


@dataclass(frozen=True)
class ZoneSubnets:
    """The three subnets Stockade creates in one availability zone."""

    private: IPv4Network
    """Workloads: poller, sandboxes, tunnel, interface endpoints. No route to an IGW."""
    public: IPv4Network
    """The NAT gateway only; nothing else is ever placed here."""
    firewall: IPv4Network
    """The Network Firewall endpoint (created only with network-firewall enforcement)."""

    @property
    def private_capacity(self) -> int:
        return self.private.num_addresses - RESERVED_PER_SUBNET


def max_zones(vpc: IPv4Network) -> int:
    """How many AZs a VPC of this size can hold with this layout."""
    infra_block_prefix = vpc.prefixlen + 3
    if infra_block_prefix > _INFRA_PREFIX:
        return 0
    return min(MAX_ZONES, 2 ** (_INFRA_PREFIX - infra_block_prefix) // 2)


def subnet_layout(vpc: IPv4Network, zones: int) -> list[ZoneSubnets]:
    """One `ZoneSubnets` per AZ, in AZ order; raises `LayoutError` when they do not fit."""
    if not 1 <= zones <= MAX_ZONES:
        raise LayoutError(f"between 1 and {MAX_ZONES} availability zones are supported, not {zones}")
    fits = max_zones(vpc)
    if zones > fits:
        raise LayoutError(
            f"a /{vpc.prefixlen} VPC holds at most {fits} availability zone(s) in Stockade's layout"
        )
    blocks = list(vpc.subnets(prefixlen_diff=3))
    # Only the first 2 * zones /28s: listing them all walks 512 networks for a /16 VPC, and
    # validation and the Network component lay out every stack's VPC several times per synth.
    infra = list(islice(blocks[7].subnets(new_prefix=_INFRA_PREFIX), 2 * zones))
    return [
        ZoneSubnets(private=blocks[i], public=infra[2 * i], firewall=infra[2 * i + 1]) for i in range(zones)
    ]
