"""What the perimeter may reach, as plain data: domains, address ranges and firewall flows.

Pure functions and constants only (no Pulumi), so settings validation, the
Network component and tests share one definition of "allowed".
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

VENDOR_API_DOMAIN = "api.anthropic.com"
"""The only vendor host the contract names for workers (docs/vendor-interface.md §1.6 and unknown 4)."""

INTERFACE_ENDPOINT_SERVICES = (
    "ecr.api",
    "ecr.dkr",
    "ecs",
    "logs",
    "secretsmanager",
    "kms",
    "sts",
    "monitoring",
)
"""Interface endpoints the fleet and tunnel use: image pulls, RunTask from the dispatcher, logs,
secrets, the CMK, regional STS for SDKs, and PutMetricData from queue-stats."""

EXEC_ENDPOINT_SERVICES = ("ssmmessages",)
"""Added only when ECS Exec is enabled; it is the channel an operator's shell rides on."""

PRIVATE_RANGES = ("10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16")
"""Ranges that are routable inside a VPC or behind a transit gateway or VPN. Workloads never
reach them unless a CIDR is listed explicitly. (Other reserved ranges such as 127/8, 169.254/16
and 224/3 are not routable through a VPC at all.)"""

# The tunnel's cloudflared dials Cloudflare's edge (docs/vendor-interface.md §2.5); it resolves the edge
# through SRV and A records under argotunnel.com.
CLOUDFLARED_EDGE_CIDR = "198.41.192.0/19"
CLOUDFLARED_EDGE_PORT = 7844
CLOUDFLARED_DOMAINS = ("*.argotunnel.com",)


@dataclass(frozen=True)
class FirewallFlow:
    """Traffic to an address range (not a name) that the Network Firewall must pass."""

    key: str
    description: str
    cidr: str
    protocol: str  # "TCP" or "UDP"
    port: int

    def __post_init__(self) -> None:
        ipaddress.IPv4Network(self.cidr)
        if self.protocol not in ("TCP", "UDP"):
            raise ValueError(f"firewall flow {self.key!r}: protocol must be TCP or UDP")


def cloudflared_flows() -> list[FirewallFlow]:
    return [
        FirewallFlow(
            key=f"cloudflared-{proto.lower()}",
            description=f"cloudflared to Cloudflare's edge ({proto}, QUIC or HTTP/2)",
            cidr=CLOUDFLARED_EDGE_CIDR,
            protocol=proto,
            port=CLOUDFLARED_EDGE_PORT,
        )
        for proto in ("TCP", "UDP")
    ]


@cache
def public_internet_cidrs() -> tuple[str, ...]:
    """The IPv4 space minus `PRIVATE_RANGES`: where "the internet on 443" may go.

    A security group cannot say "anything except"; this is the complement, written
    out as the fewest CIDRs (38), so that a route to a transit gateway or VPN in a
    bring-your-own VPC never makes a private network reachable by accident.
    """
    remaining = [ipaddress.IPv4Network("0.0.0.0/0")]
    for excluded in map(ipaddress.IPv4Network, PRIVATE_RANGES):
        next_remaining: list[ipaddress.IPv4Network] = []
        for network in remaining:
            if excluded.subnet_of(network):
                next_remaining.extend(network.address_exclude(excluded))
            elif not network.subnet_of(excluded):
                next_remaining.append(network)
        remaining = next_remaining
    return tuple(str(n) for n in ipaddress.collapse_addresses(remaining))


def is_private(cidr: ipaddress.IPv4Network) -> bool:
    return any(cidr.overlaps(ipaddress.IPv4Network(r)) for r in PRIVATE_RANGES)


def interface_services(enable_exec: bool) -> tuple[str, ...]:
    return INTERFACE_ENDPOINT_SERVICES + (EXEC_ENDPOINT_SERVICES if enable_exec else ())


def aws_service_domains(region: str, services: Sequence[str], dns_suffix: str = "amazonaws.com") -> list[str]:
    """The names the fleet resolves for AWS APIs (answered by the endpoints' private DNS).

    ECR is special: `ecr.api` answers at api.ecr.<region>, and registries are
    <account>.dkr.ecr.<region>. S3 (the ECR layer bucket, artifacts) resolves to the
    gateway endpoint's public ranges under s3.<region> and <bucket>.s3.<region>.
    """
    names: list[str] = []
    for service in services:
        if service == "ecr.api":
            names.append(f"api.ecr.{region}.{dns_suffix}")
        elif service == "ecr.dkr":
            names.append(f"*.dkr.ecr.{region}.{dns_suffix}")
        else:
            names.append(f"{service}.{region}.{dns_suffix}")
    names += [f"s3.{region}.{dns_suffix}", f"*.s3.{region}.{dns_suffix}"]
    return names


# A Docker Hub pull talks to the registry, its token service and its blob CDN.
DOCKER_HUB_DOMAINS = ("auth.docker.io", "production.cloudflare.docker.com", "registry-1.docker.io")


def registry_domains(image: str) -> list[str]:
    """The hosts a pull of `image` needs to resolve and reach.

    ECR hosts are in the AWS names already; another registry's own host is
    returned, but registries that redirect blobs to a CDN (ghcr.io, pkg.dev, ...)
    need those hosts in `allowedDomains` too (docs/sandbox-fleet.md, "Images").
    """
    first = image.split("/", 1)[0]
    has_host = "/" in image and ("." in first or ":" in first or first == "localhost")
    host = first.split(":", 1)[0].lower() if has_host else "docker.io"
    if host in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        return list(DOCKER_HUB_DOMAINS)
    return [host]


def dedupe(names: Iterable[str]) -> list[str]:
    """Sorted, without duplicates, and without names a wildcard in the list already covers."""
    unique = sorted(set(names))
    wildcards = [n[1:] for n in unique if n.startswith("*.")]
    return [n for n in unique if n.startswith("*.") or not any(n.endswith(w) for w in wildcards)]


def network_firewall_domain(name: str) -> str:
    """Network Firewall spelling of a DNS Firewall name.

    DNS Firewall's `*.example.com` covers subdomains only; Network Firewall's
    `.example.com` covers the domain and its subdomains, so the apex of a
    wildcard entry is allowed too (it resolves only if DNS Firewall allows it).
    """
    return name[1:] if name.startswith("*.") else name
