"""The emulated provider answers: the inputs, and what a provider would compute on top of them."""

from __future__ import annotations

from stockade.emulators import emulate
from stockade.engine.context import OfflineContext

CTX = OfflineContext(project="stockade", stack="dev", region="eu-west-1", account_id="123456789012")
VPC = "aws:ec2/vpc:Vpc"


def test_the_state_is_the_inputs_with_an_arn_and_a_name_added() -> None:
    inputs = {"cidrBlock": "10.0.0.0/16", "tags": {"Name": "v"}}
    state = emulate(VPC, "v", inputs, CTX)
    assert {k: state[k] for k in inputs} == inputs
    assert state["arn"].startswith("arn:aws:ec2:eu-west-1:123456789012:vpc/")
    assert state["name"].startswith("v-")


def test_a_name_or_arn_the_program_gave_is_not_made_up() -> None:
    given = {"name": "chosen", "arn": "arn:aws:iam::123456789012:policy/chosen"}
    assert emulate("aws:iam/policy:Policy", "p", given, CTX) == given
    assert emulate("docker:index/network:Network", "n", {"name": "net"}, CTX) == {"name": "net"}
    assert emulate("docker:index/network:Network", "n", {}, CTX)["name"].startswith("n-")


def test_a_richer_emulator_answers_with_the_physical_name() -> None:
    assert emulate("aws:s3/bucket:Bucket", "b", {"bucket": "given"}, CTX)["bucket"] == "given"
    made_up = emulate("aws:s3/bucket:Bucket", "b", {}, CTX)
    assert made_up["bucket"].startswith("b-") and made_up["arn"] == f"arn:aws:s3:::{made_up['bucket']}"
