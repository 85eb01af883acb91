"""The allowlist of the Docker target's egress proxy, rendered as a Squid configuration.

Sandboxes sit on an internal Docker network with no route out; the only way out is an
HTTPS `CONNECT` through this proxy, which joins both the internal network and an egress
network. It admits:

* clients from the sandbox subnet only;
* `CONNECT` to port 443 only (no plain HTTP, no other port);
* destinations named in the allowlist: the vendor API plus `network.egress.allowedDomains`
  (`*.example.com` becomes Squid's `.example.com`, which also matches `example.com`), or
  addresses in `network.egress.allowedCidrs`.

A `CONNECT` to a bare IP address never matches a name: `dstdomain -n` turns off the
reverse lookup that would otherwise let an IP-literal borrow an allowed name.
The proxy runs as 65532 with a read-only root, so it keeps no cache, no PID file and no
log files: access and cache logs go to the container's stdout and stderr.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network

PROXY_PORT = 3128
PROXY_ALIAS = "egress-proxy"
PROXY_URL = f"http://{PROXY_ALIAS}:{PROXY_PORT}"
VENDOR_API_HOST = "api.anthropic.com"
CONFIG_DIR = "/etc/stockade-squid"
CONFIG_PATH = f"{CONFIG_DIR}/squid.conf"
SQUID_BINARY = "/usr/sbin/squid"
# Paths Squid may touch at start; tmpfs keeps them writable under a read-only root.
SCRATCH_DIRS = ("/run", "/tmp", "/var/cache/squid", "/var/log/squid", "/var/spool/squid")  # noqa: S108


def squid_domains(allowed: Sequence[str]) -> list[str]:
    """The vendor API plus `allowed`, as Squid dstdomain entries, without redundant ones.

    Squid refuses a list holding both `example.com` and `.example.com` (the second covers
    the first), so names a wildcard already covers are dropped.
    """
    entries = {VENDOR_API_HOST, *(f".{d[2:]}" if d.startswith("*.") else d for d in allowed)}
    wildcards = {e for e in entries if e.startswith(".")}

    def covered(entry: str) -> bool:
        bare = entry.lstrip(".")
        return any(w != entry and (bare == w[1:] or bare.endswith(w)) for w in wildcards)

    return sorted(e for e in entries if not covered(e))


def render_squid_config(
    *, client_subnet: IPv4Network, allowed_domains: Sequence[str], allowed_cidrs: Sequence[IPv4Network]
) -> str:
    lines = [
        "# Rendered by Stockade from stockade:network.egress and stockade:docker. Do not edit by hand.",
        f"http_port {PROXY_PORT}",
        "visible_hostname stockade-egress",
        "pid_filename none",
        "cache deny all",
        "cache_mem 0 MB",
        "coredump_dir none",
        "netdb_filename none",
        "cache_store_log none",
        "access_log stdio:/dev/stdout",
        "cache_log /dev/stderr",
        "logfile_rotate 0",
        "via off",
        "forwarded_for delete",
        "httpd_suppress_version_string on",
        # Under the 30 s stop grace, so open tunnels close before SIGKILL.
        "shutdown_lifetime 20 seconds",
        "",
        f"acl stockade_clients src {client_subnet}",
        "acl stockade_https port 443",
        "acl stockade_connect method CONNECT",
        "acl stockade_domains dstdomain -n " + " ".join(squid_domains(allowed_domains)),
    ]
    if allowed_cidrs:
        lines.append("acl stockade_networks dst " + " ".join(str(c) for c in sorted(set(allowed_cidrs))))
    lines += [
        "",
        "http_access deny !stockade_clients",
        "http_access deny !stockade_connect",
        "http_access deny !stockade_https",
        "http_access allow stockade_domains",
    ]
    if allowed_cidrs:
        lines.append("http_access allow stockade_networks")
    lines.append("http_access deny all")
    return "\n".join(lines) + "\n"
