"""A stack's perimeter as a Mermaid flowchart, drawn from its desired state.

What goes out and where: sandboxes and workers through the egress filter (Network
Firewall, DNS Firewall or the Docker egress proxy) to the allowlisted
destinations; the MCP tunnel gateway out to the tunnel edge and on to the
internal routes it serves; and what comes in, which should be nothing. Every
fact is read from the synth's resources (`SynthResource.as_json` form), so the
picture cannot disagree with what would be deployed; `stockade diff` draws the
head's picture when a change moves the perimeter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from stockade.review import egress, netrules
from stockade.review.text import strings_in

MAX_DESTINATIONS = 20
_ROUTE_LINE = re.compile(r"^  ([A-Za-z0-9_.-]+): (\S+)$")
_TUNNEL_CONFIG_MARK = "from stockade:tunnel settings"


def _label(text: str) -> str:
    """Text safe inside a quoted Mermaid label."""
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def _types(resources: Sequence[Mapping[str, Any]]) -> set[str]:
    return {str(r.get("type", "")) for r in resources}


def _has(types: Iterable[str], fragment: str) -> bool:
    return any(fragment in t for t in types)


def tunnel_routes(
    resources: Sequence[Mapping[str, Any]], outputs: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """(route name, upstream) from the rendered mcp-proxy config, wherever the stack carries it."""
    texts = [*strings_in(outputs), *(s for r in resources for s in strings_in(r.get("inputs")))]
    for text in texts:
        if _TUNNEL_CONFIG_MARK in text and "\nroutes:\n" in text:
            block = text.split("\nroutes:\n", 1)[1]
            routes = []
            for line in block.splitlines():
                match = _ROUTE_LINE.match(line)
                if not match:
                    break
                routes.append((match.group(1), match.group(2)))
            return routes
    return []


def _allowlisted(resources: Sequence[Mapping[str, Any]]) -> list[str]:
    found: set[str] = set()
    for resource in resources:
        inputs = resource.get("inputs")
        for destination in egress.destinations(
            str(resource.get("type", "")), inputs if isinstance(inputs, Mapping) else None
        ):
            if (
                "route" in destination.what
                or "endpoint" in destination.what
                or "prefix list" in destination.what
            ):
                continue
            found.add(destination.target)
    return sorted(found)


def _public_ingress(resources: Sequence[Mapping[str, Any]]) -> list[str]:
    opened = []
    for resource in resources:
        inputs = resource.get("inputs")
        permissions = netrules.permissions(
            str(resource.get("type", "")), inputs if isinstance(inputs, Mapping) else None, "ingress"
        )
        opened += [
            f"{resource.get('name')}: {p.describe('from')}"
            for p in permissions
            if p.peer in netrules.ANYWHERE
        ]
        if resource.get("type") == "docker:index/container:Container" and isinstance(inputs, Mapping):
            for port in inputs.get("ports") or ():
                if isinstance(port, Mapping) and not str(port.get("ip") or "0.0.0.0").startswith("127."):  # noqa: S104
                    opened.append(f"{resource.get('name')}: host port {port.get('external')}")
    return sorted(opened)


def perimeter_mermaid(
    stack: str, resources: Sequence[Mapping[str, Any]], outputs: Mapping[str, Any] | None = None
) -> str:
    """The Mermaid source (without the code fence) for one stack's perimeter."""
    types = _types(resources)
    outputs = outputs or {}
    lines = ["flowchart LR", f'  subgraph perimeter["{_label(f"stack {stack}: inside the perimeter")}"]']
    senders: list[str] = []
    if _has(types, ":SandboxFleet"):
        lines += ['    sandboxes["Sandboxes (session tools)"]', '    workers["Workers / pollers"]']
        senders += ["sandboxes", "workers"]
    for prefix, label in (
        ("cloudflare:", "Cloudflare Sandbox Worker"),
        ("vercel:", "Vercel sandbox project"),
    ):
        if any(t.startswith(prefix) for t in types) and not _has(types, ":SandboxFleet"):
            name = prefix.rstrip(":")
            lines.append(f'    {name}["{label}: runs on the provider, egress is the provider\'s"]')
            senders.append(name)
    if _has(types, ":ProviderBridge"):
        lines.append('    bridge["Provider bridge"]')
        senders.append("bridge")
    filters = []
    if "aws:networkfirewall/firewall:Firewall" in types:
        filters.append("AWS Network Firewall: TLS SNI allowlist")
    if _has(types, "resolverFirewallRuleGroupAssociation"):
        filters.append("Route 53 DNS Firewall: domain allowlist")
    docker_proxy = any(
        "acl " in text and "dstdomain" in text
        for r in resources
        if r.get("type") == "docker:index/container:Container"
        for text in strings_in((r.get("inputs") or {}).get("uploads"))
    )
    if docker_proxy:
        filters.append("Egress proxy (squid): domain allowlist")
    has_gateway = _has(types, ":TunnelGateway")
    if has_gateway:
        lines.append('    gateway["MCP tunnel gateway: cloudflared + mcp-proxy"]')
    if filters:
        lines.append(f'    filter["{"<br/>".join(_label(f) for f in filters)}"]')
    lines.append("  end")

    destinations = _allowlisted(resources)
    if senders:
        target = "filter" if filters else "internet_open"
        for sender in senders:
            lines.append(f"  {sender} --> {target}")
        if filters:
            shown = destinations[:MAX_DESTINATIONS]
            more = len(destinations) - len(shown)
            items = [*shown, *([f"+{more} more"] if more else [])] or ["(nothing allowlisted)"]
            text = "<br/>".join(_label(item) for item in items)
            lines += [f'  allowed["{text}"]', "  filter -->|allowlisted only| allowed"]
        else:
            lines.append('  internet_open["Internet: egress not filtered"]')
    lines.append('  vendor["Vendor API: work queue, outbound only"]')
    if senders:
        lines.append(f"  {senders[-1]} -.->|long-poll| vendor")
    if has_gateway:
        lines += ['  edge["Tunnel edge (Cloudflare), outbound 7844"]', "  gateway -->|outbound tunnel| edge"]
        for index, (name, upstream) in enumerate(tunnel_routes(resources, outputs)):
            lines += [
                f'  route{index}["{_label(f"{name}: {upstream}")}"]',
                f"  gateway -->|route| route{index}",
            ]
    opened = _public_ingress(resources)
    if opened:
        opened_text = "<br/>".join(_label(item) for item in opened[:MAX_DESTINATIONS])
        lines += ['  inbound["Internet: INBOUND OPEN"]', f'  inbound ==>|"{opened_text}"| perimeter']
    else:
        lines += [
            '  inbound["Internet: nothing inbound (no public ingress rule, no published port)"]',
            "  inbound -.-x perimeter",
        ]
    return "\n".join(lines) + "\n"


def perimeter_of(synth: Mapping[str, Any]) -> str:
    """The diagram for a synth document (`SynthResult.as_json`)."""
    resources = [r for r in synth.get("resources") or () if isinstance(r, Mapping)]
    outputs = synth.get("outputs")
    return perimeter_mermaid(
        str(synth.get("stack", "")), resources, outputs if isinstance(outputs, Mapping) else None
    )
