"""Render mcp-proxy's `/etc/mcp-gateway/config.yaml` from validated tunnel settings.

Both targets (ECS and Docker) deliver this exact text, so the proxy behaves the
same wherever it runs. The settings model has already enforced every rule the
contract states; this module only translates names.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import collapse_addresses

import yaml

from stockade.settings.tunnel import TunnelSettings

LISTEN_ADDR = ":8080"
CONFIG_PATH = "/etc/mcp-gateway/config.yaml"
DATA_DIR = "/data"
# Matches the vendor's reference: cloudflared dials the proxy over the shared localhost.
PROXY_LOCAL_URL = "http://localhost:8080"


@dataclass(frozen=True)
class ProxyPaths:
    """Where the proxy reads its files inside the container."""

    cert_file: str = f"{DATA_DIR}/tls.crt"
    key_file: str = f"{DATA_DIR}/tls.key"
    upstream_ca_file: str = f"{DATA_DIR}/upstream-ca.pem"


def proxy_config(tunnel: TunnelSettings, paths: ProxyPaths = ProxyPaths()) -> dict[str, object]:
    """The proxy config as a mapping (docs/vendor-interface.md §2.2 field names)."""
    upstream: dict[str, object] = {}
    if tunnel.disable_ip_validation:
        upstream["disable_ip_validation"] = True
    else:
        # Always explicit: the proxy's own default is all of RFC1918, far wider than the routes.
        # Collapsed so overlapping targets render one minimal, stable list.
        upstream["allowed_ips"] = [str(c) for c in collapse_addresses(tunnel.effective_allowed_ips)]
    tls = tunnel.upstream_tls
    if tls.ca_certificate_pem or tls.include_system_cas:
        upstream_tls: dict[str, object] = {"include_system_cas": tls.include_system_cas}
        if tls.ca_certificate_pem:
            upstream_tls["ca_file"] = paths.upstream_ca_file
        upstream["tls"] = upstream_tls
    config: dict[str, object] = {
        "listen_addr": LISTEN_ADDR,
        "log_level": tunnel.log_level.value,
        "shutdown_timeout": "30s",
        "tls": {"cert_file": paths.cert_file, "key_file": paths.key_file},
        "routes": {name: route.upstream.url for name, route in sorted(tunnel.routes.items())},
        "upstream": upstream,
    }
    if tunnel.tunnel_domain:
        config["tunnel_domain"] = tunnel.tunnel_domain
    return config


def render_proxy_config(tunnel: TunnelSettings, paths: ProxyPaths = ProxyPaths()) -> str:
    """The proxy config as YAML text, stable key order so diffs show only real changes."""
    header = "# Rendered by Stockade from stockade:tunnel settings. Do not edit by hand.\n"
    return header + yaml.safe_dump(proxy_config(tunnel, paths), sort_keys=True, default_flow_style=False)
