"""The tunnel proxy's SSRF guard: `upstream.allowed_ips` no wider than the routes' targets.

The rule finds the rendered proxy config wherever the gateway put it (an SSM
parameter, a container environment value, a Docker upload; plain or base64),
so it checks what will actually be deployed rather than the settings.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import yaml

from stockade.guardrails.facts import PolicyFacts
from stockade.guardrails.props import items, strings
from stockade.guardrails.rule import Level, Rule, allowed, facts
from stockade.guardrails.rules import tokens

if TYPE_CHECKING:
    from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

# What the proxy allows when allowed_ips is absent (docs/vendor-interface.md §2.2).
PROXY_DEFAULT_ALLOWED = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


def proxy_configs(resources: Sequence[PolicyResource]) -> Iterator[tuple[PolicyResource, dict[str, Any]]]:
    """Every mcp-proxy config document found in the resources' properties."""
    for resource in resources:
        # The root Stack resource carries the exports, where a gateway that stores its config as a
        # secret (unreadable offline) publishes the same rendered text.
        if not resource.resource_type.startswith(("aws:", "docker:", "pulumi:pulumi:Stack")):
            continue
        seen: set[str] = set()
        for text in strings(resource.props):
            if "routes" not in text or "listen_addr" not in text or text in seen:
                continue
            seen.add(text)
            try:
                document = yaml.safe_load(text)
            except yaml.YAMLError:
                continue
            if isinstance(document, dict) and "routes" in document and "listen_addr" in document:
                yield resource, document


def _networks(values: Any) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network | None]:
    found: list[ipaddress.IPv4Network | ipaddress.IPv6Network | None] = []
    for value in items(values):
        try:
            found.append(ipaddress.ip_network(str(value), strict=False))
        except ValueError:
            found.append(None)
    return found


def _within(
    network: ipaddress.IPv4Network | ipaddress.IPv6Network, allowed_nets: list[ipaddress.IPv4Network]
) -> bool:
    """Every address of `network` lies in the union of `allowed_nets`.

    Collapsing first matters: 10.0.0.0/24 is within routes 10.0.0.0/25 + 10.0.0.128/25
    although neither route alone contains it.
    """
    if not isinstance(network, ipaddress.IPv4Network):
        return False
    return any(network.subnet_of(block) for block in ipaddress.collapse_addresses(allowed_nets))


def widening(allowed_ips: Sequence[str], stack_facts: PolicyFacts) -> tuple[list[str], list[str]]:
    """(undeclared, declared): allowed_ips entries wider than the routes, by whether config lists them."""
    routes = stack_facts.route_networks()
    declared = stack_facts.declared_networks()
    undeclared: list[str] = []
    spelled_out: list[str] = []
    for text, network in zip(allowed_ips, _networks(list(allowed_ips)), strict=True):
        if network is not None and _within(network, routes):
            continue
        if network is not None and _within(network, declared):
            spelled_out.append(text)
        else:
            undeclared.append(text)
    return undeclared, spelled_out


def _check_config(
    resource: PolicyResource, config: dict[str, Any], stack_facts: PolicyFacts, report: ReportViolation
) -> None:
    upstream = config.get("upstream") or {}
    if not isinstance(upstream, dict):
        upstream = {}
    where = f"proxy config in {resource.name}"
    if upstream.get("disable_ip_validation") is True:
        message = f"{where} disables upstream IP validation (the proxy's SSRF check)"
        if stack_facts.ip_validation_disabled_allowed:
            allowed(report, f"{message} (tunnel.disableIpValidation is true)", resource.urn)
        else:
            report(message, resource.urn)
        return
    raw = upstream.get("allowed_ips")
    effective = [str(v) for v in raw] if isinstance(raw, list) else list(PROXY_DEFAULT_ALLOWED)
    undeclared, declared = widening(effective, stack_facts)
    if undeclared:
        source = "allowed_ips" if isinstance(raw, list) else "allowed_ips is unset, so the proxy default"
        report(
            f"{where}: {source} admits {', '.join(undeclared)}, wider than the route targets "
            f"({', '.join(stack_facts.tunnel_route_cidrs) or 'none declared'})",
            resource.urn,
        )
    if declared:
        allowed(
            report,
            f"{where}: allowed_ips admits {', '.join(declared)} beyond the route targets "
            "(tunnel.allowedIps lists them)",
            resource.urn,
        )


def check_tunnel_allowed_ips(args: StackValidationArgs, report: ReportViolation) -> None:
    stack_facts = facts(args)
    resources = list(args.resources)
    gateways = [r for r in resources if r.resource_type in tokens.TUNNEL_GATEWAY_COMPONENTS]
    configs = list(proxy_configs(resources))
    if not configs and not gateways:
        args.not_applicable("the stack has no tunnel gateway")
    if not configs:
        for gateway in gateways:
            report(
                f"tunnel gateway {gateway.name}: no rendered mcp-proxy config found among its resources, "
                "so allowed_ips cannot be checked",
                gateway.urn,
            )
    for resource, config in configs:
        _check_config(resource, config, stack_facts, report)


TUNNEL_ALLOWED_IPS = Rule(
    name="tunnel-allowed-ips",
    description=(
        "The tunnel proxy's upstream.allowed_ips admits only the routes' target networks (never the "
        "RFC1918 default), and IP validation stays on."
    ),
    level=Level.MANDATORY,
    remediation=(
        "Leave tunnel.allowedIps unset (Stockade renders exactly the route targets) or list only what the "
        "routes need; keep tunnel.disableIpValidation false. Deliver the rendered config as a plain value "
        "(the config holds no secret) so the policy can read it."
    ),
    stack_check=check_tunnel_allowed_ips,
    facts=("tunnel_route_cidrs", "tunnel_declared_allowed_ips", "ip_validation_disabled_allowed"),
    allowed_by="tunnel.allowedIps (wider than the routes) or tunnel.disableIpValidation: true",
)

RULES = (TUNNEL_ALLOWED_IPS,)
