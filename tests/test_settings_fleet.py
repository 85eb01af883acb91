"""Fleet and network settings: every bad value is reported with its key path, the value and a fix."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stockade.settings import SettingsError
from stockade.settings.load import validate
from stockade.settings.problems import ConfigProblem

SESSION = "111111111111.dkr.ecr.us-east-1.amazonaws.com/session@sha256:" + "1" * 64
WORKER = "111111111111.dkr.ecr.us-east-1.amazonaws.com/poller@sha256:" + "2" * 64
BASE: dict[str, Any] = {
    "aws:region": "us-east-1",
    "stockade:target": "aws",
    "stockade:environment": "dev",
    "stockade:aws": {"accountId": "111111111111"},
    "stockade:sandboxes": {
        "environmentId": "env_01Example",
        "environmentKey": {"secure": "v1:NbctXl//cauiW66M:djE6YWJj433PDNu/F/xk4dALQWatcQ=="},
        "sessionImage": SESSION,
        "workerImage": WORKER,
    },
}
BYO = {
    "vpcId": "vpc-0123456789abcdef0",
    "cidr": "10.90.0.0/16",
    "privateSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"],
    "privateRouteTableIds": ["rtb-0aaaaaaaaaaaaaaa1"],
    "egress": {"enforcement": "external"},
}


def config_with(**sections: Any) -> dict[str, Any]:
    """BASE with `sandboxes`/`network` keys merged in (None deletes a key)."""
    config = copy.deepcopy(BASE)
    for section, changes in sections.items():
        key = f"stockade:{section}"
        merged = {**config.get(key, {}), **changes}
        config[key] = {k: v for k, v in merged.items() if v is not None}
    return config


def problems(config: dict[str, Any]) -> dict[str, ConfigProblem]:
    with pytest.raises(SettingsError) as caught:
        validate("t", config)
    return {p.key: p for p in caught.value.problems}


def one_problem(config: dict[str, Any], key: str, message: str) -> ConfigProblem:
    found = problems(config)
    assert key in found, found
    problem = found[key]
    assert message in problem.message, problem.render()
    assert problem.fix and problem.fix != "see docs/configuration.md", problem.render()
    return problem


def test_the_base_config_is_valid() -> None:
    settings = validate("t", BASE)
    assert settings.sandboxes.session_image == SESSION
    assert settings.weakenings() == []


# --------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("resources", "key", "message"),
    [
        ({"cpu": -1}, "cpu", "-1 is not a Fargate CPU size"),
        ({"cpu": 1000}, "cpu", "1000 is not a Fargate CPU size"),
        ({"memoryMib": -512}, "memoryMib", "greater than or equal to 512"),
        ({"cpu": 256, "memoryMib": 8192}, "memoryMib", "does not fit cpu 256"),
        ({"ephemeralStorageGib": 0}, "ephemeralStorageGib", "greater than or equal to 21"),
        ({"ephemeralStorageGib": 500}, "ephemeralStorageGib", "less than or equal to 200"),
    ],
)
def test_bad_sizes_name_the_key_and_the_range(resources: dict[str, int], key: str, message: str) -> None:
    problem = one_problem(
        config_with(sandboxes={"resources": resources}), f"stockade:sandboxes.resources.{key}", message
    )
    assert problem.value == repr(resources[key])


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("maxConcurrentSessions", 0, "greater than or equal to 1"),
        ("maxConcurrentSessions", -3, "greater than or equal to 1"),
        ("pollerReplicas", 0, "greater than or equal to 1"),
        ("queueDepthAlarm", -1, "greater than or equal to 1"),
    ],
)
def test_bad_counts_are_refused(key: str, value: int, message: str) -> None:
    one_problem(config_with(sandboxes={key: value}), f"stockade:sandboxes.{key}", message)


def test_a_fleet_larger_than_the_vpc_can_address_is_refused() -> None:
    config = config_with(
        network={"cidr": "10.40.0.0/22", "availabilityZones": 1}, sandboxes={"maxConcurrentSessions": 500}
    )
    problem = one_problem(config, "stockade:sandboxes.maxConcurrentSessions", "task addresses")
    assert problem.value == "500"


# --------------------------------------------------------------------------- CIDRs


@pytest.mark.parametrize(
    "cidr", ["10.0.0.300/24", "10.0.0.1/24", "not-a-cidr", "10.0.0.0/33", "2001:db8::/32"]
)
def test_an_allowed_cidr_that_does_not_parse_is_refused(cidr: str) -> None:
    problem = one_problem(
        config_with(network={"egress": {"allowedCidrs": [cidr]}}),
        "stockade:network.egress.allowedCidrs[0]",
        "",
    )
    assert problem.value == repr(cidr)
    assert "10.40.0.0/16" in problem.fix or "IPv4" in problem.fix


def test_the_vpc_cidr_must_parse_and_be_sized_for_the_layout() -> None:
    one_problem(config_with(network={"cidr": "10.0.0.0/8"}), "stockade:network.cidr", "between /16 and /24")
    problem = one_problem(
        config_with(network={"cidr": "10.40.0.0/24", "availabilityZones": 2}),
        "stockade:network.availabilityZones",
        "holds at most 1 availability zone",
    )
    assert "larger cidr" in problem.fix


def test_duplicate_allowlist_entries_are_refused() -> None:
    one_problem(
        config_with(network={"egress": {"allowedCidrs": ["10.1.0.0/16", "10.1.0.0/16"]}}),
        "stockade:network.egress.allowedCidrs",
        "twice",
    )
    one_problem(
        config_with(network={"egress": {"allowedDomains": ["pypi.org", "PyPI.org"]}}),
        "stockade:network.egress.allowedDomains",
        "twice",
    )


# --------------------------------------------------------------------------- images and modes


def test_per_session_mode_without_a_session_image_is_refused() -> None:
    problem = one_problem(
        config_with(sandboxes={"sessionImage": None}), "stockade:sandboxes.sessionImage", "per-session"
    )
    assert problem.value == "(not set)" and "images/session/Dockerfile" in problem.fix


def test_per_session_mode_needs_the_poller_image() -> None:
    one_problem(
        config_with(sandboxes={"workerImage": None}), "stockade:sandboxes.workerImage", "poller image"
    )


def test_an_image_given_twice_is_refused() -> None:
    build = {"context": "images/session", "tag": "1.0.0"}
    one_problem(
        config_with(sandboxes={"sessionBuild": build}), "stockade:sandboxes.sessionBuild", "both name"
    )


def test_a_build_replaces_the_reference_and_its_dockerfile_defaults_into_the_context() -> None:
    build = {"context": ".", "dockerfile": "images/session/Dockerfile", "tag": "1.0.0"}
    settings = validate("t", config_with(sandboxes={"sessionImage": None, "sessionBuild": build}))
    session_build = settings.sandboxes.session_build
    assert session_build is not None and session_build.tag == "1.0.0"
    assert session_build.dockerfile_path == "images/session/Dockerfile"
    build = {"context": "images/custom/", "tag": "1.0.0"}
    settings = validate("t", config_with(sandboxes={"sessionImage": None, "sessionBuild": build}))
    assert settings.sandboxes.session_build is not None
    assert settings.sandboxes.session_build.dockerfile_path == "images/custom/Dockerfile"


@pytest.mark.parametrize(
    ("build", "key", "message"),
    [
        ({"context": "../outside", "tag": "1"}, "context", "relative path inside the project"),
        ({"context": "/abs/path", "tag": "1"}, "context", "relative path inside the project"),
        ({"context": "images", "tag": "has space"}, "tag", "should match pattern"),
        ({"context": "images"}, "tag", "field required"),
    ],
)
def test_bad_builds_are_refused(build: dict[str, str], key: str, message: str) -> None:
    config = config_with(sandboxes={"sessionImage": None, "sessionBuild": build})
    one_problem(config, f"stockade:sandboxes.sessionBuild.{key}", message)


def _pool(**changes: Any) -> dict[str, Any]:
    return config_with(sandboxes={"mode": "pool", "sessionImage": None, **changes})


def test_pool_mode_is_valid_with_only_the_worker_image_and_is_reported() -> None:
    settings = validate("t", _pool(poolSize=4))
    assert any("sandboxes.mode is 'pool'" in w for w in settings.weakenings())


@pytest.mark.parametrize(
    ("changes", "key", "message"),
    [
        ({"sessionImage": SESSION}, "sessionImage", "not used in pool mode"),
        ({"workerImage": None}, "workerImage", "pool mode needs the workers' image"),
        ({"maxConcurrentSessions": 10}, "maxConcurrentSessions", "not read in pool mode"),
        ({"pollerReplicas": 2}, "pollerReplicas", "not read in pool mode"),
    ],
)
def test_pool_mode_settings_that_make_no_sense_are_refused(
    changes: dict[str, Any], key: str, message: str
) -> None:
    problem = one_problem(_pool(**changes), f"stockade:sandboxes.{key}", message)
    assert "remove" in problem.fix or "set" in problem.fix


def test_pool_size_is_refused_in_per_session_mode() -> None:
    problem = one_problem(
        config_with(sandboxes={"poolSize": 4}), "stockade:sandboxes.poolSize", "not read in per-session"
    )
    assert "maxConcurrentSessions" in problem.fix


def test_a_bad_alarm_subscription_is_refused() -> None:
    config = config_with(
        sandboxes={"alarms": {"subscriptions": [{"protocol": "email", "endpoint": "not-an-email"}]}}
    )
    one_problem(config, "stockade:sandboxes.alarms.subscriptions[0].endpoint", "not a valid email endpoint")


# --------------------------------------------------------------------------- bring your own VPC


@pytest.mark.parametrize(
    ("network", "key", "message"),
    [
        ({"vpcId": "vpc-0123456789abcdef0"}, "privateSubnetIds", "needs its private subnets"),
        ({"privateSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1"]}, "privateSubnetIds", "needs vpcId"),
        ({"privateRouteTableIds": ["rtb-0aaaaaaaaaaaaaaa1"]}, "privateRouteTableIds", "needs vpcId"),
        ({**BYO, "cidr": None}, "cidr", "needs its CIDR stated"),
        ({**BYO, "egress": {}}, "egress.enforcement", "only does in a VPC it creates"),
        ({**BYO, "privateRouteTableIds": []}, "privateRouteTableIds", "S3 gateway endpoint needs"),
        (
            {**BYO, "endpointsSecurityGroupId": "sg-0123456789abcdef0"},
            "endpointsSecurityGroupId",
            "creates new",
        ),
        ({**BYO, "availabilityZones": 3}, "availabilityZones", "not used with vpcId"),
        (
            {**BYO, "privateSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa1"]},
            "privateSubnetIds",
            "twice",
        ),
        ({"egress": {"enforcement": "external"}}, "egress.enforcement", "has no other filter"),
    ],
)
def test_bring_your_own_vpc_inconsistencies_are_refused(
    network: dict[str, Any], key: str, message: str
) -> None:
    config = copy.deepcopy(BASE)
    config["stockade:network"] = {k: v for k, v in network.items() if v is not None}
    one_problem(config, f"stockade:network.{key}", message)


def test_a_complete_bring_your_own_vpc_is_valid_and_external_enforcement_is_reported() -> None:
    config = copy.deepcopy(BASE)
    config["stockade:network"] = BYO
    settings = validate("t", config)
    assert settings.network.bring_your_own
    assert any("enforcement is 'external'" in w for w in settings.weakenings())


def test_a_bad_subnet_id_is_refused() -> None:
    config = copy.deepcopy(BASE)
    config["stockade:network"] = {**BYO, "privateSubnetIds": ["subnet-XYZ"]}
    one_problem(config, "stockade:network.privateSubnetIds[0]", "should match pattern")


# --------------------------------------------------------------------------- egress modes


def test_open_egress_refuses_allowlists_and_an_enforcement() -> None:
    one_problem(
        config_with(network={"egress": {"mode": "open", "allowedDomains": ["pypi.org"]}}),
        "stockade:network.egress",
        "no effect when egress mode is 'open'",
    )
    one_problem(
        config_with(network={"egress": {"mode": "open", "enforcement": "dns-firewall"}}),
        "stockade:network.egress.enforcement",
        "no effect when egress mode is 'open'",
    )


def test_weaker_enforcement_and_wide_cidrs_are_reported() -> None:
    settings = validate("t", config_with(network={"egress": {"enforcement": "dns-firewall"}}))
    assert any("connects to an IP address directly" in w for w in settings.weakenings())
    settings = validate("t", config_with(network={"egress": {"allowedCidrs": ["0.0.0.0/1"]}}))
    assert any("wider than a /8: 0.0.0.0/1" in w for w in settings.weakenings())


def test_image_builds_are_refused_off_aws() -> None:
    config = {
        "stockade:target": "docker",
        "stockade:environment": "dev",
        "stockade:sandboxes": {
            "environmentId": "env_01Example",
            "environmentKey": {"secure": "v1:NbctXl//cauiW66M:djE6YWJj433PDNu/F/xk4dALQWatcQ=="},
            "sessionBuild": {"context": "images", "tag": "1"},
            "workerImage": WORKER,
        },
    }
    assert "stockade:sandboxes.sessionBuild" in problems(config)


def test_no_vpc_endpoints_is_reported_on_aws() -> None:
    settings = validate("t", config_with(network={"vpcEndpoints": False}))
    assert any("network.vpcEndpoints is false" in w for w in settings.weakenings())
    assert not any("vpcEndpoints" in w for w in validate("t", config_with()).weakenings())


# --------------------------------------------------------------------------- prod rules


def _prod(**aws: Any) -> dict[str, Any]:
    config = config_with(sandboxes={"pollerReplicas": 2})
    config["stockade:environment"] = "prod"
    config["stockade:aws"] = {**config["stockade:aws"], **aws}
    return config


def test_prod_refuses_log_retention_under_90_days() -> None:
    problem = one_problem(_prod(logRetentionDays=30), "stockade:aws.logRetentionDays", "at least 90 days")
    assert "90" in problem.fix
    assert validate("t", _prod(logRetentionDays=90)).aws is not None
    # Only prod is held to it.
    assert validate("t", {**_prod(logRetentionDays=30), "stockade:environment": "dev"}).aws is not None


@pytest.mark.parametrize("key", ["sessionImage", "workerImage"])
def test_prod_refuses_unpinned_fleet_images(key: str) -> None:
    config = _prod()
    config["stockade:sandboxes"][key] = "111111111111.dkr.ecr.us-east-1.amazonaws.com/session:latest"
    problem = one_problem(config, f"stockade:sandboxes.{key}", "pinned by digest")
    assert "@sha256:" in problem.fix
    config["stockade:environment"] = "dev"
    validate("t", config)
