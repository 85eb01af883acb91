"""The offline engine: determinism, secret handling, runtime isolation, offline invokes."""

from __future__ import annotations

import contextlib
import json
import signal
from collections.abc import Iterator

import pulumi
import pulumi_aws as aws
import pytest

from stockade.engine import SynthError, synthesize, synthesize_config
from stockade.engine.synth import PLACEHOLDER_PREFIX

from .conftest import EXAMPLE_STACKS, PROJECT_DIR, minimal_aws_config


@pytest.mark.parametrize("stack", ["dev", "local"])
def test_synth_is_byte_identical_across_runs(stack: str) -> None:
    first = synthesize(stack, PROJECT_DIR).to_json()
    second = synthesize(stack, PROJECT_DIR).to_json()
    assert first == second
    assert json.loads(first)["stack"] == stack


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_secure_values_never_appear(stack: str, example_config) -> None:
    text = synthesize(stack, PROJECT_DIR).to_json()
    assert PLACEHOLDER_PREFIX not in text
    raw = json.dumps(example_config(stack))
    ciphertexts = [part.split('"')[0] for part in raw.split('"secure": "')[1:]]
    assert ciphertexts, "example stacks carry secure values, or this test checks nothing"
    for ciphertext in ciphertexts:
        assert ciphertext not in text


def test_stacks_in_one_process_stay_independent() -> None:
    dev = synthesize("dev", PROJECT_DIR)
    prod = synthesize("prod-use1", PROJECT_DIR)
    assert all(r.urn.startswith("urn:pulumi:dev::") for r in dev.resources)
    assert all(r.urn.startswith("urn:pulumi:prod-use1::") for r in prod.resources)


def test_urns_follow_the_engine_not_the_mock_monitor() -> None:
    result = synthesize("dev", PROJECT_DIR)
    # The stack's key (components may add small keys of their own, e.g. for alarm topics).
    (key,) = [k for k in result.by_type("aws:kms/key:Key") if k.name == "stockade-encryption-key"]
    assert "pulumi:pulumi:Stack$" not in key.urn
    assert key.urn.split("::")[2] == "stockade:aws:EncryptionKey$aws:kms/key:Key"


def test_invokes_are_answered_from_stack_config() -> None:
    seen: dict[str, object] = {}

    def program() -> None:
        identity = aws.get_caller_identity()
        zones = aws.get_availability_zones()
        seen["account"] = identity.account_id
        seen["zones"] = zones.names
        aws.s3.Bucket("probe", tags={"zones": ",".join(zones.names)})

    result = synthesize_config("dev", minimal_aws_config(), program)
    assert seen["account"] == "123456789012"
    assert seen["zones"][0] == "eu-west-1a"
    assert result.one("aws:s3/bucket:Bucket").inputs["tags"]["zones"].startswith("eu-west-1a")


def test_an_invoke_without_offline_answer_is_named() -> None:
    def program() -> None:
        aws.ec2.get_vpc(default=True)

    with pytest.raises(SynthError, match=r"aws:ec2/getVpc:getVpc has no offline answer"):
        synthesize_config("dev", minimal_aws_config(), program)


def test_secret_inputs_and_outputs_are_redacted() -> None:
    def program() -> None:
        secret = pulumi.Output.secret("hunter2-very-secret")
        aws.ssm.Parameter("p", type="SecureString", value=secret)
        pulumi.export("leak", secret)

    result = synthesize_config("dev", minimal_aws_config(), program)
    text = result.to_json()
    assert "hunter2-very-secret" not in text
    assert result.one("aws:ssm/parameter:Parameter").inputs["value"] == "[secret]"
    assert result.outputs["leak"] == "[secret]"


def test_outputs_are_the_inputs_carried_over_plus_what_a_provider_computes() -> None:
    # Components read each other's outputs: an input read back as an output keeps its value
    # and its secret marker, and the emulated provider adds what it would compute.
    def program() -> None:
        bucket = aws.s3.Bucket("b", bucket="plain-bucket", tags={"team": "infra"})
        parameter = aws.ssm.Parameter(
            "p", type="SecureString", value=pulumi.Output.secret("carried-over-secret"), description="d"
        )
        pulumi.export("bucket", bucket.bucket)
        pulumi.export("tags", bucket.tags)
        pulumi.export("arn", bucket.arn)
        pulumi.export("id", bucket.id)
        pulumi.export("description", parameter.description)
        pulumi.export("value", parameter.value)

    result = synthesize_config("dev", minimal_aws_config(), program)
    assert result.outputs["bucket"] == "plain-bucket"
    assert result.outputs["tags"] == {"team": "infra"}
    assert result.outputs["arn"] == "arn:aws:s3:::plain-bucket"
    assert result.outputs["id"] == "plain-bucket"
    assert result.outputs["description"] == "d"
    assert result.outputs["value"] == "[secret]"
    assert "carried-over-secret" not in result.to_json()


@contextlib.contextmanager
def _at_most(seconds: int) -> Iterator[None]:
    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_resource_passed_as_an_input_is_recorded_by_urn() -> None:
    # Decoding the reference reads the resource back from the monitor; that read must finish
    # inside the monitor call, or the program's loop fails awaiting it from another loop.
    def program() -> None:
        first = aws.s3.Bucket("first", bucket="first-bucket")
        second = aws.s3.Bucket("second", bucket="second-bucket")
        pulumi.ComponentResource("test:index:Holder", "holder", {"main": first, "all": [first, second]})

    with _at_most(seconds=60):  # left unfinished, the read back hung the program's loop
        result = synthesize_config("dev", minimal_aws_config(), program)
    holder = result.one("test:index:Holder").inputs
    urn = "urn:pulumi:dev::stockade::aws:s3/bucket:Bucket::{}".format
    assert holder == {
        "main": {"resourceRef": urn("first")},
        "all": [{"resourceRef": urn("first")}, {"resourceRef": urn("second")}],
    }


def test_program_errors_become_synth_errors() -> None:
    def program() -> None:
        raise ValueError("boom in the program")

    with pytest.raises(SynthError, match="boom in the program"):
        synthesize_config("dev", minimal_aws_config(), program)


def test_monitor_calls_run_inline_without_a_thread_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    # The offline monitor answers in-process, so the SDK's executor hand-off must not start
    # threads (each call's hand-off cost a tenth of a small synth); the answers are the same.
    import threading

    started: list[str] = []
    original = threading.Thread.start

    def record(thread: threading.Thread) -> None:
        started.append(thread.name)
        original(thread)

    monkeypatch.setattr(threading.Thread, "start", record)
    result = synthesize("local", PROJECT_DIR)
    assert result.resources, "the stack synthesized nothing, so no monitor call was made"
    assert started == []


def test_an_explicit_executor_is_still_honoured() -> None:
    import asyncio
    import concurrent.futures
    import threading

    from stockade.engine.runtime import InProcessMonitorLoop

    loop = InProcessMonitorLoop()
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            worker = loop.run_until_complete(loop.run_in_executor(pool, threading.get_ident))
        inline = loop.run_until_complete(loop.run_in_executor(None, threading.get_ident))

        def fail() -> None:
            raise ValueError("monitor said no")

        with pytest.raises(ValueError, match="monitor said no"):
            loop.run_until_complete(loop.run_in_executor(None, fail))
    finally:
        loop.close()
        asyncio.set_event_loop(None)
    assert worker != threading.get_ident()
    assert inline == threading.get_ident()


def test_monitor_calls_never_nest_inside_one_another(monkeypatch: pytest.MonkeyPatch) -> None:
    # Run on the program's own loop, the mock monitor's wait for each registration pumped that
    # loop and started the next registration inside it: 66 deep for prod-use1, ~700 frames.
    from stockade.engine import runtime

    original = runtime.RecordingMonitor.RegisterResource
    depth = {"now": 0, "deepest": 0, "calls": 0}

    def counted(self: runtime.RecordingMonitor, request: object) -> object:
        depth["now"] += 1
        depth["calls"] += 1
        depth["deepest"] = max(depth["deepest"], depth["now"])
        try:
            return original(self, request)
        finally:
            depth["now"] -= 1

    monkeypatch.setattr(runtime.RecordingMonitor, "RegisterResource", counted)
    synthesize("prod-use1", PROJECT_DIR)
    assert depth["calls"] > 100
    assert depth["deepest"] == 1


def _unknown_output() -> pulumi.Output[str]:
    """An Output whose value the engine does not know yet, as a real `pulumi up` can hand a program."""
    import asyncio

    loop = asyncio.get_event_loop()
    value, known, secret = loop.create_future(), loop.create_future(), loop.create_future()
    value.set_result("not yet")
    known.set_result(False)
    secret.set_result(False)
    return pulumi.Output(set(), value, known, secret)


def test_unknown_inputs_are_recorded_not_dropped() -> None:
    def program() -> None:
        unknown = _unknown_output()
        aws.s3.Bucket("with-unknowns", bucket=unknown, tags={"late": unknown, "early": "known"})
        aws.s3.Bucket("all-known", bucket="plain", tags={"early": "known"})

    result = synthesize_config("dev", minimal_aws_config(), program)
    by_name = {r.name: r.inputs for r in result.by_type("aws:s3/bucket:Bucket")}
    assert by_name["with-unknowns"]["bucket"] == "<Unknown>"
    assert by_name["with-unknowns"]["tags"] == {"late": "<Unknown>", "early": "known"}
    assert by_name["all-known"]["bucket"] == "plain"
    assert by_name["all-known"]["tags"] == {"early": "known"}


def test_the_record_reuses_the_inputs_the_mocks_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from pulumi.runtime import rpc

    from stockade.engine import runtime

    decoded_for_the_record: list[object] = []
    decode = rpc.deserialize_properties

    def counting(props: object, *args: object, **kwargs: object) -> object:
        # The SDK decodes through the same module; count only the record's own decoding.
        if sys._getframe(1).f_code.co_name == "_recorded_inputs":
            decoded_for_the_record.append(props)
        return decode(props, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runtime.rpc, "deserialize_properties", counting)

    def program() -> None:
        aws.s3.Bucket("all-known", bucket="plain")
        aws.s3.Bucket("with-unknown", bucket=_unknown_output())

    synthesize_config("dev", minimal_aws_config(), program)
    assert len(decoded_for_the_record) == 1, "only the registration carrying an unknown is decoded again"
