"""Components compose: two fleets and two gateways in one program, under plain mocks and the engine.

A user's program may hold several fleets or gateways. Each physical name (ECS cluster,
task family, alarm, topic, ECR mirror, secret prefix) must derive from the component's
name, so nothing collides; the stack's own components keep the names deployed stacks
already have (tests/test_urn_stability.py guards their URNs; this guards their names).
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
import pytest
from pulumi.runtime import settings as runtime_settings

from stockade.engine import SynthResult
from tests import component_programs

# Inputs that hold a physical name the provider does not make unique on its own.
NAME_KEYS = ("name", "family", "alarmName")
AWS_CLI = "public.ecr.aws/aws-cli/aws-cli@sha256:" + "c" * 64


class PlainMocks(pulumi.runtime.Mocks):
    """Pulumi's documented minimal mocks: outputs are the inputs, invokes answer nothing."""

    def __init__(self) -> None:
        self.registered: list[tuple[str, str, dict[str, Any]]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        self.registered.append((args.typ, args.name, dict(args.inputs)))
        return f"{args.name}_id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, []


def run_under_plain_mocks(program: Callable[[], Any], stack: str = "dev") -> PlainMocks:
    """Run `program` under PlainMocks and reset Pulumi's runtime state afterwards."""
    mocks = PlainMocks()
    loop = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        runtime_settings.reset_options(project="consumer", stack=stack)
        pulumi.runtime.set_mocks(mocks, project="consumer", stack=stack, preview=False)
        loop.run_until_complete(pulumi.runtime.stack.run_pulumi_func(program))
    finally:
        runtime_settings.reset_options()
        asyncio.set_event_loop(None)
        loop.close()
    return mocks


def _physical_names(registered: list[tuple[str, str, dict[str, Any]]]) -> Iterator[tuple[str, str]]:
    for typ, _name, inputs in registered:
        for key in NAME_KEYS:
            value = inputs.get(key)
            if isinstance(value, str) and value:
                yield typ, value


def _collisions(names: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted(pair for pair, count in Counter(names).items() if count > 1)


@pytest.fixture(scope="module")
def plain() -> PlainMocks:
    return run_under_plain_mocks(component_programs.two_of_each)


def test_two_fleets_and_two_gateways_run_under_plain_mocks(plain: PlainMocks) -> None:
    components = Counter(typ for typ, _, _ in plain.registered if typ.startswith("stockade:"))
    assert components["stockade:aws:SandboxFleet"] == 2
    assert components["stockade:aws:TunnelGateway"] == 2
    assert components["stockade:aws:Network"] == 1


def test_no_physical_name_is_claimed_twice_under_plain_mocks(plain: PlainMocks) -> None:
    names = list(_physical_names(plain.registered))
    assert len(names) > 20  # families, clusters, alarms, topics, mirrors, firewall lists
    assert _collisions(names) == []


def test_names_derive_from_the_component_name_and_the_stack(plain: PlainMocks) -> None:
    names = {value for _typ, value in _physical_names(plain.registered)}
    for fleet in ("fleet-a", "fleet-b"):
        assert f"{fleet}-dev" in names  # the cluster
        assert {f"{fleet}-dev-session", f"{fleet}-dev-poller"} <= names
        assert f"{fleet}-dev-fleet-alarms" in names  # its own topic, named after it
    for gateway in ("gateway-a", "gateway-b"):
        assert f"{gateway}-dev-tunnel-gateway" in names
        assert f"{gateway}-dev-tunnel-no-running-tasks" in names
    assert not any(name.startswith("stockade-") for name in names), (
        "a non-default component took a stack name"
    )


def test_work_secret_prefixes_and_metric_scopes_are_per_fleet() -> None:
    made: dict[str, Any] = {}

    def program() -> None:
        made.update(component_programs.two_of_each())

    run_under_plain_mocks(program)
    prefixes = {made[f].work_secret_prefix for f in ("fleet-a", "fleet-b")}
    assert prefixes == {"fleet-a/dev/work/", "fleet-b/dev/work/"}


def test_a_default_named_component_keeps_the_stack_names() -> None:
    made: dict[str, Any] = {}

    def program() -> None:
        net = component_programs.network("stockade-network")
        made["fleet"] = component_programs.fleet("stockade-sandboxes", net)

    mocks = run_under_plain_mocks(program, stack="prod")
    names = {value for _typ, value in _physical_names(mocks.registered)}
    assert {
        "stockade-prod",
        "stockade-prod-session",
        "stockade-prod-poller",
        "stockade-prod-fleet-alarms",
    } <= names
    assert made["fleet"].work_secret_prefix == "stockade/prod/work/"


def test_a_component_name_that_cannot_prefix_physical_names_is_refused() -> None:
    def program() -> None:
        component_programs.network("two words")

    with pytest.raises(Exception, match="two words: physical names start with 'two words'"):
        run_under_plain_mocks(program)


@pytest.fixture
def engine_synth(
    synth_config: Callable[..., SynthResult], example_config: Callable[[str], dict[str, Any]]
) -> SynthResult:
    return synth_config("dev", example_config("dev"), component_programs.two_of_each)


def test_the_two_fleet_program_synthesizes_without_collisions(engine_synth: SynthResult) -> None:
    registered = [(r.type, r.name, r.inputs) for r in engine_synth.resources]
    assert len(engine_synth.by_type("stockade:aws:SandboxFleet")) == 2
    assert len(engine_synth.by_type("stockade:aws:TunnelGateway")) == 2
    assert _collisions(list(_physical_names(registered))) == []
    outputs = engine_synth.outputs
    assert outputs["fleet-a.sandboxClusterName"] != outputs["fleet-b.sandboxClusterName"]


def test_stateful_resources_are_protected_in_the_synth(synth_stack: Callable[[str], SynthResult]) -> None:
    result = synth_stack("dev")
    for type_token in ("aws:kms/key:Key", "aws:s3/bucket:Bucket"):
        for resource in result.by_type(type_token):
            if resource.parent and "AlarmTopic" in resource.parent:
                continue  # the alarm topic's key guards no data; recreating it loses nothing
            assert resource.options.protect, resource.urn
            assert resource.options.retain_on_delete, resource.urn
    document = json.loads(result.to_json())
    key = next(
        r for r in document["resources"] if r["type"] == "aws:kms/key:Key" and "encryption" in r["name"]
    )
    assert key["options"]["protect"] is True
    assert key["options"]["retainOnDelete"] is True


def test_lifting_protection_is_a_reported_weakening(
    synth_config: Callable[..., SynthResult], example_config: Callable[[str], dict[str, Any]]
) -> None:
    config = example_config("dev")
    config["stockade:aws"] = {**config["stockade:aws"], "protectStatefulResources": False}
    result = synth_config("dev", config)
    assert any("aws.protectStatefulResources is false" in w for w in result.weakenings)
    assert not any(r.options.protect for r in result.resources)


def test_the_setup_state_and_published_credentials_are_protected(
    synth_config: Callable[..., SynthResult], example_config: Callable[[str], dict[str, Any]]
) -> None:
    config = copy.deepcopy(example_config("prod-use1"))
    tunnel = config["stockade:tunnel"]
    tunnel.pop("token", None)
    tunnel["certificates"] = {"source": "setup"}
    tunnel["setup"] = {"enabled": True, "federationRuleId": "fdrl_01abc", "organizationId": "org-0123456789"}
    tunnel["images"] = {**tunnel.get("images", {}), "awsCli": AWS_CLI}
    result = synth_config("prod-use1", config)
    secrets = {r.name: r for r in result.by_type("aws:secretsmanager/secret:Secret")}
    for name in ("stockade-tunnel-setup-state", "stockade-tunnel-tls-key", "stockade-tunnel-token"):
        assert secrets[name].options.protect and secrets[name].options.retain_on_delete, name
    assert not secrets["stockade-tunnel-proxy-config"].options.protect  # rendered again on every up
