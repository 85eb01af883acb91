"""`stockade:docker:Network`: the sandbox network and its only way out.

Filtered egress (the default):

* `<name>-sandbox`: an *internal* bridge network (no route off the host's bridge) on
  `docker.sandboxSubnet`. Sandboxes, pool workers and the poller live here.
* `<name>-egress`: an ordinary bridge network with a route out.
* `<name>-proxy`: the allowlisting proxy (egress_proxy.py), on both networks, answering
  to `egress-proxy` on the sandbox network. Containers there get `HTTPS_PROXY` pointing at it.

Open egress (`network.egress.mode: open`, reported as a weakening): the sandbox network
is an ordinary bridge with a route out, and there is no proxy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from ipaddress import IPv4Network
from typing import TypedDict

import pulumi
import pulumi_docker as docker

from stockade.docker.egress_proxy import (
    CONFIG_DIR,
    CONFIG_PATH,
    PROXY_ALIAS,
    PROXY_URL,
    SCRATCH_DIRS,
    SQUID_BINARY,
    render_squid_config,
)
from stockade.docker.files import FILES_LABEL, StagedFile, stage_files
from stockade.docker.hardening import (
    Attachment,
    ContainerSpec,
    VolumeMount,
    docker_labels,
    hardened_container,
    tmpfs_options,
)


class NetworkArgs(TypedDict):
    """Inputs of stockade:docker:Network."""

    sandbox_subnet: str
    """IPv4 range (CIDR) of the sandbox network; the proxy admits clients from it only."""

    filtered: bool
    """True: internal sandbox network plus the allowlisting proxy. False: open egress."""

    allowed_domains: Sequence[str]
    """Names sandboxes may reach on 443 besides the vendor API (`*.example.com` allowed)."""

    allowed_cidrs: Sequence[str]
    """Networks (CIDRs) sandboxes may reach on 443."""

    proxy_image: str
    """The egress proxy's image (Squid)."""

    labels: Mapping[str, str]
    """The stack's labels (tags), put on every network, volume and container."""


class Network(pulumi.ComponentResource):
    """The sandbox network and, with filtered egress, the proxy that is its only exit."""

    sandbox_network_name: pulumi.Output[str]
    """Docker network name sandboxes, workers and the poller join."""
    egress_proxy_url: str | None
    """`http://egress-proxy:3128` with filtered egress; None with open egress."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stockade:docker:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = {**args["labels"], "stockade:component": "network"}
        filtered = args["filtered"]
        sandbox = docker.Network(
            f"{name}-sandbox",
            driver="bridge",
            internal=filtered,
            ipam_configs=[{"subnet": str(IPv4Network(args["sandbox_subnet"]))}],
            labels=docker_labels(labels),
            opts=child,
        )
        self.sandbox_network_name = sandbox.name
        self.egress_proxy_url = None
        outputs: dict[str, object] = {"sandbox_network_name": sandbox.name, "egress_proxy_url": None}
        if filtered:
            egress = docker.Network(
                f"{name}-egress", driver="bridge", labels=docker_labels(labels), opts=child
            )
            image = docker.RemoteImage(
                f"{name}-proxy-image", name=args["proxy_image"], keep_locally=True, opts=child
            )
            config = docker.Volume(f"{name}-proxy-config", labels=docker_labels(labels), opts=child)
            text = render_squid_config(
                client_subnet=IPv4Network(args["sandbox_subnet"]),
                allowed_domains=args["allowed_domains"],
                allowed_cidrs=[IPv4Network(c) for c in args["allowed_cidrs"]],
            )
            stager = stage_files(
                f"{name}-proxy-files",
                image=image.image_id,
                volumes={CONFIG_DIR: config.name},
                files=[StagedFile(CONFIG_PATH, text)],
                stack_labels=args["labels"],
                opts=child,
            )
            proxy = hardened_container(
                f"{name}-proxy",
                ContainerSpec(
                    image=image.image_id,
                    component="egress-proxy",
                    entrypoint=[SQUID_BINARY, "-N", "-f", CONFIG_PATH],
                    command=[],
                    networks=(Attachment(sandbox.name, (PROXY_ALIAS,)), Attachment(egress.name)),
                    volumes=(VolumeMount(config.name, CONFIG_DIR, read_only=True),),
                    tmpfs={path: tmpfs_options(16) for path in SCRATCH_DIRS},
                    labels={FILES_LABEL: stager.id},
                ),
                stack_labels=args["labels"],
                opts=child,
            )
            self.egress_proxy_url = PROXY_URL
            outputs.update(
                {
                    "egress_network_name": egress.name,
                    "egress_proxy_url": PROXY_URL,
                    "proxy_container": proxy.name,
                }
            )
        self.register_outputs(outputs)
