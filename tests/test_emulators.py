"""The emulated provider answers: what a provider computes, and the whole state built from it."""

from __future__ import annotations

from stockade.emulators import emulate, provider_outputs
from stockade.engine.context import OfflineContext

CTX = OfflineContext(project="stockade", stack="dev", region="eu-west-1", account_id="123456789012")
VPC = "aws:ec2/vpc:Vpc"


def test_provider_outputs_hold_what_the_provider_computes_and_no_input() -> None:
    inputs = {"cidrBlock": "10.0.0.0/16", "tags": {"Name": "v"}}
    computed = provider_outputs(VPC, "v", inputs, CTX)
    assert computed.keys().isdisjoint(inputs)
    assert computed["arn"].startswith("arn:aws:ec2:eu-west-1:123456789012:vpc/")
    assert computed["name"].startswith("v-")


def test_a_name_or_arn_the_program_gave_is_not_made_up() -> None:
    given = {"name": "chosen", "arn": "arn:aws:iam::123456789012:policy/chosen"}
    assert provider_outputs("aws:iam/policy:Policy", "p", given, CTX) == {}
    docker = provider_outputs("docker:index/network:Network", "n", {"name": "net"}, CTX)
    assert "name" not in docker
    assert provider_outputs("docker:index/network:Network", "n", {}, CTX)["name"].startswith("n-")


def test_a_richer_emulator_overrides_an_input() -> None:
    # The bucket emulator answers with the bucket's physical name, given or made up.
    assert provider_outputs("aws:s3/bucket:Bucket", "b", {"bucket": "given"}, CTX)["bucket"] == "given"
    assert provider_outputs("aws:s3/bucket:Bucket", "b", {}, CTX)["bucket"].startswith("b-")


def test_the_whole_state_is_the_inputs_overlaid_with_the_computed_outputs() -> None:
    inputs = {"cidrBlock": "10.0.0.0/16", "name": "chosen"}
    state = emulate(VPC, "v", inputs, CTX)
    assert state == {**inputs, **provider_outputs(VPC, "v", inputs, CTX)}
    assert state["name"] == "chosen" and state["cidrBlock"] == "10.0.0.0/16" and "arn" in state
