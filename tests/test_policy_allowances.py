"""Weakenings the stack file spells out pass their rule but stay visible as `allowed by config`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stockade.engine import SynthResource
from stockade.guardrails.pack import policy_config
from stockade.guardrails.report import FindingKind, Status
from stockade.settings.load import validate

from .test_policy_support import (
    BASE_CONFIG,
    base_resources,
    config_with,
    edit,
    edit_containers,
    failing,
    run_rules,
)


def _allowed(report: Any, rule: str) -> list[str]:
    return [f.message for f in report.of_kind(FindingKind.ALLOWED) if f.rule == rule]


def _status(report: Any, rule: str) -> Status:
    return {o.rule: o.status for o in report.outcomes}[rule]


def _open_world(resources: list[SynthResource]) -> list[SynthResource]:
    return edit(resources, "workload-egress-edge", lambda i: i.update(cidrIpv4="0.0.0.0/0"))


def test_open_egress_is_allowed_and_reported() -> None:
    network = {"egress": {"mode": "open"}}
    report = run_rules(_open_world(base_resources()), config_with(network=network))
    assert failing(report) == set()
    assert _status(report, "egress-declared-only") is Status.ALLOWED
    messages = _allowed(report, "egress-declared-only")
    # Both world-wide rules are listed: the changed one and the baseline's HTTPS rule.
    assert len(messages) == 2
    assert all(m.startswith("allowed by config: ") and "network.egress.mode is 'open'" in m for m in messages)
    assert any("port 7844 to 0.0.0.0/0" in m for m in messages)


def test_filtered_egress_still_fails_the_same_change() -> None:
    assert failing(run_rules(_open_world(base_resources()))) == {"egress-declared-only"}


def _pool_worker(definitions: list[dict[str, Any]]) -> None:
    definitions[0]["command"] = ["ant", "beta:worker", "poll"]


def test_pool_mode_is_allowed_and_reported() -> None:
    sandboxes = {**BASE_CONFIG["stockade:sandboxes"], "mode": "pool"}
    # Pool mode reads neither the session image nor the poller count.
    sandboxes.pop("sessionImage")
    sandboxes.pop("pollerReplicas")
    report = run_rules(
        edit_containers(base_resources(), "poller", _pool_worker), config_with(sandboxes=sandboxes)
    )
    assert failing(report) == set()
    assert _status(report, "sandbox-per-session") is Status.ALLOWED
    assert "sandboxes.mode is 'pool'" in _allowed(report, "sandbox-per-session")[0]


def _key_in_sandbox(definitions: list[dict[str, Any]]) -> None:
    (session,) = [d for d in definitions if d["name"] == "session"]
    session["environment"] = [e for e in session["environment"] if e["name"] != "ANTHROPIC_ENVIRONMENT_KEY"]
    session["secrets"] = [{"name": "ANTHROPIC_ENVIRONMENT_KEY", "valueFrom": "arn:aws:secretsmanager:x"}]


def test_a_sandbox_holding_the_key_is_allowed_only_when_the_proxy_is_declared_off() -> None:
    resources = edit_containers(base_resources(), "session-task", _key_in_sandbox)
    assert failing(run_rules(resources)) == {"environment-key-only-in-proxy"}
    sandboxes = {**BASE_CONFIG["stockade:sandboxes"], "apiProxy": {"enabled": False}}
    report = run_rules(resources, config_with(sandboxes=sandboxes))
    assert failing(report) == set()
    assert _status(report, "environment-key-only-in-proxy") is Status.ALLOWED
    assert "sandboxes.apiProxy.enabled is false" in _allowed(report, "environment-key-only-in-proxy")[0]


def _every_task_prefix(inputs: dict[str, Any]) -> None:
    document = json.loads(inputs["policy"])
    document["Statement"][0]["Resource"] = document["Statement"][0]["Resource"].replace("${aws:userid}", "*")
    inputs["policy"] = json.dumps(document)


def test_a_stack_wide_artifact_write_is_allowed_only_when_declared() -> None:
    resources = edit(base_resources(), "task-role-policy", _every_task_prefix)
    assert failing(run_rules(resources)) == {"sandbox-writes-only-its-own-artifacts"}
    sandboxes = {**BASE_CONFIG["stockade:sandboxes"], "taskScopedAccess": False}
    report = run_rules(resources, config_with(sandboxes=sandboxes))
    assert failing(report) == set()
    assert _status(report, "sandbox-writes-only-its-own-artifacts") is Status.ALLOWED
    (message,) = _allowed(report, "sandbox-writes-only-its-own-artifacts")
    assert "tasks/*/*" in message and "sandboxes.taskScopedAccess is false" in message


def _exec_on(name: str, resources: list[SynthResource]) -> list[SynthResource]:
    return edit(resources, name, lambda i: i.update(enableExecuteCommand=True))


def test_ecs_exec_is_allowed_on_the_fleet_only() -> None:
    sandboxes = {**BASE_CONFIG["stockade:sandboxes"], "enableExec": True}
    config = config_with(sandboxes=sandboxes)
    fleet = run_rules(_exec_on("poller-service", base_resources()), config)
    assert failing(fleet) == set()
    assert "sandboxes.enableExec is true" in _allowed(fleet, "no-ecs-exec")[0]
    # The same declaration never covers the tunnel gateway.
    gateway = run_rules(_exec_on("gateway-service", base_resources()), config)
    assert failing(gateway) == {"no-ecs-exec"}


def _config_text(resources: list[SynthResource]) -> str:
    (param,) = [r for r in resources if r.name == "gateway-proxy-config"]
    return str(param.inputs["insecureValue"])


def test_disabled_ip_validation_is_allowed_and_reported() -> None:
    from stockade.engine import synthesize_config

    from .test_policy_support import compliant_program

    tunnel = {**BASE_CONFIG["stockade:tunnel"], "disableIpValidation": True}
    config = config_with(tunnel=tunnel)
    resources = list(synthesize_config("policy-test", config, compliant_program).resources)
    assert "disable_ip_validation: true" in _config_text(resources)
    report = run_rules(resources, config)
    assert failing(report) == set()
    assert "tunnel.disableIpValidation is true" in _allowed(report, "tunnel-allowed-ips")[0]
    # Without the declaration the same rendered config fails.
    assert failing(run_rules(resources, BASE_CONFIG)) == {"tunnel-allowed-ips"}


def test_declared_wider_allowed_ips_are_reported_not_failed() -> None:
    from stockade.engine import synthesize_config

    from .test_policy_support import compliant_program

    tunnel = {**BASE_CONFIG["stockade:tunnel"], "allowedIps": ["10.20.100.10/32", "10.30.0.0/16"]}
    config = config_with(tunnel=tunnel)
    resources = list(synthesize_config("policy-test", config, compliant_program).resources)
    report = run_rules(resources, config)
    assert failing(report) == set()
    assert "10.30.0.0/16" in _allowed(report, "tunnel-allowed-ips")[0]
    assert failing(run_rules(resources, BASE_CONFIG)) == {"tunnel-allowed-ips"}


def test_disabled_flow_logs_are_allowed_and_reported() -> None:
    resources = [r for r in base_resources() if r.name != "vpc-flow"]
    report = run_rules(resources, config_with(network={"flowLogs": {"enabled": False}}))
    assert failing(report) == set()
    assert "network.flowLogs.enabled is false" in _allowed(report, "vpc-flow-logs")[0]


@pytest.mark.parametrize(
    ("sections", "policy", "key", "value"),
    [
        ({"network": {"egress": {"mode": "open"}}}, "egress-declared-only", "openEgressAllowed", True),
        ({}, "egress-declared-only", "openEgressAllowed", False),
        (
            {},
            "iam-permissions-boundary",
            "permissionsBoundaryArn",
            BASE_CONFIG["stockade:aws"]["permissionsBoundaryArn"],
        ),
        ({}, "required-tags", "requiredTags", ["stockade:stack", "stockade:environment", "owner"]),
        ({}, "tunnel-allowed-ips", "tunnelRouteCidrs", ["10.20.100.10/32"]),
        ({}, "images-pinned-by-digest", "production", True),
    ],
)
def test_pack_config_comes_from_the_settings(
    sections: dict[str, Any], policy: str, key: str, value: Any
) -> None:
    config = policy_config(validate("policy-test", config_with(**sections)))
    assert config[policy][key] == value
    companion = f"{policy}-allowed-by-config"
    if companion in config:
        assert config[companion] == config[policy]
    json.dumps(config)  # the --policy-pack-config file is plain JSON
