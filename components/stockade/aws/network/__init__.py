"""The private network: VPC, subnets, endpoints and egress filtering."""

from stockade.aws.network.vpc import Network, NetworkArgs

__all__ = ["Network", "NetworkArgs"]
