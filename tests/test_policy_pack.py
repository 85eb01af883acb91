"""The policy/ pack: its wiring, and the same policies answering the analyzer protocol the engine speaks.

No Pulumi CLI exists here, so `pulumi preview --policy-pack policy` cannot run.
These tests drive pulumi_policy's own analyzer service (the gRPC servicer the
CLI talks to) in-process with protobuf requests shaped like the engine's.
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf import struct_pb2
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.policy import _PolicyAnalyzerServicer

from stockade.guardrails.pack import PACK_NAME, build_policies, policy_levels
from stockade.guardrails.rule import ALLOWED_PREFIX, Level
from stockade.guardrails.rules import RULES

from .conftest import PROJECT_DIR

POLICY_DIR = PROJECT_DIR / "policy"


def test_every_rule_has_words_a_reviewer_needs() -> None:
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))
    for rule in RULES:
        assert rule.description and rule.remediation and rule.level in (Level.MANDATORY, Level.ADVISORY)


def test_policies_are_the_rules_plus_advisory_companions() -> None:
    policies = build_policies()
    levels = policy_levels()
    assert [p.name for p in policies] == list(levels)
    for policy in policies:
        expected = (
            EnforcementLevel.MANDATORY
            if levels[policy.name] is Level.MANDATORY
            else EnforcementLevel.ADVISORY
        )
        assert policy.enforcement_level is expected
        assert policy.remediation_steps
    companions = [p.name for p in policies if p.name.endswith("-allowed-by-config")]
    assert {c.removesuffix("-allowed-by-config") for c in companions} == {
        r.name for r in RULES if r.allowed_by
    }


def test_policy_main_builds_the_pack_from_the_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    captured: dict[str, Any] = {}

    class Capture:
        # PolicyPack serves gRPC and blocks forever; capture its arguments instead.
        def __init__(self, **kwargs: Any) -> None:
            captured.update(kwargs)

    monkeypatch.setattr("pulumi_policy.PolicyPack", Capture)
    runpy.run_path(str(POLICY_DIR / "__main__.py"), run_name="__main__")
    assert captured["name"] == PACK_NAME
    assert [p.name for p in captured["policies"]] == [p.name for p in build_policies()]


def test_policy_project_file_names_a_python_runtime() -> None:
    project = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    venv = Path(POLICY_DIR, project["runtime"]["options"]["virtualenv"]).resolve()
    assert venv == (PROJECT_DIR / ".venv").resolve()
    assert project["version"]


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


def _servicer(config: dict[str, dict[str, Any]]) -> _PolicyAnalyzerServicer:
    servicer = _PolicyAnalyzerServicer(PACK_NAME, "0.1.0", build_policies(), EnforcementLevel.MANDATORY)
    request = proto.ConfigureAnalyzerRequest()
    for name, values in config.items():
        request.policyConfig[name].CopyFrom(proto.PolicyConfig(properties=_struct(values)))
    servicer.Configure(request, None)
    return servicer


SERVICE_URN = "urn:pulumi:dev::stockade::stockade:aws:TunnelGateway$aws:ecs/service:Service::gateway-service"


def _analyze(
    servicer: _PolicyAnalyzerServicer, resource_type: str, urn: str, props: dict[str, Any]
) -> list[Any]:
    request = proto.AnalyzeRequest(
        type=resource_type, properties=_struct(props), urn=urn, name=urn.split("::")[-1]
    )
    return list(servicer.Analyze(request, None).diagnostics)


def test_a_resource_violation_comes_back_as_a_mandatory_diagnostic() -> None:
    diagnostics = _analyze(
        _servicer({}),
        "aws:ecs/service:Service",
        SERVICE_URN,
        {"enableExecuteCommand": True, "networkConfiguration": {"assignPublicIp": True}},
    )
    by_policy = {d.policyName: d for d in diagnostics}
    assert set(by_policy) >= {"no-ecs-exec", "no-public-ip"}
    assert by_policy["no-ecs-exec"].enforcementLevel == proto.MANDATORY
    assert "enableExecuteCommand" in by_policy["no-ecs-exec"].message


def test_pack_config_turns_a_declared_weakening_into_an_advisory() -> None:
    config = {
        "no-ecs-exec": {"ecsExecAllowed": True},
        "no-ecs-exec-allowed-by-config": {"ecsExecAllowed": True},
    }
    fleet_urn = SERVICE_URN.replace("TunnelGateway", "SandboxFleet")
    diagnostics = _analyze(
        _servicer(config), "aws:ecs/service:Service", fleet_urn, {"enableExecuteCommand": True}
    )
    (note,) = [d for d in diagnostics if d.policyName.startswith("no-ecs-exec")]
    assert note.policyName == "no-ecs-exec-allowed-by-config"
    assert note.enforcementLevel == proto.ADVISORY
    assert ALLOWED_PREFIX in note.message


def test_unknown_values_in_preview_are_reported_as_not_runnable() -> None:
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

    diagnostics = _analyze(
        _servicer({}),
        "aws:ecs/taskDefinition:TaskDefinition",
        "urn:pulumi:dev::stockade::aws:ecs/taskDefinition:TaskDefinition::gateway",
        {
            "containerDefinitions": UNKNOWN_STRING_VALUE,
            "tags": {"stockade:stack": "dev", "stockade:environment": "dev"},
        },
    )
    assert diagnostics
    assert all("can't run policy" in d.message for d in diagnostics)
    assert all(d.enforcementLevel == proto.ADVISORY for d in diagnostics)


def test_stack_policies_link_resources_through_dependencies() -> None:
    bucket_urn = "urn:pulumi:dev::stockade::aws:s3/bucket:Bucket::artifacts"
    resources = [
        proto.AnalyzerResource(
            type="aws:s3/bucket:Bucket", urn=bucket_urn, name="artifacts", properties=_struct({})
        ),
        proto.AnalyzerResource(
            type="aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            urn="urn:pulumi:dev::stockade::aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock::pab",
            name="pab",
            # In preview the bucket's name is unknown; only the dependency links them.
            properties=_struct({"bucket": "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "blockPublicAcls": True}),
            dependencies=[bucket_urn],
        ),
    ]
    response = _servicer({}).AnalyzeStack(proto.AnalyzeStackRequest(resources=resources), None)
    by_policy = {d.policyName: d for d in response.diagnostics}
    assert "ignorePublicAcls" in by_policy["s3-public-access-blocked"].message
    assert by_policy["s3-public-access-blocked"].urn == bucket_urn


def test_emitted_config_is_accepted_by_the_policies_schemas() -> None:
    from stockade.guardrails.pack import policy_config
    from stockade.settings.load import read_stack_file, settings_from_stack_file

    settings = settings_from_stack_file(read_stack_file(PROJECT_DIR, "prod-use1"))
    config = policy_config(settings)
    schemas = {p.name: p.config_schema for p in build_policies() if p.config_schema}
    assert set(config) == set(schemas)
    for name, values in config.items():
        assert set(values) == set(schemas[name].properties), name
    assert json.loads(json.dumps(config)) == config


def test_each_policy_is_of_the_kind_its_rule_declares() -> None:
    kinds = {p.name: type(p) for p in build_policies()}
    for rule in RULES:
        expected = ResourceValidationPolicy if rule.resource_check else StackValidationPolicy
        assert kinds[rule.name] is expected


def test_docs_list_every_rule_with_its_level_and_allowance() -> None:
    text = (PROJECT_DIR / "docs" / "guardrails.md").read_text(encoding="utf-8")
    tables: dict[int, dict[str, list[str]]] = {}
    for line in text.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            tables.setdefault(len(cells), {})[cells[0].strip("`")] = cells
    rules_table, remediation_table = tables[5], tables[2]
    for rule in RULES:
        _name, level, scope, _what, allowance = rules_table[rule.name]
        assert level == rule.level.value, rule.name
        assert scope == ("resource" if rule.resource_check else "stack"), rule.name
        assert (allowance != "-") == (rule.allowed_by is not None), rule.name
        assert rule.name in remediation_table
