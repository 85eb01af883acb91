"""What the VPC-wide allowlists hold, and that every AWS call Stockade's roles make can pass the
VPC endpoint policies (a role allowed to call something the endpoint refuses is a silent outage)."""

from __future__ import annotations

import json
from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import Any

import pytest

from stockade.engine import SynthResult

from .conftest import PROJECT_DIR

RULE_GROUP = "aws:networkfirewall/ruleGroup:RuleGroup"
DNS_LIST = "aws:route53/resolverFirewallDomainList:ResolverFirewallDomainList"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
POLICY_TYPES = ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy")
# The tunnel images' public registries (docs/vendor-interface.md §2.1 digests and the init image).
TUNNEL_REGISTRIES = (
    "registry-1.docker.io",
    "auth.docker.io",
    "production.cloudflare.docker.com",
    "us-docker.pkg.dev",
)
# IAM action prefix -> the interface endpoint that carries those calls (ecr.dkr carries the
# Docker registry API, which IAM authorises as ecr:* actions already checked against ecr.api).
ENDPOINT_OF_PREFIX = {
    "ecr": "ecr.api",
    "ecs": "ecs",
    "logs": "logs",
    "secretsmanager": "secretsmanager",
    "kms": "kms",
    "sts": "sts",
    "cloudwatch": "monitoring",
    "ssmmessages": "ssmmessages",
}
SETUP = {
    "token": None,
    "certificates": {"source": "setup"},
    "setup": {"enabled": True, "federationRuleId": "fdrl_01abc", "organizationId": "org-0123456789"},
    "images": {"awsCli": "public.ecr.aws/aws-cli/aws-cli@sha256:" + "1" * 64},
}


def _sni_targets(result: SynthResult) -> list[str]:
    group = next(r for r in result.by_type(RULE_GROUP) if r.name == "stockade-network-nfw-domains")
    targets = group.inputs["ruleGroup"]["rulesSource"]["rulesSourceList"]["targets"]
    assert isinstance(targets, list)
    return targets


def _dns_names(result: SynthResult) -> list[str]:
    names = [d for r in result.by_type(DNS_LIST) for d in r.inputs.get("domains", [])]
    assert names, "prod-use1 has a DNS Firewall allowlist"
    return names


@pytest.fixture(scope="module")
def with_tunnel_changes() -> Callable[[dict[str, Any]], SynthResult]:
    from stockade.engine import synthesize_config
    from stockade.settings.load import read_stack_file

    def run(changes: dict[str, Any]) -> SynthResult:
        config = read_stack_file(PROJECT_DIR, "prod-use1").config
        tunnel = dict(config["stockade:tunnel"])
        for key, value in changes.items():
            if value is None:
                tunnel.pop(key, None)
            else:
                tunnel[key] = value
        config["stockade:tunnel"] = tunnel
        return synthesize_config("prod-use1", config)

    return run


def test_mirrored_tunnel_images_put_no_public_registry_on_the_allowlists(synth_stack) -> None:
    result = synth_stack("prod-use1")
    sni, dns = _sni_targets(result), _dns_names(result)
    for registry in TUNNEL_REGISTRIES:
        assert not any(registry in name for name in [*sni, *dns]), registry
    # cloudflared resolves its edge under argotunnel.com but dials it by address on 7844, so the
    # name only has to resolve: it is on the DNS list and not on the SNI list.
    assert any("argotunnel.com" in name for name in dns)
    assert not any("argotunnel.com" in name for name in sni)


def test_unmirrored_tunnel_images_put_their_registries_on_the_allowlists(with_tunnel_changes) -> None:
    result = with_tunnel_changes({"images": {"mirror": False}})
    sni = _sni_targets(result)
    for registry in TUNNEL_REGISTRIES:
        assert any(registry in name for name in sni), registry
    assert any("tunnel.images.mirror" in w for w in result.weakenings)


def _endpoint_actions(result: SynthResult) -> dict[str, list[str]]:
    """Interface endpoint service (`ecs`, `ecr.api`, ...) -> the actions its policy allows."""
    allowed: dict[str, list[str]] = {}
    for endpoint in result.by_type(ENDPOINT):
        if endpoint.inputs.get("vpcEndpointType") != "Interface":
            continue
        service = endpoint.inputs["serviceName"].split(".", 3)[3]
        policy = json.loads(endpoint.inputs["policy"])
        allowed[service] = [
            action
            for statement in policy["Statement"]
            if statement["Effect"] == "Allow"
            for action in (
                [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
            )
        ]
    return allowed


def _role_actions(result: SynthResult) -> set[tuple[str, str]]:
    """(policy name, action) for every Allow in every IAM policy of the synth."""
    found = set()
    for token in POLICY_TYPES:
        for resource in result.by_type(token):
            for statement in json.loads(resource.inputs["policy"])["Statement"]:
                if statement.get("Effect", "Allow") != "Allow":
                    continue
                actions = statement["Action"]
                for action in [actions] if isinstance(actions, str) else actions:
                    found.add((resource.name, action))
    return found


@pytest.mark.parametrize("setup", [False, True], ids=["prod-use1", "prod-use1-with-setup"])
def test_every_role_action_on_an_endpoint_service_passes_its_endpoint_policy(
    synth_stack, with_tunnel_changes, setup: bool
) -> None:
    result = with_tunnel_changes(SETUP) if setup else synth_stack("prod-use1")
    endpoints = _endpoint_actions(result)
    assert {"ecs", "secretsmanager", "kms", "logs", "ecr.api", "sts"} <= set(endpoints)
    actions = _role_actions(result)
    if setup:
        assert ("stockade-tunnel-setup-init-role-policy", "secretsmanager:PutSecretValue") in actions
        assert ("stockade-tunnel-setup-init-role-policy", "ecs:UpdateService") in actions
    refused = []
    checked = 0
    for policy, action in sorted(actions):
        service = ENDPOINT_OF_PREFIX.get(action.split(":", 1)[0])
        if service is None or service not in endpoints:
            continue  # no interface endpoint for it (iam:PassRole, s3 through the gateway)
        checked += 1
        if not any(fnmatchcase(action, allowed) for allowed in endpoints[service]):
            refused.append(f"{policy}: {action} (endpoint {service})")
    assert checked > 20
    assert refused == []
