"""Network rules: nothing inbound, no public addresses, egress only where declared, flow logs on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stockade.guardrails.props import MISSING, as_bool, get, is_set, items
from stockade.guardrails.rule import Level, Rule, allowed, facts
from stockade.guardrails.rules import tokens
from stockade.guardrails.rules.graph import dependents, label, linked, of_type
from stockade.guardrails.rules.permissions import Permission, internet_wide, permissions, private_source

if TYPE_CHECKING:
    from pulumi_policy import (
        PolicyResource,
        ReportViolation,
        ResourceValidationArgs,
        StackValidationArgs,
    )


def _group_name(permission: Permission) -> str:
    group = permission.group
    return group.name if group is not None else f"(group of {permission.declared_by.name})"


def _endpoint_only(group: PolicyResource, resources: list[PolicyResource]) -> bool:
    """A group used by interface VPC endpoints and nothing else.

    Interface endpoints need inbound 443 from their clients; that is the one
    ingress the perimeter has, and only on such a group. A group nobody uses is
    not assumed to be an endpoint group.
    """
    users = [
        r
        for r in dependents(resources, group)
        if r.resource_type not in tokens.SECURITY_GROUP_RULES and r.resource_type != tokens.SECURITY_GROUP
    ]
    return bool(users) and all(r.resource_type == tokens.VPC_ENDPOINT for r in users)


def _private_https(permission: Permission) -> bool:
    sources_ok = all(private_source(c) for c in permission.cidrs) and not any(
        ref.startswith("pl-") for ref in permission.references
    )
    return permission.https_only and sources_ok and bool(permission.cidrs or permission.references)


def check_no_ingress(args: StackValidationArgs, report: ReportViolation) -> None:
    resources = list(args.resources)
    for permission in permissions(resources, "ingress"):
        group = permission.group
        if group is not None and _endpoint_only(group, resources) and _private_https(permission):
            continue
        report(
            f"security group {_group_name(permission)} accepts inbound {permission.describe()} "
            f"(declared by {label(permission.declared_by)})",
            permission.declared_by.urn,
        )
    for balancer in of_type(resources, tokens.LOAD_BALANCERS):
        if as_bool(get(balancer.props, "internal")) is not True:
            report(f"load balancer {balancer.name} is internet-facing (internal is not true)", balancer.urn)
    for balancer in of_type(resources, [tokens.CLASSIC_ELB]):
        if as_bool(get(balancer.props, "internal")) is not True:
            report(f"classic load balancer {balancer.name} is internet-facing", balancer.urn)
    for container in of_type(resources, [tokens.DOCKER_CONTAINER]):
        published = [p for p in items(get(container.props, "ports")) if p is not MISSING]
        if published:
            report(
                f"container {container.name} publishes {len(published)} port(s) on the host; "
                "the perimeter accepts no inbound connections",
                container.urn,
            )


NO_INGRESS = Rule(
    name="no-ingress",
    description="No inbound path: no security group ingress, no published port, nothing internet-facing.",
    level=Level.MANDATORY,
    remediation=(
        "Remove the ingress rule (sandboxes, workers and the tunnel gateway only dial out). The one "
        "exception is a group used only by interface VPC endpoints, which may accept TCP 443 from "
        "private ranges or security groups. Load balancers must be internal; containers publish no ports."
    ),
    stack_check=check_no_ingress,
)


def check_no_public_ip(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props, kind = args.props, args.resource_type
    if kind == tokens.SUBNET:
        if as_bool(get(props, "mapPublicIpOnLaunch")) is True:
            report("subnet maps a public IPv4 address to every interface launched in it", None)
        if as_bool(get(props, "assignIpv6AddressOnCreation")) is True:
            report("subnet gives every interface a globally routable IPv6 address", None)
    elif kind in (tokens.ECS_SERVICE, tokens.ECS_TASK_SET):
        if as_bool(get(props, "networkConfiguration", "assignPublicIp")) is True:
            report("ECS tasks get a public IP (networkConfiguration.assignPublicIp)", None)
    elif kind == tokens.EVENT_TARGET:
        if as_bool(get(props, "ecsTarget", "networkConfiguration", "assignPublicIp")) is True:
            report("scheduled ECS tasks get a public IP (ecsTarget.networkConfiguration)", None)
    elif kind == tokens.SCHEDULE:
        path = ("target", "ecsParameters", "networkConfiguration", "assignPublicIp")
        if as_bool(get(props, *path)) is True:
            report("scheduled ECS tasks get a public IP (target.ecsParameters.networkConfiguration)", None)
    elif kind == tokens.INSTANCE:
        if as_bool(get(props, "associatePublicIpAddress")) is True:
            report("instance gets a public IP (associatePublicIpAddress)", None)
    elif kind == tokens.LAUNCH_TEMPLATE:
        for interface in items(get(props, "networkInterfaces")):
            if as_bool(get(interface, "associatePublicIpAddress")) is True:
                report("launch template gives interfaces a public IP", None)
    elif kind == tokens.EIP:
        # A NAT gateway's address carries no instance/interface; one bound to a workload does.
        if is_set(get(props, "instance")) or is_set(get(props, "networkInterface")):
            report("elastic IP is bound to an instance or network interface", None)
    elif kind == tokens.EIP_ASSOCIATION:
        report("elastic IP association gives an instance or interface a public address", None)


NO_PUBLIC_IP = Rule(
    name="no-public-ip",
    description="No workload gets a public IP address.",
    level=Level.MANDATORY,
    remediation=(
        "Set assignPublicIp: false on ECS services and scheduled tasks, mapPublicIpOnLaunch: false on "
        "subnets, and reach the internet through the NAT / egress-filtering path. Elastic IPs belong "
        "only to NAT gateways."
    ),
    resource_check=check_no_public_ip,
)


def _domain_filter(resources: list[PolicyResource]) -> PolicyResource | None:
    filters = of_type(resources, [tokens.NETWORK_FIREWALL, tokens.DNS_FIREWALL_ASSOCIATION])
    return filters[0] if filters else None


def check_egress_declared(args: StackValidationArgs, report: ReportViolation) -> None:
    stack_facts = facts(args)
    resources = list(args.resources)
    domain_filter = _domain_filter(resources)
    for permission in permissions(resources, "egress"):
        wide = [c for c in permission.cidrs if internet_wide(c)]
        if not wide:
            continue
        where = f"security group {_group_name(permission)} allows egress {permission.describe()}"
        if stack_facts.open_egress_allowed:
            allowed(
                report,
                f"{where} (network.egress.mode is 'open')",
                permission.declared_by.urn,
            )
        elif permission.https_only and domain_filter is not None:
            # Filtered mode: a domain allowlist needs HTTPS to any address at the group level;
            # the stack's DNS Firewall / Network Firewall does the filtering.
            continue
        elif permission.https_only:
            report(
                f"{where}, but the stack has no domain filter (DNS Firewall rule group association or "
                "Network Firewall) to restrict it",
                permission.declared_by.urn,
            )
        else:
            report(f"{where}; network.egress.mode is 'filtered'", permission.declared_by.urn)


EGRESS_DECLARED = Rule(
    name="egress-declared-only",
    description="No egress to 0.0.0.0/0 (or any internet-wide range) unless the stack declares open egress.",
    level=Level.MANDATORY,
    remediation=(
        "List exact destinations (VPC endpoints, the S3 prefix list, the cloudflared edge ranges, route "
        "targets, network.egress.allowedCidrs). HTTPS to any address is accepted only together with the "
        "stack's domain filter. To allow everything, set network.egress.mode: open (reported as a weakening)."
    ),
    stack_check=check_egress_declared,
    facts=("open_egress_allowed",),
    allowed_by="network.egress.mode: open",
)


def check_flow_logs(args: StackValidationArgs, report: ReportViolation) -> None:
    stack_facts = facts(args)
    resources = list(args.resources)
    logs = of_type(resources, [tokens.FLOW_LOG])
    covered = {vpc.urn for log in logs if (vpc := linked(log, "vpcId", of_type(resources, [tokens.VPC])))}
    for vpc in of_type(resources, [tokens.VPC]):
        if vpc.urn in covered:
            continue
        message = f"VPC {vpc.name} has no flow log"
        if stack_facts.flow_logs_disabled_allowed:
            allowed(report, f"{message} (network.flowLogs.enabled is false)", vpc.urn)
        else:
            report(message, vpc.urn)


VPC_FLOW_LOGS = Rule(
    name="vpc-flow-logs",
    description="Every VPC the stack creates records its traffic in flow logs.",
    level=Level.MANDATORY,
    remediation="Keep network.flowLogs.enabled: true (the default); the Network component adds the flow log.",
    stack_check=check_flow_logs,
    facts=("flow_logs_disabled_allowed",),
    allowed_by="network.flowLogs.enabled: false",
)

RULES = (NO_INGRESS, NO_PUBLIC_IP, EGRESS_DECLARED, VPC_FLOW_LOGS)
