"""Compose the Docker-host perimeter from a stack's settings.

The order is the dependency order: provider, network, sandboxes, tunnel. Each block only
maps settings onto one component's args; the components do the work. Validation
(settings/docker_rules.py) has already refused what the Docker host cannot honour.
"""

from __future__ import annotations

from typing import Any

import pulumi

from stockade.settings import StackSettings
from stockade.settings.network import EgressMode
from stockade.settings.sandboxes import SandboxProvider, WorkerMode
from stockade.settings.tunnel import CertificateSource
from stockade.tags import stack_tags

BASE_NAME = "stockade"


def build_docker_perimeter(settings: StackSettings) -> dict[str, Any]:
    from stockade.docker.network import Network
    from stockade.docker.provider import docker_provider

    docker_settings = settings.docker
    labels = stack_tags(settings)
    outputs: dict[str, Any] = {}

    # --- provider: the default one (docker:host / DOCKER_HOST), or the stack's docker.host ---
    provider = docker_provider(f"{BASE_NAME}-docker", docker_settings)
    opts = pulumi.ResourceOptions(providers=[provider]) if provider is not None else None
    if docker_settings.host is not None:
        outputs["dockerHost"] = docker_settings.host

    # --- network (stockade:docker:Network) ---
    egress = settings.network.egress
    network = Network(
        f"{BASE_NAME}-network",
        {
            "sandbox_subnet": str(docker_settings.sandbox_subnet),
            "filtered": egress.mode is EgressMode.FILTERED,
            "allowed_domains": list(egress.allowed_domains),
            "allowed_cidrs": [str(c) for c in egress.allowed_cidrs],
            "proxy_image": docker_settings.images.egress_proxy,
            "labels": labels,
        },
        opts=opts,
    )
    outputs["sandboxNetwork"] = network.sandbox_network_name
    outputs["egressProxyUrl"] = network.egress_proxy_url

    # --- sandboxes (stockade:docker:SandboxFleet) ---
    if settings.sandboxes.provider is SandboxProvider.SELF_HOSTED:
        outputs.update(
            _sandboxes(settings, network.sandbox_network_name, network.egress_proxy_url, labels, opts)
        )

    # --- tunnel (stockade:docker:TunnelGateway) ---
    if settings.tunnel.enabled:
        outputs.update(_tunnel(settings, labels, opts))
    return outputs


def _sandboxes(
    settings: StackSettings,
    sandbox_network: pulumi.Output[str],
    egress_proxy_url: str | None,
    labels: dict[str, str],
    opts: pulumi.ResourceOptions | None,
) -> dict[str, Any]:
    from stockade.docker.provider import secret_output
    from stockade.docker.sandbox_fleet import SandboxFleet, SandboxFleetArgs

    sandboxes = settings.sandboxes
    docker_settings = settings.docker
    # Enforced by validation: environment ID and key, the worker image, and per mode its needs.
    assert sandboxes.environment_id is not None and sandboxes.worker_image is not None
    args: SandboxFleetArgs = {
        "mode": "pool" if sandboxes.mode is WorkerMode.POOL else "per-session",
        "environment_id": sandboxes.environment_id,
        "environment_key": secret_output(sandboxes.environment_key, "sandboxes.environmentKey"),
        "worker_image": sandboxes.worker_image,
        "sandbox_network": sandbox_network,
        "egress_proxy_url": egress_proxy_url,
        "runtime": docker_settings.runtime.value,
        # Fargate CPU units (1024 = one vCPU), so one sizing reads the same on both targets.
        "cpus": sandboxes.resources.cpu / 1024,
        "memory_mib": sandboxes.resources.memory_mib,
        "pids_limit": sandboxes.resources.pids_limit,
        "pool_size": sandboxes.pool_size,
        "max_idle_seconds": sandboxes.max_idle_seconds,
        "max_concurrent_sessions": sandboxes.max_concurrent_sessions,
        "api_proxy": sandboxes.api_proxy.enabled,
        "keep_session_workspaces": docker_settings.keep_session_workspaces,
        "socket_path": docker_settings.socket_path,
        "socket_group_id": docker_settings.socket_group_id,
        "socket_proxy_image": docker_settings.images.socket_proxy,
        "stack": pulumi.get_stack(),
        "labels": labels,
    }
    if sandboxes.session_image is not None:
        args["session_image"] = sandboxes.session_image
    fleet = SandboxFleet(f"{BASE_NAME}-sandboxes", args, opts=opts)
    return {
        "sandboxMode": args["mode"],
        "pollerContainer": fleet.poller_container,
        "dispatchBrokerContainer": fleet.broker_container,
        "poolWorkerContainers": fleet.worker_containers,
    }


def _tunnel(
    settings: StackSettings, labels: dict[str, str], opts: pulumi.ResourceOptions | None
) -> dict[str, Any]:
    from stockade.docker.provider import secret_output
    from stockade.docker.tunnel_gateway import TunnelGateway
    from stockade.tunnel.proxy_config import render_proxy_config

    tunnel = settings.tunnel
    certificates = tunnel.certificates
    outputs: dict[str, Any] = {}
    server_certificate: pulumi.Input[str]
    if certificates.source is CertificateSource.PROVIDED:
        assert certificates.server_certificate_pem is not None  # enforced by validation
        server_certificate = certificates.server_certificate_pem
        server_key = secret_output(certificates.server_key, "tunnel.certificates.serverKey")
    else:
        # `setup` is refused on the docker target (docker_rules), so this is `generated`.
        from stockade.tunnel.certificates import TunnelCertificates, dns_names_for

        generated = TunnelCertificates(
            f"{BASE_NAME}-tunnel-certificates",
            {
                "dns_names": dns_names_for(tunnel.tunnel_domain, list(tunnel.routes)),
                "server_validity_hours": certificates.validity_hours,
                "renew_before_hours": certificates.renew_before_hours,
                "ca_validity_hours": certificates.ca_validity_hours,
                "server_key_algorithm": certificates.server_key_algorithm.value,
            },
        )
        server_certificate = generated.server_certificate_pem
        server_key = generated.server_private_key_pem
        # Register this CA with Anthropic (Console, or POST /v1/tunnels/{id}/certificates).
        outputs["tunnelCaCertificatePem"] = generated.ca_certificate_pem
        outputs["tunnelServerCertificateExpires"] = generated.server_certificate_expires
    gateway = TunnelGateway(
        f"{BASE_NAME}-tunnel",
        {
            "proxy_image": tunnel.images.proxy,
            "cloudflared_image": tunnel.images.cloudflared,
            "proxy_config": render_proxy_config(tunnel),
            "server_certificate_pem": server_certificate,
            "server_key_pem": server_key,
            "upstream_ca_pem": tunnel.upstream_tls.ca_certificate_pem,
            "tunnel_token": secret_output(tunnel.token, "tunnel.token"),
            "token_version": tunnel.token_version,
            "replicas": tunnel.replicas,
            "health_check": tunnel.health_check,
            "labels": labels,
        },
        opts=opts,
    )
    outputs["tunnelNetwork"] = gateway.network_name
    outputs["tunnelProxyContainers"] = gateway.proxy_containers
    outputs["tunnelCloudflaredContainers"] = gateway.cloudflared_containers
    return outputs
