"""Programs that use the components directly, as a user's own Pulumi program would.

No stack settings and no perimeter: every arg is written out, so these programs run
under Pulumi's plain mocks as well as under the offline engine.
"""

from __future__ import annotations

from typing import Any

import pulumi

ACCOUNT = "123456789012"
REGION = "us-east-1"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
SUBNETS = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
ENVIRONMENT_KEY_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:env-key-AbCdEf"
TOKEN_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:tunnel-token-AbCdEf"
WORKER_IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/worker@sha256:" + "a" * 64
SESSION_IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/session@sha256:" + "b" * 64


def network_args() -> dict[str, Any]:
    return {
        "account_id": ACCOUNT,
        "region": REGION,
        "partition": "aws",
        "cidr": "10.20.0.0/16",
        "availability_zones": 2,
        "availability_zone_names": [f"{REGION}a", f"{REGION}b"],
        "vpc_id": None,
        "private_subnet_ids": [],
        "private_route_table_ids": [],
        "existing_endpoints_security_group_id": None,
        "vpc_endpoints": True,
        "interface_services": ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "kms"],
        "egress_mode": "filtered",
        "enforcement": "dns-firewall",
        "allowed_domains": ["api.anthropic.com"],
        "firewall_flows": [],
        "connection_logs": True,
        "connection_log_retention_days": 30,
        "kms_key_arn": KEY_ARN,
        "permissions_boundary_arn": None,
        "tags": {"owner": "tests"},
    }


def network(name: str) -> Any:
    from stockade.aws.network.vpc import Network

    return Network(name, network_args())  # type: ignore[arg-type]


def network_ids(net: Any) -> dict[str, Any]:
    """What a fleet or gateway takes from a network."""
    return {
        "vpc_id": net.vpc_id,
        "subnet_ids": net.private_subnet_ids,
        "endpoints_security_group_id": net.endpoints_security_group_id,
        "s3_prefix_list_id": net.s3_prefix_list_id,
        "internet_prefix_list_id": net.public_internet_prefix_list_id,
    }


def fleet_args(net: dict[str, Any], *, alarm_topic_arn: pulumi.Input[str] | None = None) -> dict[str, Any]:
    return {
        "account_id": ACCOUNT,
        "region": REGION,
        "partition": "aws",
        "mode": "per-session",
        "environment_id": "env_0123456789",
        "environment_key_arn": ENVIRONMENT_KEY_ARN,
        "session_image": SESSION_IMAGE,
        "session_image_repository_arn": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/session",
        "worker_image": WORKER_IMAGE,
        "worker_image_repository_arn": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/worker",
        "cpu_architecture": "arm64",
        "resources": {"cpu": 1024, "memory_mib": 2048, "ephemeral_storage_gib": 21},
        "max_concurrent_sessions": 4,
        "poller_replicas": 2,
        "pool_size": 0,
        "max_idle_seconds": 300,
        "enable_exec": False,
        "queue_depth_alarm": 10,
        "alarm_topic_arn": alarm_topic_arn,
        "artifacts_expire_days": 30,
        "log_retention_days": 30,
        **net,
        "allowed_cidrs": [],
        "kms_key_arn": KEY_ARN,
        "permissions_boundary_arn": None,
        "tags": {"owner": "tests"},
    }


def fleet(name: str, net: Any, *, alarm_topic_arn: pulumi.Input[str] | None = None) -> Any:
    from stockade.aws.fleet.sandbox_fleet import SandboxFleet

    return SandboxFleet(name, fleet_args(network_ids(net), alarm_topic_arn=alarm_topic_arn))  # type: ignore[arg-type]


def gateway_args(net: dict[str, Any], *, upstream: str, certificates: str = "generated") -> dict[str, Any]:
    tunnel: dict[str, Any] = {
        "routes": {
            "wiki": {"upstream": upstream, "target_cidr": upstream.split("//")[1].split(":")[0] + "/32"}
        },
        "tunnel_domain": "abcd1234.tunnel.anthropic.com",
        "token": {"arn": TOKEN_ARN},
        "certificates": {"source": certificates},
        "alarms": {"subscriptions": [{"protocol": "email", "endpoint": "oncall@example.com"}]},
    }
    return {
        "tunnel": tunnel,
        **net,
        "kms_key_arn": KEY_ARN,
        "account_id": ACCOUNT,
        "region": REGION,
        "permissions_boundary_arn": None,
        "log_retention_days": 30,
        "tags": {"owner": "tests"},
    }


def gateway(name: str, net: Any, *, upstream: str) -> Any:
    from stockade.aws.gateway.tunnel_gateway import TunnelGateway

    return TunnelGateway(name, gateway_args(network_ids(net), upstream=upstream))  # type: ignore[arg-type]


def two_of_each() -> dict[str, Any]:
    """Two fleets and two gateways beside each other in one program (one network)."""
    net = network("shared-network")
    made = {
        "fleet-a": fleet("fleet-a", net),
        "fleet-b": fleet("fleet-b", net),
        "gateway-a": gateway("gateway-a", net, upstream="http://10.20.100.10:8080"),
        "gateway-b": gateway("gateway-b", net, upstream="http://10.20.100.11:8080"),
    }
    for name, component in made.items():
        if hasattr(component, "stack_outputs"):
            for key, value in component.stack_outputs().items():
                pulumi.export(f"{name}.{key}", value)
    return made
