"""`stockade:docker:TunnelGateway`: the vendor's Compose reference (docs/vendor-interface.md §2.1) in Pulumi.

Per replica, the reference's two services:

* `<name>-proxy-<i>`: mcp-proxy, `user 65532:65532`, read-only root, no capabilities,
  no-new-privileges, 30 s stop grace, json-file logs 10m x 3, with
  `/etc/mcp-gateway/config.yaml` and `/data/tls.{crt,key}` mounted read-only;
* `<name>-cloudflared-<i>`: `tunnel --no-autoupdate run --url http://localhost:8080` with
  `TUNNEL_TOKEN`, in the proxy's network namespace (`network_mode: container:<proxy>`, the
  Docker form of Compose's `service:mcp-proxy`), hardened the same way.

The proxy sits on `<name>-net`, an ordinary bridge: it must reach the MCP upstreams and
cloudflared the Cloudflare edge. Sandboxes are not on it, so upstreams reachable from here
are not reachable from sandboxes; attach an upstream container to this network (and only
this one) to keep it that way. The files reach the read-only volumes through a stager
(files.py); the private key is a secret file readable by 65532 only. The token is the one
secret passed as environment: cloudflared's image has no shell to read a file, and the
reference passes it the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import NotRequired, TypedDict

import pulumi
import pulumi_docker as docker

from stockade.docker.files import FILES_LABEL, StagedFile, stage_files, stager_ids
from stockade.docker.hardening import (
    Attachment,
    ContainerSpec,
    VolumeMount,
    docker_labels,
    hardened_container,
    tmpfs_options,
)
from stockade.tunnel.proxy_config import CONFIG_PATH, DATA_DIR, PROXY_LOCAL_URL, ProxyPaths

CONFIG_DIR = CONFIG_PATH.rsplit("/", 1)[0]
METRICS_ADDRESS = "localhost:20241"
CONFIG_LABEL = "stockade:proxy-config-sha256"
TOKEN_VERSION_LABEL = "stockade:token-version"  # noqa: S105 - a label name


class TunnelGatewayArgs(TypedDict):
    """Inputs of stockade:docker:TunnelGateway."""

    proxy_image: str
    """mcp-proxy image, pinned by digest."""

    cloudflared_image: str
    """cloudflared image, pinned by digest."""

    proxy_config: str
    """The rendered `/etc/mcp-gateway/config.yaml` (stockade.tunnel.proxy_config)."""

    server_certificate_pem: pulumi.Input[str]
    """The inner-TLS server certificate (`/data/tls.crt`)."""

    server_key_pem: pulumi.Input[str]
    """Its private key (`/data/tls.key`); handed to Pulumi as a secret."""

    upstream_ca_pem: NotRequired[str | None]
    """CA for HTTPS upstreams (`/data/upstream-ca.pem`), when the config names one."""

    tunnel_token: pulumi.Input[str]
    """`TUNNEL_TOKEN`; handed to Pulumi as a secret."""

    token_version: int
    """Bumping it replaces cloudflared, which then reads the rotated token."""

    replicas: int
    """Identical proxy+cloudflared pairs (same token and certificates, docs/vendor-interface.md §2.7)."""

    health_check: bool
    """cloudflared's `tunnel --metrics ... ready` health check (cloudflared 2024.12 or later)."""

    labels: Mapping[str, str]
    """The stack's labels (tags)."""


class TunnelGateway(pulumi.ComponentResource):
    """mcp-proxy and cloudflared pairs, outbound only, with their files staged read-only."""

    network_name: pulumi.Output[str]
    """Attach upstream MCP containers on this host here (and nowhere the sandboxes are)."""
    proxy_containers: list[pulumi.Output[str]]
    """Names of the mcp-proxy containers, one per replica."""
    cloudflared_containers: list[pulumi.Output[str]]
    """Names of the cloudflared containers, one per replica."""

    def __init__(
        self, name: str, args: TunnelGatewayArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stockade:docker:TunnelGateway", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if args["replicas"] < 1:
            raise ValueError(f"{name}: at least one replica")
        labels = args["labels"]
        component_labels = docker_labels({**labels, "stockade:component": "tunnel"})
        network = docker.Network(f"{name}-net", driver="bridge", labels=component_labels, opts=child)
        proxy_image = docker.RemoteImage(
            f"{name}-proxy-image", name=args["proxy_image"], keep_locally=True, opts=child
        )
        cloudflared_image = docker.RemoteImage(
            f"{name}-cloudflared-image", name=args["cloudflared_image"], keep_locally=True, opts=child
        )
        config = docker.Volume(f"{name}-config", labels=component_labels, opts=child)
        data = docker.Volume(f"{name}-data", labels=component_labels, opts=child)
        paths = ProxyPaths()
        files = [
            StagedFile(CONFIG_PATH, args["proxy_config"]),
            StagedFile(paths.cert_file, args["server_certificate_pem"]),
        ]
        upstream_ca = args.get("upstream_ca_pem")
        if upstream_ca:
            files.append(StagedFile(paths.upstream_ca_file, upstream_ca))
        stager = stage_files(
            f"{name}-files",
            image=proxy_image.image_id,
            volumes={CONFIG_DIR: config.name, DATA_DIR: data.name},
            files=files,
            stack_labels=labels,
            opts=child,
        )
        key_stager = stage_files(
            f"{name}-key-files",
            image=proxy_image.image_id,
            volumes={DATA_DIR: data.name},
            files=[StagedFile.private(paths.key_file, args["server_key_pem"])],
            stack_labels=labels,
            opts=child,
        )
        # Routes are read at start only (docs/vendor-interface.md §2.2): a new config must replace the proxy.
        # The certificate is hot-reloaded, but the stager label replaces it on any file change.
        config_hash = hashlib.sha256(args["proxy_config"].encode("utf-8")).hexdigest()
        command = ["tunnel", "--no-autoupdate"]
        healthcheck = None
        if args["health_check"]:
            command += ["--metrics", METRICS_ADDRESS]
            healthcheck = {
                "tests": ["CMD", "cloudflared", "tunnel", "--metrics", METRICS_ADDRESS, "ready"],
                "interval": "30s",
                "timeout": "5s",
                "retries": 3,
                "start_period": "30s",
            }
        command += ["run", "--url", PROXY_LOCAL_URL]
        self.network_name = network.name
        self.proxy_containers = []
        self.cloudflared_containers = []
        for index in range(args["replicas"]):
            proxy = hardened_container(
                f"{name}-proxy-{index}",
                ContainerSpec(
                    image=proxy_image.image_id,
                    component="mcp-proxy",
                    networks=(Attachment(network.name),),
                    volumes=(
                        VolumeMount(config.name, CONFIG_DIR, read_only=True),
                        VolumeMount(data.name, DATA_DIR, read_only=True),
                    ),
                    tmpfs={"/tmp": tmpfs_options(16)},  # noqa: S108 - the container's private tmpfs
                    labels={FILES_LABEL: stager_ids(stager, key_stager), CONFIG_LABEL: config_hash},
                ),
                stack_labels=labels,
                opts=child,
            )
            cloudflared = hardened_container(
                f"{name}-cloudflared-{index}",
                ContainerSpec(
                    image=cloudflared_image.image_id,
                    component="cloudflared",
                    command=command,
                    secret_env={"TUNNEL_TOKEN": args["tunnel_token"]},
                    network_mode=pulumi.Output.concat("container:", proxy.id),
                    healthcheck=healthcheck,
                    labels={TOKEN_VERSION_LABEL: str(args["token_version"])},
                ),
                stack_labels=labels,
                opts=child,
            )
            self.proxy_containers.append(proxy.name)
            self.cloudflared_containers.append(cloudflared.name)
        self.register_outputs(
            {
                "network_name": network.name,
                "proxy_containers": self.proxy_containers,
                "cloudflared_containers": self.cloudflared_containers,
            }
        )
