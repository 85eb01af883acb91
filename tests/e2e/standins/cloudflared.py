#!/usr/bin/python3
"""A STAND-IN for cloudflared, for tests only. It is not Cloudflare's binary, and it never
connects to Cloudflare's edge.

It accepts only the command line Stockade runs (docs/vendor-interface.md §2.1):
`tunnel --no-autoupdate run --url http://localhost:8080`, needs a non-empty TUNNEL_TOKEN, and
proves it shares the proxy's network namespace by reaching the proxy on localhost, four times,
logging `Registered tunnel connection` for each as the real connector does for its four edge
connections. Then it waits for SIGTERM. The token is never printed.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import urllib.request

EXPECTED = ["tunnel", "--no-autoupdate", "run", "--url"]


def main(argv: list[str]) -> int:
    if argv[:4] != EXPECTED or len(argv) != 5 or not argv[4].startswith("http://localhost:"):
        print(f"cloudflared stand-in: unexpected arguments {argv}", flush=True)
        return 2
    if not os.environ.get("TUNNEL_TOKEN"):
        print("cloudflared stand-in: TUNNEL_TOKEN is not set", flush=True)
        return 2
    connected = 0
    deadline = time.monotonic() + 60
    while connected < 4 and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(argv[4], timeout=3) as response:  # noqa: S310 - loopback only
                response.read()
            print(f"INF Registered tunnel connection connIndex={connected} (stand-in)", flush=True)
            connected += 1
        except OSError:
            time.sleep(0.5)
    if connected < 4:
        print("cloudflared stand-in: origin unreachable on localhost", flush=True)
        return 1
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    return 0


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    raise SystemExit(main(sys.argv[1:]))
