"""`stockade:shared`: a stack takes its network, alarm topic or KMS key from another stack's outputs."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from stockade.engine import SynthResult
from stockade.settings.load import validate
from stockade.settings.problems import SettingsError

SHARED = "acme/stockade/dev"


def test_the_example_stack_validates_and_creates_only_its_fleet(
    synth_stack: Callable[[str], SynthResult],
) -> None:
    result = synth_stack("team-dev")
    types = {r.type for r in result.resources}
    assert "stockade:aws:SandboxFleet" in types
    assert not types & {"stockade:aws:Network", "stockade:aws:EncryptionKey", "stockade:aws:AlarmTopic"}
    assert "aws:ec2/vpc:Vpc" not in types


def test_referenced_outputs_reach_the_fleet_and_the_stack_outputs(
    synth_stack: Callable[[str], SynthResult],
) -> None:
    result = synth_stack("team-dev")
    outputs = result.outputs
    assert outputs["vpcId"].startswith("vpc-0ff11e")
    assert outputs["kmsKeyArn"].startswith("arn:aws:kms:us-east-2:111111111111:key/0ff11e")
    assert outputs["alarmTopicArn"] == outputs["sandboxAlarmTopicArn"]
    groups = result.by_type("aws:ec2/securityGroup:SecurityGroup")
    assert groups and all(g.inputs["vpcId"] == outputs["vpcId"] for g in groups)
    logs = result.by_type("aws:cloudwatch/logGroup:LogGroup")
    assert logs and all(g.inputs["kmsKeyId"] == outputs["kmsKeyArn"] for g in logs)


def _problems(
    example_config: Callable[[str], dict[str, Any]], change: Callable[[dict[str, Any]], None]
) -> list[str]:
    config = copy.deepcopy(example_config("team-dev"))
    change(config)
    return _validate("team-dev", config)


def _validate(stack: str, config: dict[str, Any]) -> list[str]:
    try:
        validate(stack, config)
    except SettingsError as error:
        return [f"{p.key}: {p.message}" for p in error.problems]
    return []


@pytest.mark.parametrize("bad", ["dev", "acme/dev", "acme/stockade/dev/extra", "acme/stock ade/dev"])
def test_from_stack_must_be_fully_qualified(
    example_config: Callable[[str], dict[str, Any]], bad: str
) -> None:
    def change(config: dict[str, Any]) -> None:
        config["stockade:shared"]["kmsKey"]["fromStack"] = bad

    problems = _problems(example_config, change)
    assert any(p.startswith("stockade:shared.kmsKey.fromStack") for p in problems), problems


def test_a_key_given_twice_is_refused(example_config: Callable[[str], dict[str, Any]]) -> None:
    def change(config: dict[str, Any]) -> None:
        config["stockade:aws"]["kmsKeyArn"] = (
            "arn:aws:kms:us-east-2:111111111111:key/11111111-2222-3333-4444-555555555555"
        )

    problems = _problems(example_config, change)
    assert any("the KMS key is given twice" in p for p in problems), problems


def test_network_settings_beside_a_shared_network_are_refused(
    example_config: Callable[[str], dict[str, Any]],
) -> None:
    def change(config: dict[str, Any]) -> None:
        config["stockade:network"] = {"egress": {"mode": "open"}}

    problems = _problems(example_config, change)
    assert any(p.startswith("stockade:network:") and SHARED in p for p in problems), problems


def test_only_the_aws_target_takes_from_other_stacks(example_config: Callable[[str], dict[str, Any]]) -> None:
    config = copy.deepcopy(example_config("local"))
    config["stockade:shared"] = {"alarmTopic": {"fromStack": SHARED}}
    problems = _validate("local", config)
    assert any("aws target only" in p for p in problems), problems


def test_an_output_the_engine_cannot_answer_fails_the_synth_naming_it(
    synth_config: Callable[..., SynthResult], example_config: Callable[[str], dict[str, Any]]
) -> None:
    import pulumi

    from stockade.engine import SynthError

    def program() -> None:
        pulumi.export("x", pulumi.StackReference(SHARED).require_output("noSuchOutput"))

    with pytest.raises(SynthError, match="noSuchOutput"):
        synth_config("team-dev", example_config("team-dev"), program)
