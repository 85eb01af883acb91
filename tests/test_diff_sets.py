"""Set-aware diffs and egress widening: allowlists, CIDR lists, rules, routes and statements diff as sets.

Each case that must be risky has a neighbour that must not be (a narrowing, a
reorder), so a rule that fires on everything fails here.
"""

from __future__ import annotations

import json
from typing import Any

from stockade.review.desired import diff_states
from stockade.review.markdown import render_json, render_markdown
from stockade.review.model import Review
from stockade.review.paths import diff_leaves, format_path
from stockade.review.preview import review_preview

from .test_diff_rules import resource, state

DOMAINS = ["files.pythonhosted.org", "pypi.org", "registry.npmjs.org"]
DOMAIN_LIST = "aws:route53/resolverFirewallDomainList:ResolverFirewallDomainList"
RULE_GROUP = "aws:networkfirewall/ruleGroup:RuleGroup"
ROUTE = "aws:ec2/route:Route"


def domain_list(domains: list[str]) -> dict[str, Any]:
    return resource(DOMAIN_LIST, "dns-allowed", {"domains": domains, "name": "allowed"})


def rule_group(targets: list[str], rules: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    source: dict[str, Any] = {
        "rulesSourceList": {"generatedRulesType": "ALLOWLIST", "targetTypes": ["TLS_SNI"], "targets": targets}
    }
    if rules is not None:
        source = {"statefulRules": rules}
    return resource(RULE_GROUP, "nfw", {"ruleGroup": {"rulesSource": source}, "type": "STATEFUL"})


def review_of(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> Review:
    return Review(source="diff", stacks=(diff_states("staging", state(*old), state(*new)),))


def test_adding_pastebin_to_the_allowlist_is_risky_and_shows_one_plus_line() -> None:
    new_domains = ["pastebin.com", *DOMAINS]
    review = review_of(
        [domain_list(DOMAINS), rule_group(DOMAINS)], [domain_list(new_domains), rule_group(new_domains)]
    )
    [stack] = review.stacks
    assert len(stack.changes) == 2
    for change in stack.changes:
        assert [r.rule for r in change.risks] == ["egress-widened"]
        assert "pastebin.com" in change.risks[0].reason
        # One property line per added element; no shifted indices.
        assert [(p.kind, p.member, p.new) for p in change.properties] == [("add", True, "pastebin.com")]
    text = render_markdown(review)
    assert "`domains`: + `pastebin.com`" in text
    assert "`ruleGroup.rulesSource.rulesSourceList.targets`: + `pastebin.com`" in text
    assert "DNS allowlist admits `pastebin.com`" in text
    assert "No risky changes" not in text
    assert "[3]" not in text and "→" not in text


def test_removing_a_domain_is_reported_as_narrowing_not_risk() -> None:
    review = review_of([domain_list(DOMAINS)], [domain_list(["pypi.org", "registry.npmjs.org"])])
    [change] = review.stacks[0].changes
    assert change.risks == ()
    assert change.narrowed == ("DNS allowlist admits `files.pythonhosted.org`",)
    text = render_markdown(review)
    assert "`domains`: − `files.pythonhosted.org`" in text  # noqa: RUF001 - the minus sign is the output
    assert "egress narrowed: DNS allowlist admits `files.pythonhosted.org`" in text
    assert json.loads(render_json(review))["stacks"][0]["resources"][0]["narrowed"]


def test_reordering_a_set_is_no_change_at_all() -> None:
    review = review_of([domain_list(DOMAINS)], [domain_list(list(reversed(DOMAINS)))])
    assert review.stacks[0].changes == ()


def test_the_block_everything_list_is_not_an_allowlist() -> None:
    review = review_of(
        [resource(DOMAIN_LIST, "dns-everything", {"domains": ["*"]})],
        [resource(DOMAIN_LIST, "dns-everything", {"domains": ["*", "evil.example"]})],
    )
    assert review.stacks[0].changes[0].risks == ()


def test_a_new_firewall_pass_rule_names_its_destination() -> None:
    def rule(destination: str, port: str) -> dict[str, Any]:
        return {
            "action": "PASS",
            "header": {"destination": destination, "destinationPort": port, "protocol": "TCP"},
        }

    old = [rule_group([], [rule("198.41.192.0/19", "7844")])]
    new = [rule_group([], [rule("198.41.192.0/19", "7844"), rule("0.0.0.0/0", "22")])]
    [change] = review_of(old, new).stacks[0].changes
    assert [r.reason for r in change.risks] == [
        "newly allowed: Network Firewall passes `TCP to 0.0.0.0/0 port 22`"
    ]
    [prop] = change.properties
    assert prop.member and prop.kind == "add"


def test_a_new_default_route_is_egress_widening_and_a_changed_target_too() -> None:
    via_nat = {"destinationCidrBlock": "0.0.0.0/0", "natGatewayId": "nat-1", "routeTableId": "rt-1"}
    via_igw = {**via_nat, "natGatewayId": None, "gatewayId": "igw-1"}
    added = review_of([], [resource(ROUTE, "default", via_nat)]).stacks[0].changes[0]
    assert "route `0.0.0.0/0 via natGatewayId nat-1`" in added.risks[0].reason
    moved = review_of([resource(ROUTE, "default", via_nat)], [resource(ROUTE, "default", via_igw)])
    [change] = moved.stacks[0].changes
    assert [r.rule for r in change.risks] == ["egress-widened"]
    assert "gatewayId igw-1" in change.risks[0].reason
    assert change.narrowed == ("route `0.0.0.0/0 via natGatewayId nat-1`",)


def test_sg_cidr_lists_diff_as_sets_and_a_new_cidr_is_named() -> None:
    def sg(cidrs: list[str]) -> dict[str, Any]:
        block = {"protocol": "tcp", "fromPort": 443.0, "toPort": 443.0, "cidrBlocks": cidrs}
        return resource("aws:ec2/securityGroup:SecurityGroup", "sg", {"egress": [block]})

    [change] = review_of([sg(["10.0.0.0/16"])], [sg(["10.0.0.0/16", "203.0.113.0/24"])]).stacks[0].changes
    assert "203.0.113.0/24" in change.risks[0].reason
    # The egress block is one set element: the old one goes, the new one comes.
    assert sorted(p.kind for p in change.properties) == ["add", "delete"]
    assert all(p.member for p in change.properties)


def test_policy_statements_diff_by_sid_and_actions_as_sets() -> None:
    def policy(actions: list[str]) -> dict[str, Any]:
        document = {"Statement": [{"Sid": "Read", "Effect": "Allow", "Action": actions, "Resource": "*"}]}
        return resource("aws:iam/policy:Policy", "p", {"policy": json.dumps(document)})

    [change] = (
        review_of([policy(["s3:GetObject"])], [policy(["s3:PutObject", "s3:GetObject"])]).stacks[0].changes
    )
    assert [(p.path, p.kind, p.new) for p in change.properties] == [
        ("policy(json).Statement[Sid=Read].Action", "add", "s3:PutObject")
    ]


def test_an_endpoint_to_a_new_service_and_a_proxy_domain_are_widening() -> None:
    endpoint = resource(
        "aws:ec2/vpcEndpoint:VpcEndpoint", "ep", {"serviceName": "com.amazonaws.us-east-1.ssm"}
    )
    [change] = review_of([], [endpoint]).stacks[0].changes
    assert "VPC endpoint to `com.amazonaws.us-east-1.ssm`" in change.risks[-1].reason

    def proxy(domains: str) -> dict[str, Any]:
        content = f"http_port 3128\nacl stockade_domains dstdomain -n {domains}\nhttp_access allow all\n"
        return resource("docker:index/container:Container", "proxy", {"uploads": [{"content": content}]})

    [change] = review_of([proxy("pypi.org")], [proxy("pypi.org pastebin.com")]).stacks[0].changes
    assert [r.reason for r in change.risks] == ["newly allowed: egress proxy admits domain `pastebin.com`"]


def test_ordered_lists_stay_positional_and_sort_naturally() -> None:
    old = {"command": [f"arg{i}" for i in range(12)]}
    new = {"command": [f"ARG{i}" for i in range(12)]}
    paths = [format_path(leaf.path) for leaf in diff_leaves(old, new)]
    assert paths == [f"command[{i}]" for i in range(12)]  # [7] before [10], not text order


def test_a_preview_detailed_diff_into_a_set_is_widened_to_the_set() -> None:
    urn = f"urn:pulumi:staging::stockade::{DOMAIN_LIST}::dns-allowed"
    old = {"urn": urn, "type": DOMAIN_LIST, "inputs": {"domains": DOMAINS}, "outputs": {}}
    new = {"urn": urn, "type": DOMAIN_LIST, "inputs": {"domains": ["a.example", *DOMAINS]}, "outputs": {}}
    # The provider reports positions: every index after the insertion shifts.
    detailed = {f"domains[{i}]": {"kind": "update", "inputDiff": True} for i in range(3)}
    detailed["domains[3]"] = {"kind": "add", "inputDiff": True}
    document = {
        "steps": [{"op": "update", "urn": urn, "oldState": old, "newState": new, "detailedDiff": detailed}]
    }
    [change] = review_preview(document).changes
    assert [(p.path, p.kind, p.new) for p in change.properties] == [("domains", "add", "a.example")]
    assert "DNS allowlist admits `a.example`" in change.risks[0].reason
