"""Where a sandbox finds its API proxy: the names the proxy, both dispatchers and the AWS task
definitions share (one definition, so they cannot drift apart)."""

from __future__ import annotations

PROXY_ENTRY = "/usr/local/bin/stockade-api-proxy"
"""The session image's shim that runs `python3 -m stockade.apiproxy`."""

PROXY_PORT = 8790
"""The proxy's port on the loopback it shares with its sandbox (and nothing else)."""

PROXY_BASE_URL = f"http://127.0.0.1:{PROXY_PORT}"
"""The sandbox's ANTHROPIC_BASE_URL."""

DEFAULT_UPSTREAM = "https://api.anthropic.com"
"""Where the proxy forwards unless the work item's base URL says otherwise."""

PLACEHOLDER_KEY = "stockade-api-proxy-placeholder"
"""What the sandbox's `ant` presents instead of the environment key; the proxy drops it. It is
deliberately not shaped like a key (no `sk-ant-` prefix), so secret scanners and the
no-plaintext-secrets rule never mistake it for one. Whether `ant` accepts a key of any shape is
an unverified vendor behaviour (docs/threat-model.md)."""


def split_upstream(value: str) -> tuple[str, int]:
    """The host and port of a vendor API base URL: `https://host[:port]`, nothing else.

    The one check for both sides: the broker (and the AWS dispatcher) accept a work item's base
    URL with it, and the API proxy parses its upstream with it, so a URL the dispatcher accepts
    is never one the proxy refuses after the sandbox has started. Raises ValueError saying what
    is wrong, without echoing the value.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    try:
        port = parts.port or 443
    except ValueError:
        raise ValueError("has an invalid port") from None
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        raise ValueError("is not an https:// URL without credentials")
    if parts.path not in ("", "/") or parts.query or parts.fragment or any(ch.isspace() for ch in value):
        raise ValueError("is not https://host[:port] (no path, query, fragment or whitespace)")
    return parts.hostname, port
