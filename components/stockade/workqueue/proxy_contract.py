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
