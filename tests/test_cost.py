"""`stockade cost`: monthly estimates from the desired state, checked against totals worked out by hand.

The expected totals below are arithmetic on the stack files and the price file,
written out line by line; the preconditions assert the resource counts the
arithmetic assumes, so a component change that alters them fails loudly here
instead of silently changing the expected figure.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from stockade.cost.estimate import CostError, estimate, price_book
from stockade.engine.model import SynthResult
from stockade.settings import SettingsError
from stockade.settings.cost import CostSettings
from stockade.settings.load import validate

from .conftest import PROJECT_DIR

HOURS = 730
INTERFACE_ENDPOINTS = 8  # ecr.api, ecr.dkr, ecs, kms, logs, monitoring, secretsmanager, sts


def documents(result: SynthResult) -> list[dict[str, Any]]:
    return [r.as_json() for r in result.resources]


def count(result: SynthResult, type_token: str) -> int:
    return len(result.by_type(type_token))


def interface_azs(result: SynthResult) -> int:
    return sum(
        len(r.inputs.get("subnetIds") or ())
        for r in result.by_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if r.inputs.get("vpcEndpointType") == "Interface"
    )


def test_dev_total_matches_the_hand_computation(synth_stack: Callable[[str], SynthResult]) -> None:
    result = synth_stack("dev")
    # Preconditions: dev has 2 AZs, DNS-Firewall enforcement (no Network Firewall), one poller, one tunnel.
    assert count(result, "aws:ec2/natGateway:NatGateway") == 2
    assert count(result, "aws:networkfirewall/firewall:Firewall") == 0
    assert interface_azs(result) == INTERFACE_ENDPOINTS * 2
    assert count(result, "aws:cloudwatch/metricAlarm:MetricAlarm") == 6
    assert count(result, "aws:kms/key:Key") == 2
    assert count(result, "aws:secretsmanager/secret:Secret") == 5
    retention = sorted(
        g.inputs["retentionInDays"] for g in result.by_type("aws:cloudwatch/logGroup:LogGroup")
    )
    assert retention == [30, 30, 30, 365, 365]

    # us-east-2 list prices, default usage (50 GB egress, 20 GB endpoints, 200 session-hours, 5 GB logs).
    expected = [
        round(2 * HOURS * 0.045, 2),  # NAT gateway hours: 65.70
        round(50 * 0.045, 2),  # NAT data: 2.25
        round(2 * HOURS * 0.005, 2),  # two NAT public IPv4 addresses: 7.30
        round(INTERFACE_ENDPOINTS * 2 * HOURS * 0.01, 2),  # interface endpoints per AZ: 116.80
        round(20 * 0.01, 2),  # endpoint data: 0.20
        round((0.5 + 0.5) * HOURS * 0.04048, 2),  # poller + tunnel, 512 CPU units each: 29.55
        round((1 + 1) * HOURS * 0.004445, 2),  # 1 GB each: 6.49
        round(200 * 1 * 0.04048, 2),  # sessions: 1 vCPU x 200 h: 8.10
        round(200 * 4 * 0.004445, 2),  # 4 GB x 200 h: 3.56
        round(5 * 0.5, 2),  # log ingestion: 2.50
        # log storage: 5 GB a month spread over 5 groups, kept 30 days (3) or 12 months (2): 0.81
        round(5 * (3 * 30 / 30.4 + 2 * 12) / 5 * 0.03, 2),
        round(6 * 0.1, 2),  # alarms: 0.60
        2.00,  # KMS keys
        round(5 * 0.4, 2),  # secrets: 2.00
        0.60,  # DNS Firewall: 1 million queries
    ]
    priced = estimate("dev", documents(result), CostSettings(), "us-east-2")
    assert priced.total == pytest.approx(round(sum(expected), 2), abs=0.005)
    assert priced.total == pytest.approx(248.46, abs=0.005)


def test_prod_use1_total_matches_the_hand_computation(synth_stack: Callable[[str], SynthResult]) -> None:
    result = synth_stack("prod-use1")
    # Preconditions: 3 AZs, a Network Firewall endpoint in each (which waives the NAT gateways),
    # two pollers and three tunnel replicas, sessions of 2048 CPU units / 8 GiB.
    assert count(result, "aws:ec2/natGateway:NatGateway") == 3
    [firewall] = result.by_type("aws:networkfirewall/firewall:Firewall")
    assert len(firewall.inputs["subnetMappings"]) == 3
    assert interface_azs(result) == INTERFACE_ENDPOINTS * 3
    assert {g.inputs["retentionInDays"] for g in result.by_type("aws:cloudwatch/logGroup:LogGroup")} == {365}

    expected = [
        0.0,  # NAT gateway hours and data: waived by the firewall endpoints
        round(3 * HOURS * 0.005, 2),  # public IPv4: 10.95
        round(3 * HOURS * 0.395, 2),  # firewall endpoints: 865.05
        round(50 * 0.065, 2),  # firewall data: 3.25
        round(INTERFACE_ENDPOINTS * 3 * HOURS * 0.01, 2),  # 175.20
        round(20 * 0.01, 2),  # 0.20
        round((2 + 3) * 0.5 * HOURS * 0.04048, 2),  # five always-on tasks of 0.5 vCPU: 73.88
        round((2 + 3) * 1 * HOURS * 0.004445, 2),  # and 1 GB: 16.22
        round(200 * 2 * 0.04048, 2),  # sessions: 16.19
        round(200 * 8 * 0.004445, 2),  # 7.11
        round(5 * 0.5, 2),  # log ingestion: 2.50
        round(5 * 12 * 0.03, 2),  # 365-day retention, priced as 12 months kept: 1.80
        0.60,  # alarms
        2.00,  # KMS keys
        2.00,  # secrets
        0.60,  # DNS Firewall
    ]
    priced = estimate("prod-use1", documents(result), CostSettings(), "us-east-1")
    assert priced.total == pytest.approx(round(sum(expected), 2), abs=0.005)
    assert priced.total == pytest.approx(1177.55, abs=0.005)
    assert "NAT gateway hours" not in priced.by_name()


def test_usage_settings_change_the_usage_lines_only(synth_stack: Callable[[str], SynthResult]) -> None:
    result = documents(synth_stack("prod-use1"))
    base = estimate("prod-use1", result, CostSettings(), "us-east-1")
    busier = estimate("prod-use1", result, CostSettings(sandbox_hours_per_month=1200), "us-east-1")
    # 1000 more session-hours of 2 vCPU and 8 GB.
    assert busier.total - base.total == pytest.approx(1000 * (2 * 0.04048 + 8 * 0.004445), abs=0.02)


def test_usage_settings_are_validated() -> None:
    config = {
        "stockade:target": "docker",
        "stockade:environment": "dev",
        "stockade:cost": {"egressGbPerMonth": -1},
    }
    with pytest.raises(SettingsError) as caught:
        validate("dev", config)
    assert "egressGbPerMonth" in caught.value.render()


def test_an_unpriced_region_is_a_clear_error() -> None:
    resources = [{"type": "aws:kms/key:Key", "urn": "u", "inputs": {}}]
    with pytest.raises(CostError, match=r"no prices for region 'ap-south-2'.*covered: eu-west-1"):
        estimate("x", resources, CostSettings(), "ap-south-2")


def test_the_price_file_is_dated_and_every_price_has_a_source() -> None:
    book = price_book()
    assert book.as_of.startswith("20")
    for region, prices in book.regions.items():
        assert set(prices) == set(book.sources), region


def test_the_cli_prints_json_and_a_table() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "stockade.cli.app", "cost", "--stack", "prod-use1", "--format", "json"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["monthlyTotal"] == pytest.approx(1177.55, abs=0.005)
    assert document["pricesAsOf"] == price_book().as_of


def test_the_diff_shows_the_monthly_delta_and_the_items_behind_it(
    synth_stack: Callable[[str], SynthResult],
) -> None:
    from stockade.review.diff import cost_change
    from stockade.review.markdown import render_markdown
    from stockade.review.model import Review, StackReview

    old = synth_stack("dev").as_json()
    extra_key = {
        "type": "aws:kms/key:Key",
        "urn": "urn:pulumi:dev::stockade::aws:kms/key:Key::extra",
        "inputs": {},
    }
    new = {**old, "resources": [*old["resources"], extra_key]}
    change = cost_change("dev", (PROJECT_DIR, old), (PROJECT_DIR, new))
    assert not isinstance(change, str) and change is not None
    assert change.before == pytest.approx(248.46, abs=0.005)
    assert change.delta == pytest.approx(1.00, abs=0.005)
    assert change.items == (("KMS keys", 2.0, 3.0),)
    text = render_markdown(Review(source="diff", stacks=(StackReview("dev", "present", (), cost=change),)))
    assert "**Monthly estimate**: $248.46 → $249.46 (+$1.00 a month)" in text
    assert "- KMS keys: $2.00 → $3.00 (+$1.00)" in text
