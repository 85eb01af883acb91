"""Docker-target validation: every setting the Docker host cannot honour is an error naming its key."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from stockade.settings import SettingsError
from stockade.settings.load import validate
from stockade.settings.problems import MASK

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
SECURE = {"secure": "v1:7ciZ2Kj2Bblmq0s+:djE6YzJWamNtVjBejZ0VqRmSLgFY33uG45vO"}
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:stockade/key-AbCdEf"

Config = dict[str, Any]


@pytest.fixture
def local(example_config: Callable[[str], Config]) -> Config:
    return example_config("local")


def with_(config: Config, key: str, path: str, value: object) -> Config:
    """A copy of `config` with `stockade:<key>` path `a.b.c` set to `value`."""
    changed = copy.deepcopy(config)
    node = changed.setdefault(key, {})
    *parents, leaf = path.split(".") if path else [""]
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return changed


def problems(config: Config) -> dict[str, tuple[str, str, str]]:
    with pytest.raises(SettingsError) as caught:
        validate("local", config)
    return {p.key: (p.value, p.message, p.fix) for p in caught.value.problems}


def test_the_local_example_is_valid_and_unweakened(local: Config) -> None:
    settings = validate("local", local)
    assert settings.target.value == "docker"
    assert settings.docker.socket_group_id == 999
    assert settings.weakenings() == []


# --- the Docker host: transports and TLS ------------------------------------------------


@pytest.mark.parametrize(
    "docker",
    [
        {"host": "unix:///var/run/docker.sock"},
        {"host": "ssh://deploy@build-01.example.com:2222", "sshOpts": ["-o", "StrictHostKeyChecking=yes"]},
        {"host": "tcp://docker.example.com:2376", "tls": {"certPath": "/home/me/.docker/prod"}},
        {
            "host": "tcp://docker.example.com:2376",
            "tls": {"caCertificatePem": PEM, "clientCertificatePem": PEM, "clientKey": SECURE},
        },
    ],
)
def test_supported_docker_hosts(local: Config, docker: dict[str, object]) -> None:
    config = copy.deepcopy(local)
    config["stockade:docker"].update(docker)
    assert validate("local", config).weakenings() == []


@pytest.mark.parametrize(
    ("docker", "key", "message"),
    [
        ({"host": "tcp://docker.example.com:2375"}, "stockade:docker.host", "root on the host"),
        ({"host": "tcp://docker.example.com"}, "stockade:docker.host", "needs its port"),
        ({"host": "npipe:////./pipe/docker_engine"}, "stockade:docker.host", "'npipe' transport"),
        ({"host": "ssh://me:hunter2@host"}, "stockade:docker.host", "no password"),
        ({"host": "unix://relative.sock"}, "stockade:docker.host", "absolute socket path"),
        (
            {"host": "ssh://me@host", "tls": {"certPath": "/certs"}},
            "stockade:docker.tls",
            "tcp:// hosts only",
        ),
        (
            {"host": "tcp://h:2376", "sshOpts": ["-v"], "allowInsecureTcp": True},
            "stockade:docker.sshOpts",
            "ssh://",
        ),
        (
            {"host": "ssh://me@host", "allowInsecureTcp": True},
            "stockade:docker.allowInsecureTcp",
            "only means",
        ),
        (
            {"host": "tcp://h:2376", "tls": {"certPath": "/certs", "clientKey": SECURE}},
            "stockade:docker.tls.clientKey",
            "two ways to say the same thing",
        ),
        (
            {"host": "tcp://h:2376", "tls": {"caCertificatePem": PEM, "clientKey": SECURE}},
            "stockade:docker.tls.clientCertificatePem",
            "needs the CA, the client certificate and its key",
        ),
        (
            {
                "host": "tcp://h:2376",
                "tls": {"caCertificatePem": "ca", "clientCertificatePem": PEM, "clientKey": SECURE},
            },
            "stockade:docker.tls.caCertificatePem",
            "not a PEM certificate",
        ),
        (
            {
                "host": "tcp://h:2376",
                "tls": {"caCertificatePem": PEM, "clientCertificatePem": PEM, "clientKey": "k"},
            },
            "stockade:docker.tls.clientKey",
            "plaintext secret",
        ),
        ({"sandboxSubnet": "10.0.0.0/8"}, "stockade:docker.sandboxSubnet", "between /16 and /28"),
    ],
)
def test_docker_host_mistakes(local: Config, docker: dict[str, object], key: str, message: str) -> None:
    config = copy.deepcopy(local)
    config["stockade:docker"].update(docker)
    found = problems(config)
    assert key in found, found
    assert message in found[key][1]
    if key.endswith("clientKey") and "plaintext" in message:
        assert found[key][0] == MASK


def test_plain_tcp_must_be_spelled_out_and_is_then_reported(local: Config) -> None:
    config = copy.deepcopy(local)
    config["stockade:docker"].update({"host": "tcp://10.0.5.20:2375", "allowInsecureTcp": True})
    (weakening,) = validate("local", config).weakenings()
    assert weakening.startswith("docker.allowInsecureTcp is true: the Docker API on 10.0.5.20")


# --- settings that mean nothing on a Docker host -----------------------------------------


@pytest.mark.parametrize(
    ("section", "path", "value", "key"),
    [
        ("stockade:network", "cidr", "10.50.0.0/16", "stockade:network.cidr"),
        ("stockade:network", "availabilityZones", 3, "stockade:network.availabilityZones"),
        ("stockade:network", "vpcEndpoints", False, "stockade:network.vpcEndpoints"),
        ("stockade:network", "flowLogs.enabled", False, "stockade:network.flowLogs"),
        ("stockade:network", "egress.enforcement", "dns-firewall", "stockade:network.egress.enforcement"),
        ("stockade:sandboxes", "enableExec", True, "stockade:sandboxes.enableExec"),
        ("stockade:sandboxes", "pollerReplicas", 2, "stockade:sandboxes.pollerReplicas"),
        ("stockade:sandboxes", "queueDepthAlarm", 10, "stockade:sandboxes.queueDepthAlarm"),
        ("stockade:sandboxes", "artifacts.expireDays", 7, "stockade:sandboxes.artifacts"),
        ("stockade:sandboxes", "cpuArchitecture", "arm64", "stockade:sandboxes.cpuArchitecture"),
        (
            "stockade:sandboxes",
            "resources.ephemeralStorageGib",
            50,
            "stockade:sandboxes.resources.ephemeralStorageGib",
        ),
        ("stockade:tunnel", "taskCpu", 256, "stockade:tunnel.taskCpu"),
        ("stockade:tunnel", "alarms.enabled", False, "stockade:tunnel.alarms"),
        ("stockade:tunnel", "images.mirror", False, "stockade:tunnel.images.mirror"),
    ],
)
def test_aws_only_settings_are_errors_on_docker(
    local: Config, section: str, path: str, value: object, key: str
) -> None:
    found = problems(with_(local, section, path, value))
    assert key in found, found
    message, fix = found[key][1], found[key][2]
    assert "docker target" in message
    assert fix.startswith("remove")


def test_the_vendor_setup_task_is_not_run_on_docker(local: Config) -> None:
    found = problems(with_(local, "stockade:tunnel", "setup.enabled", False))
    assert "does not run the vendor's setup component" in found["stockade:tunnel.setup"][1]


def test_aws_region_and_account_are_refused(local: Config) -> None:
    config = {
        **copy.deepcopy(local),
        "aws:region": "us-east-1",
        "stockade:aws": {"accountId": "123456789012"},
    }
    found = problems(config)
    assert "aws:region" in found and "stockade:aws" in found


def test_docker_settings_are_refused_on_other_targets(example_config: Callable[[str], Config]) -> None:
    config = {**example_config("dev"), "stockade:docker": {"runtime": "runsc"}}
    found = problems(config)
    assert "have no meaning on the aws target" in found["stockade:docker"][1]


@pytest.mark.parametrize(
    ("section", "path", "key"),
    [
        ("stockade:sandboxes", "environmentKey", "stockade:sandboxes.environmentKey"),
        ("stockade:tunnel", "token", "stockade:tunnel.token"),
    ],
)
def test_secrets_manager_references_cannot_be_read_on_docker(
    local: Config, section: str, path: str, key: str
) -> None:
    value, message, fix = problems(with_(local, section, path, ARN))[key]
    assert value == MASK
    assert "Secrets Manager ARN cannot be read" in message
    assert f"pulumi config set --secret --path '{key}'" in fix


# --- per-session and pool specifics -------------------------------------------------------


def test_per_session_mode_needs_the_socket_group(local: Config) -> None:
    config = copy.deepcopy(local)
    del config["stockade:docker"]["socketGroupId"]
    _, message, fix = problems(config)["stockade:docker.socketGroupId"]
    assert "non-root" in message and "stat -c %g" in fix


def pool(local: Config) -> Config:
    config = copy.deepcopy(local)
    sandboxes = config["stockade:sandboxes"]
    sandboxes.update({"mode": "pool", "poolSize": 2})
    for key in ("sessionImage", "maxConcurrentSessions"):
        sandboxes.pop(key)
    sandboxes["resources"].pop("pidsLimit")
    config["stockade:docker"].pop("socketGroupId")
    return config


def test_pool_mode_is_valid_and_reports_the_missing_pids_limit(local: Config) -> None:
    weakenings = validate("local", pool(local)).weakenings()
    assert any("'pool'" in w and "no pids limit" in w for w in weakenings)


@pytest.mark.parametrize(
    ("path", "value", "key", "message"),
    [
        ("socketGroupId", 999, "stockade:docker.socketGroupId", "only per-session mode"),
        ("keepSessionWorkspaces", False, "stockade:docker.keepSessionWorkspaces", "only per-session mode"),
    ],
)
def test_per_session_knobs_are_refused_in_pool_mode(
    local: Config, path: str, value: object, key: str, message: str
) -> None:
    found = problems(with_(pool(local), "stockade:docker", path, value))
    assert message in found[key][1]


def test_a_pids_limit_a_pool_cannot_enforce_is_refused(local: Config) -> None:
    found = problems(with_(pool(local), "stockade:sandboxes", "resources.pidsLimit", 256))
    assert "no pids limit" in found["stockade:sandboxes.resources.pidsLimit"][1]


def test_image_builds_push_to_ecr_and_are_refused_on_docker(local: Config) -> None:
    config = copy.deepcopy(local)
    config["stockade:sandboxes"].pop("sessionImage")
    config["stockade:sandboxes"]["sessionBuild"] = {"context": "images/session", "tag": "v1"}
    assert "ECR" in problems(config)["stockade:sandboxes.sessionBuild"][1]


def test_the_sandbox_subnet_must_not_shadow_a_route_or_an_allowed_network(local: Config) -> None:
    config = with_(local, "stockade:docker", "sandboxSubnet", "172.30.10.0/24")
    config["stockade:network"]["egress"]["allowedCidrs"] = ["172.30.0.0/16"]
    problem = problems(config)["stockade:docker.sandboxSubnet"]
    assert "overlaps" in problem[1]
    assert problem[0] == "'172.30.10.0/24'"


def test_the_sandbox_subnet_must_hold_the_session_cap(local: Config) -> None:
    config = with_(local, "stockade:docker", "sandboxSubnet", "10.213.0.0/28")
    config["stockade:sandboxes"]["maxConcurrentSessions"] = 20
    assert "fewer than maxConcurrentSessions" in problems(config)["stockade:docker.sandboxSubnet"][1]


def test_a_brought_vpc_is_refused_on_docker(local: Config) -> None:
    config = copy.deepcopy(local)
    config["stockade:network"].update(
        {
            "vpcId": "vpc-0123456789abcdef0",
            "cidr": "10.50.0.0/16",
            "privateSubnetIds": ["subnet-0123456789abcdef0"],
            "vpcEndpoints": False,
        }
    )
    config["stockade:network"]["egress"]["enforcement"] = "dns-firewall"
    found = problems(config)
    assert {
        "stockade:network.vpcId",
        "stockade:network.privateSubnetIds",
        "stockade:network.cidr",
        "stockade:network.egress.enforcement",
    } <= set(found)


def test_every_problem_is_reported_at_once(local: Config) -> None:
    config = with_(local, "stockade:sandboxes", "enableExec", True)
    config = with_(config, "stockade:tunnel", "images.mirror", False)
    config["stockade:docker"].pop("socketGroupId")
    found = problems(config)
    assert {
        "stockade:sandboxes.enableExec",
        "stockade:tunnel.images.mirror",
        "stockade:docker.socketGroupId",
    } <= set(found)
