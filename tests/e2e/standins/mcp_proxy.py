#!/usr/bin/python3
"""A STAND-IN for the vendor's mcp-proxy, for tests only. It is not the vendor's proxy.

It checks only what Stockade must get right for the real proxy (docs/vendor-interface.md §2.1,
§2.2): the config at /etc/mcp-gateway/config.yaml parses, has `listen_addr`, a `routes` map of
`scheme://host:port` upstreams and the TLS file paths; the certificate and key it names are
readable by this uid and belong together. Then it listens where the config says, logs
`route configured` per route as the real proxy does, and answers any connection with a short
HTTP response (the cloudflared stand-in connects to it). It never dials an upstream.
"""

from __future__ import annotations

import json
import re
import signal
import socketserver
import ssl
import sys
from typing import Any

import yaml

CONFIG = "/etc/mcp-gateway/config.yaml"
_UPSTREAM = re.compile(r"^https?://[^/\s:]+:\d{1,5}$")


def log(event: str, **fields: Any) -> None:
    print(json.dumps({"standin": "mcp-proxy", "msg": event, **fields}), flush=True)


def check_config() -> dict[str, Any]:
    with open(CONFIG, encoding="utf-8") as handle:  # noqa: PTH123
        config = yaml.safe_load(handle)
    if not isinstance(config, dict) or not config.get("listen_addr"):
        raise SystemExit("config: listen_addr is required")
    routes = config.get("routes")
    if not isinstance(routes, dict) or not routes:
        raise SystemExit("config: routes must be a non-empty map")
    for name, upstream in routes.items():
        if not isinstance(upstream, str) or not _UPSTREAM.match(upstream):
            raise SystemExit(f"config: route {name} upstream must be scheme://host:port")
    tls = config.get("tls") or {}
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls["cert_file"], tls["key_file"])  # raises unless readable and paired
    return config


class Answer(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.recv(4096)
        self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nstand-in")


def main() -> int:
    config = check_config()
    for name in sorted(config["routes"]):
        log("route configured", route=name)
    host, _, port = str(config["listen_addr"]).rpartition(":")
    server = socketserver.ThreadingTCPServer((host or "0.0.0.0", int(port)), Answer)  # noqa: S104
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log("listening", addr=config["listen_addr"])
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
