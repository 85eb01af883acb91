"""Monthly cost of a stack's desired state: resources priced from a dated price file, usage from settings.

Fixed charges come from the resources the synth registers (how many NAT gateways,
firewall endpoints, interface endpoints per AZ, always-on Fargate tasks and their
sizes, keys, secrets, alarms, public IPv4 addresses). Traffic and load come from
`stockade:cost` (`CostSettings`), whose defaults are stated in docs/review.md.
Resources are read as the synth's JSON (`SynthResource.as_json`), so `stockade
diff` can price a base revision's desired state with this code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources as package_files
from typing import Any

from stockade.settings.cost import CostSettings

NAT_GATEWAY = "aws:ec2/natGateway:NatGateway"
EIP = "aws:ec2/eip:Eip"
FIREWALL = "aws:networkfirewall/firewall:Firewall"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
KMS_KEY = "aws:kms/key:Key"
SECRET = "aws:secretsmanager/secret:Secret"  # noqa: S105 - a type token
DNS_FIREWALL_ASSOCIATION = (
    "aws:route53/resolverFirewallRuleGroupAssociation:ResolverFirewallRuleGroupAssociation"
)
# Log groups that never expire are priced as if they kept this many months.
NEVER_EXPIRES_MONTHS = 12.0
DAYS_PER_MONTH = 30.4


class CostError(ValueError):
    """The stack cannot be priced (a region the price file does not cover); the message says how to fix it."""


@dataclass(frozen=True)
class PriceBook:
    as_of: str
    currency: str
    hours_per_month: float
    regions: Mapping[str, Mapping[str, float]]
    sources: Mapping[str, str]

    def region(self, name: str) -> Mapping[str, float]:
        if name not in self.regions:
            raise CostError(
                f"no prices for region {name!r} in stockade/cost/prices.json (as of {self.as_of}); "
                f"covered: {', '.join(sorted(self.regions))}. "
                "Add the region's prices from the sources listed there"
            )
        return self.regions[name]


@cache
def price_book() -> PriceBook:
    text = package_files.files("stockade.cost").joinpath("prices.json").read_text(encoding="utf-8")
    data = json.loads(text)
    return PriceBook(
        as_of=str(data["asOf"]),
        currency=str(data["currency"]),
        hours_per_month=float(data["hoursPerMonth"]),
        regions={name: {k: float(v) for k, v in prices.items()} for name, prices in data["regions"].items()},
        sources=dict(data["sources"]),
    )


@dataclass(frozen=True)
class LineItem:
    """One priced quantity: `quantity` units of `unit` at `unit_price` each, per month."""

    name: str
    quantity: float
    unit: str
    unit_price: float
    note: str = ""

    @property
    def monthly(self) -> float:
        return round(self.quantity * self.unit_price, 2)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "quantity": round(self.quantity, 4),
            "unit": self.unit,
            "unitPrice": self.unit_price,
            "monthly": self.monthly,
            "note": self.note,
        }


@dataclass(frozen=True)
class Estimate:
    stack: str
    region: str | None
    as_of: str
    currency: str
    items: tuple[LineItem, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def total(self) -> float:
        return round(sum(item.monthly for item in self.items), 2)

    def by_name(self) -> dict[str, float]:
        return {item.name: item.monthly for item in self.items}

    def as_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "region": self.region,
            "pricesAsOf": self.as_of,
            "currency": self.currency,
            "monthlyTotal": self.total,
            "items": [item.as_json() for item in self.items],
            "notes": list(self.notes),
        }


def _of_type(resources: Sequence[Mapping[str, Any]], type_token: str) -> list[Mapping[str, Any]]:
    return [r for r in resources if r.get("type") == type_token]


def _inputs(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    inputs = resource.get("inputs")
    return inputs if isinstance(inputs, Mapping) else {}


def _number(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _task_size(task: Mapping[str, Any]) -> tuple[float, float]:
    """(vCPU, GB) of a Fargate task definition; ECS writes CPU units (1024 = 1 vCPU) and MiB."""
    inputs = _inputs(task)
    return _number(inputs.get("cpu")) / 1024, _number(inputs.get("memory")) / 1024


def estimate(
    stack: str, resources: Sequence[Mapping[str, Any]], usage: CostSettings, region: str | None
) -> Estimate:
    """The monthly estimate for one stack's desired state (AWS resources only)."""
    book = price_book()
    aws_types = [r for r in resources if str(r.get("type", "")).startswith("aws:")]
    if not aws_types:
        return Estimate(stack, region, book.as_of, book.currency, (), ("no AWS resources: nothing priced",))
    if region is None:
        raise CostError(f"stack {stack} has AWS resources but no `aws:region`; set it in its stack file")
    price = book.region(region)
    hours = book.hours_per_month
    items: list[LineItem] = []
    notes: list[str] = []

    def add(name: str, quantity: float, unit: str, key: str, note: str = "") -> None:
        if quantity > 0:
            items.append(LineItem(name, quantity, unit, price[key], note))

    nat = len(_of_type(resources, NAT_GATEWAY))
    firewall_endpoints = sum(
        len(_inputs(f).get("subnetMappings") or ()) for f in _of_type(resources, FIREWALL)
    )
    waived = min(nat, firewall_endpoints)
    add("NAT gateway hours", (nat - waived) * hours, "gateway-hour", "natGatewayHour")
    if waived:
        notes.append(
            f"{waived} NAT gateway(s): hours and data waived by Network Firewall endpoints in their AZs"
        )
    if nat and waived < nat:
        add(
            "NAT gateway data",
            usage.egress_gb_per_month,
            "GB",
            "natGatewayGb",
            "stockade:cost.egressGbPerMonth",
        )
    add("Public IPv4 addresses", len(_of_type(resources, EIP)) * hours, "address-hour", "publicIpv4Hour")
    add("Network Firewall endpoints", firewall_endpoints * hours, "endpoint-hour", "firewallEndpointHour")
    if firewall_endpoints:
        add(
            "Network Firewall data",
            usage.egress_gb_per_month,
            "GB",
            "firewallGb",
            "stockade:cost.egressGbPerMonth",
        )

    interface_azs = sum(
        len(_inputs(e).get("subnetIds") or ())
        for e in _of_type(resources, VPC_ENDPOINT)
        if _inputs(e).get("vpcEndpointType") == "Interface"
    )
    add(
        "Interface endpoints (per AZ)",
        interface_azs * hours,
        "endpoint-AZ-hour",
        "interfaceEndpointHourPerAz",
    )
    if interface_azs:
        add(
            "Interface endpoint data",
            usage.endpoint_gb_per_month,
            "GB",
            "interfaceEndpointGb",
            "stockade:cost.endpointGbPerMonth",
        )

    tasks = {str(t.get("urn")): t for t in _of_type(resources, TASK_DEFINITION)}
    used: set[str] = set()
    vcpu_hours = gb_hours = 0.0
    for service in _of_type(resources, SERVICE):
        inputs = _inputs(service)
        if str(inputs.get("launchType", "FARGATE")) != "FARGATE":
            continue
        task_urn = next((d for d in service.get("dependsOn") or () if d in tasks), None)
        if task_urn is None:
            notes.append(f"service {service.get('name')}: task definition not found; not priced")
            continue
        used.add(task_urn)
        vcpu, gb = _task_size(tasks[task_urn])
        count = _number(inputs.get("desiredCount"), 1.0)
        vcpu_hours += count * vcpu * hours
        gb_hours += count * gb * hours
    add("Fargate vCPU, always-on services", vcpu_hours, "vCPU-hour", "fargateVcpuHour")
    add("Fargate memory, always-on services", gb_hours, "GB-hour", "fargateGbHour")
    sessions = [t for urn, t in tasks.items() if urn not in used and "session" in str(t.get("name", ""))]
    for task in sessions:
        vcpu, gb = _task_size(task)
        note = "stockade:cost.sandboxHoursPerMonth"
        add(
            "Fargate vCPU, sandbox sessions",
            usage.sandbox_hours_per_month * vcpu,
            "vCPU-hour",
            "fargateVcpuHour",
            note,
        )
        add(
            "Fargate memory, sandbox sessions",
            usage.sandbox_hours_per_month * gb,
            "GB-hour",
            "fargateGbHour",
            note,
        )

    log_groups = _of_type(resources, LOG_GROUP)
    if log_groups:
        add("Log ingestion", usage.log_gb_per_month, "GB", "logsIngestGb", "stockade:cost.logGbPerMonth")
        months = [
            min(days / DAYS_PER_MONTH, NEVER_EXPIRES_MONTHS)
            if (days := _number(_inputs(g).get("retentionInDays"))) > 0
            else NEVER_EXPIRES_MONTHS
            for g in log_groups
        ]
        kept = sum(months) / len(months)
        add(
            "Log storage (steady state)",
            usage.log_gb_per_month * kept,
            "GB-month",
            "logsStorageGbMonth",
            f"ingest kept {kept:.1f} months on average (retention)",
        )
    add("CloudWatch alarms", len(_of_type(resources, ALARM)), "alarm-month", "alarmMonth")
    add("KMS keys", len(_of_type(resources, KMS_KEY)), "key-month", "kmsKeyMonth")
    add("Secrets Manager secrets", len(_of_type(resources, SECRET)), "secret-month", "secretMonth")
    if _of_type(resources, DNS_FIREWALL_ASSOCIATION):
        add(
            "DNS Firewall queries",
            usage.dns_queries_millions_per_month,
            "million queries",
            "dnsFirewallMillionQueries",
            "stockade:cost.dnsQueriesMillionsPerMonth",
        )
    notes.append(
        "not priced: S3 and ECR storage, API requests, SNS, per-session work secrets (seconds each), "
        "data transfer out to the internet"
    )
    return Estimate(stack, region, book.as_of, book.currency, tuple(items), tuple(notes))


def render_table(result: Estimate) -> str:
    """A plain-text table: one line per item, then the total."""
    rows = [
        (i.name, f"{i.quantity:,.2f} {i.unit}", f"${i.unit_price:g}", f"${i.monthly:,.2f}")
        for i in result.items
    ]
    header = ("Item", "Quantity", "Unit price", "Monthly")
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(4)]
    lines = [
        f"Stack {result.stack} ({result.region or 'no AWS region'}), "
        f"prices as of {result.as_of}, {result.currency}",
        "",
        "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines += ["", f"Total per month: ${result.total:,.2f}"]
    lines += [f"Note: {n}" for n in result.notes]
    return "\n".join(lines) + "\n"
