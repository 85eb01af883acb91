"""`stockade synth --stack local`: the containers, networks and volumes, and their hardening.

Every assertion reads the recorded desired state (wire names, as `pulumi up` would send
them), never the component code, so a change that drops a flag fails here.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from ipaddress import IPv4Network
from typing import Any

import pytest
from typer.testing import CliRunner

from stockade.cli.app import app
from stockade.docker.egress_proxy import render_squid_config, squid_domains
from stockade.engine import SynthResource, SynthResult
from stockade.engine.redact import REDACTED
from stockade.settings.load import validate
from stockade.tunnel.proxy_config import render_proxy_config

from .conftest import PROJECT_DIR

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
IMAGE = "docker:index/remoteImage:RemoteImage"
PROVIDER = "pulumi:providers:docker"
Config = dict[str, Any]


def by_name(result: SynthResult, type_token: str) -> dict[str, SynthResource]:
    return {r.name: r for r in result.by_type(type_token)}


def running(result: SynthResult) -> dict[str, SynthResource]:
    """Containers that run a process (stagers are created, never started)."""
    return {n: r for n, r in by_name(result, CONTAINER).items() if r.inputs.get("start", True) is not False}


def stagers(result: SynthResult) -> dict[str, SynthResource]:
    return {n: r for n, r in by_name(result, CONTAINER).items() if r.inputs.get("start", True) is False}


def envs(container: SynthResource) -> dict[str, str]:
    return dict(e.split("=", 1) for e in container.inputs.get("envs", []))


def label(resource: SynthResource, key: str) -> str | None:
    return next((x["value"] for x in resource.inputs.get("labels", []) if x["label"] == key), None)


def networks_of(container: SynthResource) -> list[str]:
    return [n["name"] for n in container.inputs.get("networksAdvanced", [])]


def mounts(container: SynthResource) -> dict[str, dict[str, Any]]:
    return {m["target"]: m for m in container.inputs.get("mounts", [])}


@pytest.fixture
def local(synth_stack: Callable[[str], SynthResult]) -> SynthResult:
    return synth_stack("local")


@pytest.fixture
def local_config(example_config: Callable[[str], Config]) -> Config:
    return example_config("local")


# --- inventory ------------------------------------------------------------------------------


def test_local_lists_the_containers_networks_and_volumes(local: SynthResult) -> None:
    assert set(running(local)) == {
        "stockade-network-proxy",
        "stockade-sandboxes-socket-proxy",
        "stockade-sandboxes-broker",
        "stockade-sandboxes-poller",
        "stockade-tunnel-proxy-0",
        "stockade-tunnel-cloudflared-0",
    }
    assert set(stagers(local)) == {
        "stockade-network-proxy-files",
        "stockade-sandboxes-secrets-files",
        "stockade-tunnel-files",
        "stockade-tunnel-key-files",
    }
    assert set(by_name(local, NETWORK)) == {
        "stockade-network-sandbox",
        "stockade-network-egress",
        "stockade-sandboxes-dispatch",
        "stockade-sandboxes-docker-api",
        "stockade-tunnel-net",
    }
    assert set(by_name(local, VOLUME)) == {
        "stockade-network-proxy-config",
        "stockade-sandboxes-secrets",
        "stockade-tunnel-config",
        "stockade-tunnel-data",
    }
    components = {r.type for r in local.resources if not r.custom}
    assert {
        "stockade:docker:Network",
        "stockade:docker:SandboxFleet",
        "stockade:docker:TunnelGateway",
    } <= components
    assert not local.by_type(PROVIDER)  # no docker.host: the default provider (DOCKER_HOST) is used


def test_the_cli_summary_names_every_docker_resource_type() -> None:
    result = CliRunner().invoke(app, ["synth", "--stack", "local", "--project-dir", str(PROJECT_DIR)])
    assert result.exit_code == 0, result.output
    lines = {
        line.split()[-1]: int(line.split()[0]) for line in result.output.splitlines()[1:] if line.strip()
    }
    assert lines[CONTAINER] == 10 and lines[NETWORK] == 5 and lines[VOLUME] == 4 and lines[IMAGE] == 6


# --- hardening ------------------------------------------------------------------------------


def test_every_running_container_carries_the_reference_hardening(local: SynthResult) -> None:
    for name, container in running(local).items():
        inputs = container.inputs
        assert inputs["user"] == "65532:65532", name
        assert inputs["readOnly"] is True, name
        assert inputs["privileged"] is False, name
        assert inputs["capabilities"] == {"drops": ["ALL"]}, name
        assert inputs["securityOpts"] == ["no-new-privileges:true"], name
        assert inputs["stopSignal"] == "SIGTERM" and inputs["stopTimeout"] == 30, name
        assert inputs["destroyGraceSeconds"] == 30, name
        assert inputs["logDriver"] == "json-file", name
        assert inputs["logOpts"] == {"max-size": "10m", "max-file": "3"}, name
        assert inputs["restart"] == "unless-stopped", name
        assert inputs["init"] is True, name
        assert inputs["memory"] > 0 and inputs["memorySwap"] == inputs["memory"], name
        assert float(inputs["cpus"]) > 0, name
        assert "ports" not in inputs, name
        assert all("nosuid,nodev" in options for options in inputs.get("tmpfs", {}).values()), name
        assert label(container, "stockade:stack") == "local" and label(container, "owner") == "local-dev"
        assert networks_of(container) or str(inputs.get("networkMode", "")).startswith("container:"), name


def test_stagers_never_run_and_hold_no_network(local: SynthResult) -> None:
    for name, stager in stagers(local).items():
        inputs = stager.inputs
        assert inputs["start"] is False and inputs["mustRun"] is False, name
        assert inputs["networkMode"] == "none" and inputs["restart"] == "no", name
        assert inputs["entrypoints"] == ["/stockade-stager-is-never-started"], name
        assert inputs["capabilities"] == {"drops": ["ALL"]}, name
        assert inputs["securityOpts"] == ["no-new-privileges:true"], name
        assert inputs["user"] == "65532:65532", name
        assert inputs["uploads"], name


# --- networks and egress --------------------------------------------------------------------


def test_sandboxes_have_no_route_out_but_the_allowlisting_proxy(local: SynthResult) -> None:
    nets = by_name(local, NETWORK)
    sandbox, egress = nets["stockade-network-sandbox"], nets["stockade-network-egress"]
    assert sandbox.inputs["internal"] is True
    assert sandbox.inputs["ipamConfigs"] == [{"subnet": "10.213.0.0/22"}]
    assert not egress.inputs.get("internal")
    assert nets["stockade-sandboxes-dispatch"].inputs["internal"] is True
    assert nets["stockade-sandboxes-docker-api"].inputs["internal"] is True

    sandbox_name, egress_name = local.outputs["sandboxNetwork"], "stockade-network-egress"
    containers = running(local)
    on_egress = [n for n, c in containers.items() if any(x.startswith(egress_name) for x in networks_of(c))]
    assert on_egress == ["stockade-network-proxy"]
    proxy = containers["stockade-network-proxy"]
    assert {"name": sandbox_name, "aliases": ["egress-proxy"]} in proxy.inputs["networksAdvanced"]
    assert proxy.inputs["entrypoints"] == ["/usr/sbin/squid", "-N", "-f", "/etc/stockade-squid/squid.conf"]
    assert mounts(proxy)["/etc/stockade-squid"]["readOnly"] is True

    poller = containers["stockade-sandboxes-poller"]
    assert envs(poller)["HTTPS_PROXY"] == "http://egress-proxy:3128"
    assert sandbox_name in networks_of(poller)
    assert local.outputs["egressProxyUrl"] == "http://egress-proxy:3128"


def test_the_allowlist_is_the_vendor_api_plus_the_stack_file(local: SynthResult) -> None:
    (upload,) = stagers(local)["stockade-network-proxy-files"].inputs["uploads"]
    assert upload["file"] == "/etc/stockade-squid/squid.conf" and upload["permissions"] == "0444"
    config = upload["content"]
    assert "acl stockade_domains dstdomain -n api.anthropic.com files.pythonhosted.org pypi.org\n" in config
    assert "acl stockade_clients src 10.213.0.0/22\n" in config
    assert config.index("http_access deny !stockade_clients") < config.index(
        "http_access allow stockade_domains"
    )
    assert config.rstrip().endswith("http_access deny all")


def test_squid_entries_drop_names_a_wildcard_covers() -> None:
    assert squid_domains(["*.example.com", "example.com", "a.example.com", "pypi.org"]) == [
        ".example.com",
        "api.anthropic.com",
        "pypi.org",
    ]
    assert squid_domains(["*.anthropic.com"]) == [".anthropic.com"]
    without = render_squid_config(
        client_subnet=IPv4Network("10.213.0.0/22"), allowed_domains=[], allowed_cidrs=[]
    )
    assert "stockade_networks" not in without
    with_cidr = render_squid_config(
        client_subnet=IPv4Network("10.213.0.0/22"),
        allowed_domains=[],
        allowed_cidrs=[IPv4Network("192.0.2.0/24")],
    )
    assert "acl stockade_networks dst 192.0.2.0/24\n" in with_cidr
    assert with_cidr.index("allow stockade_networks") < with_cidr.index("http_access deny all")


def test_mcp_upstreams_are_reached_from_the_tunnel_network_only(local: SynthResult) -> None:
    tunnel_net = local.outputs["tunnelNetwork"]
    containers = running(local)
    on_tunnel = sorted(n for n, c in containers.items() if tunnel_net in networks_of(c))
    assert on_tunnel == ["stockade-tunnel-proxy-0"]
    assert local.outputs["sandboxNetwork"] not in networks_of(containers["stockade-tunnel-proxy-0"])


# --- per-session dispatch -------------------------------------------------------------------


def test_only_the_socket_proxy_touches_the_docker_socket(local: SynthResult) -> None:
    containers = running(local)
    with_bind = {
        n for n, c in containers.items() if any(m["type"] == "bind" for m in c.inputs.get("mounts", []))
    }
    assert with_bind == {"stockade-sandboxes-socket-proxy"}
    proxy = containers["stockade-sandboxes-socket-proxy"]
    assert mounts(proxy)["/var/run/docker.sock"] == {
        "readOnly": True,
        "source": "/var/run/docker.sock",
        "target": "/var/run/docker.sock",
        "type": "bind",
    }
    assert proxy.inputs["groupAdds"] == ["999"]
    env = envs(proxy)
    assert env["CONTAINERS"] == "1" and env["ALLOW_ARCHIVE"] == "1"
    denied = (
        "EXEC",
        "ALLOW_EXEC",
        "IMAGES",
        "VOLUMES",
        "NETWORKS",
        "BUILD",
        "ALLOW_ATTACH",
        "SYSTEM",
        "EVENTS",
    )
    assert all(env[k] == "0" for k in denied)
    (only,) = networks_of(proxy)
    assert only.startswith("stockade-sandboxes-docker-api-")


def test_the_poller_cannot_reach_the_docker_api(local: SynthResult) -> None:
    containers = running(local)
    docker_api = next(n for n in by_name(local, NETWORK) if n.endswith("docker-api"))
    on_api = sorted(n for n, c in containers.items() if any(x.startswith(docker_api) for x in networks_of(c)))
    assert on_api == ["stockade-sandboxes-broker", "stockade-sandboxes-socket-proxy"]
    poller = containers["stockade-sandboxes-poller"]
    script = poller.inputs["entrypoints"][2]
    assert poller.inputs["entrypoints"][:2] == ["/bin/bash", "-c"]
    assert script.endswith(
        "exec ant beta:worker poll --workdir /workspace --log-format json "
        "--on-work /usr/local/bin/stockade-docker-dispatch"
    )
    assert envs(poller)["STOCKADE_BROKER_URL"] == "http://dispatch-broker:8080"


def test_the_broker_gets_the_sandbox_template_from_settings(local: SynthResult) -> None:
    broker = running(local)["stockade-sandboxes-broker"]
    env = envs(broker)
    assert env["STOCKADE_SESSION_IMAGE"] == "stockade-session:local"
    assert env["STOCKADE_SANDBOX_NETWORK"] == local.outputs["sandboxNetwork"]
    assert env["STOCKADE_SANDBOX_RUNTIME"] == "runc"
    assert env["STOCKADE_SANDBOX_MEMORY_MIB"] == "4096" and env["STOCKADE_SANDBOX_PIDS_LIMIT"] == "512"
    assert env["STOCKADE_SANDBOX_NANO_CPUS"] == "1000000000"
    assert env["STOCKADE_MAX_CONCURRENT_SESSIONS"] == "3"
    # Every sandbox gets an API proxy holding the key, unless sandboxes.apiProxy.enabled is false.
    assert env["STOCKADE_API_PROXY_ENABLED"] == "true"
    assert env["STOCKADE_DOCKER_ENDPOINT"] == "socket-proxy:2375"
    assert json.loads(env["STOCKADE_SANDBOX_LABELS"])["owner"] == "local-dev"
    assert broker.inputs["entrypoints"] == ["python3", "-m", "stockade.docker_dispatcher.broker"]
    assert local.outputs["sandboxNetwork"] not in networks_of(broker)
    images = {r.inputs["name"] for r in local.by_type(IMAGE)}
    assert "stockade-session:local" in images  # pulled ahead, so the broker never pulls


# --- secrets ---------------------------------------------------------------------------------


def test_secrets_land_as_files_or_secret_env_and_never_in_clear(local: SynthResult) -> None:
    containers, staged = running(local), stagers(local)
    assert staged["stockade-sandboxes-secrets-files"].inputs["uploads"] == REDACTED
    assert staged["stockade-tunnel-key-files"].inputs["uploads"] == REDACTED
    assert containers["stockade-tunnel-cloudflared-0"].inputs["envs"] == REDACTED
    for name, container in containers.items():
        if name != "stockade-tunnel-cloudflared-0":
            assert not any(k.endswith(("_KEY", "_TOKEN", "_SECRET")) for k in envs(container)), name
    for name in ("stockade-sandboxes-poller", "stockade-sandboxes-broker"):
        assert mounts(containers[name])["/run/stockade"]["readOnly"] is True
    assert local.outputs["tunnelCaCertificatePem"].startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" not in local.to_json()


def test_consumers_are_replaced_when_their_files_change(local: SynthResult) -> None:
    """Each consumer labels the IDs of the stagers it reads, so new content means a new container."""
    containers = running(local)
    files = label(containers["stockade-tunnel-proxy-0"], "stockade:files")
    assert files is not None
    assert [f.rsplit("-", 1)[0] for f in files.split(",")] == [
        "stockade-tunnel-files",
        "stockade-tunnel-key-files",
    ]
    for name in ("stockade-sandboxes-poller", "stockade-sandboxes-broker"):
        assert str(label(containers[name], "stockade:files")).startswith("stockade-sandboxes-secrets-files-")
    assert label(containers["stockade-network-proxy"], "stockade:files").startswith(
        "stockade-network-proxy-files-"
    )
    assert len(str(label(containers["stockade-tunnel-proxy-0"], "stockade:proxy-config-sha256"))) == 64


# --- tunnel ----------------------------------------------------------------------------------


def test_the_tunnel_mirrors_the_vendor_compose_reference(local: SynthResult, local_config: Config) -> None:
    containers = running(local)
    proxy, cloudflared = containers["stockade-tunnel-proxy-0"], containers["stockade-tunnel-cloudflared-0"]
    assert proxy.inputs["image"].startswith(
        "us-docker.pkg.dev/anthropic-public-registry/images/mcp-proxy@sha256:"
    )
    assert cloudflared.inputs["image"].startswith("cloudflare/cloudflared@sha256:")
    assert cloudflared.inputs["networkMode"].startswith("container:stockade-tunnel-proxy-0")
    assert "networksAdvanced" not in cloudflared.inputs
    # tunnel.healthCheck is off by default (`tunnel ready` is unverified in the pinned digest).
    assert cloudflared.inputs["command"] == [
        "tunnel",
        "--no-autoupdate",
        "run",
        "--url",
        "http://localhost:8080",
    ]
    assert "healthcheck" not in cloudflared.inputs
    assert label(cloudflared, "stockade:token-version") == "1"
    proxy_mounts = mounts(proxy)
    assert set(proxy_mounts) == {"/etc/mcp-gateway", "/data"}
    assert all(m["readOnly"] is True and m["type"] == "volume" for m in proxy_mounts.values())

    uploads = {u["file"]: u for u in stagers(local)["stockade-tunnel-files"].inputs["uploads"]}
    settings = validate("local", local_config)
    assert uploads["/etc/mcp-gateway/config.yaml"]["content"] == render_proxy_config(settings.tunnel)
    assert uploads["/data/tls.crt"]["content"].startswith("-----BEGIN CERTIFICATE-----")
    assert all(u["permissions"] == "0444" for u in uploads.values())
    assert "/data/tls.key" not in uploads


# --- variants -------------------------------------------------------------------------------


def _minimal() -> Config:
    return {
        "stockade:target": "docker",
        "stockade:environment": "dev",
        "stockade:docker": {"socketGroupId": 998},
        "stockade:sandboxes": {
            "environmentId": "env_01Minimal",
            "environmentKey": {"secure": "v1:3YbY+V7eKIk2g4tq:djE6YTJWNcjx/T0xtpSQ6Iq6JF6cq2w="},
            "sessionImage": "stockade-session:local",
            "workerImage": "stockade-poller:local",
        },
    }


def test_pool_mode_runs_n_hardened_workers_and_no_dispatch(
    synth_config: Callable[..., SynthResult], local_config: Config
) -> None:
    config = copy.deepcopy(local_config)
    sandboxes = config["stockade:sandboxes"]
    sandboxes.update({"mode": "pool", "poolSize": 3, "maxIdleSeconds": 120})
    for key in ("sessionImage", "maxConcurrentSessions"):
        sandboxes.pop(key)
    sandboxes["resources"] = {"cpu": 2048, "memoryMib": 8192}
    config["stockade:docker"] = {"runtime": "runsc"}
    result = synth_config("local", config)
    containers = running(result)
    workers = sorted(n for n in containers if "-worker-" in n)
    assert workers == [f"stockade-sandboxes-worker-{i}" for i in range(3)]
    assert not {
        "stockade-sandboxes-poller",
        "stockade-sandboxes-broker",
        "stockade-sandboxes-socket-proxy",
    } & set(containers)
    for name in workers:
        worker = containers[name].inputs
        assert worker["runtime"] == "runsc" and worker["memory"] == 8192 and worker["cpus"] == "2"
        assert worker["entrypoints"][2].endswith(
            "exec ant beta:worker poll --workdir /workspace --log-format json --max-idle 120s"
        )
        assert set(mounts(containers[name])) == {"/workspace", "/mnt/memory", "/run/stockade"}
        assert worker["tmpfs"] == {"/tmp": "rw,exec,nosuid,nodev,size=512m,mode=1777"}
        assert mounts(containers[name])["/workspace"]["readOnly"] is False
    volumes = set(by_name(result, VOLUME))
    assert {
        f"stockade-sandboxes-worker-{i}-{v}" for i in range(3) for v in ("workspace", "memory")
    } <= volumes
    assert any("'pool'" in w for w in result.weakenings)


def test_open_egress_drops_the_proxy_and_is_reported(synth_config: Callable[..., SynthResult]) -> None:
    config = _minimal()
    config["stockade:network"] = {"egress": {"mode": "open"}}
    result = synth_config("open", config)
    sandbox = by_name(result, NETWORK)["stockade-network-sandbox"]
    assert sandbox.inputs["internal"] is False
    assert "stockade-network-proxy" not in running(result)
    assert "HTTPS_PROXY" not in envs(running(result)["stockade-sandboxes-poller"])
    assert envs(running(result)["stockade-sandboxes-broker"])["STOCKADE_EGRESS_PROXY_URL"] == ""
    assert any("egress.mode is 'open'" in w for w in result.weakenings)


def test_a_remote_host_over_ssh_gets_an_explicit_provider(synth_config: Callable[..., SynthResult]) -> None:
    config = _minimal()
    config["stockade:docker"].update({"host": "ssh://deploy@build-01:22", "sshOpts": ["-o", "BatchMode=yes"]})
    result = synth_config("remote", config)
    (provider,) = result.by_type(PROVIDER)
    assert provider.inputs["host"] == "ssh://deploy@build-01:22"
    # A provider's non-string inputs travel JSON-encoded.
    assert json.loads(provider.inputs["sshOpts"]) == ["-o", "BatchMode=yes"]
    docker_resources = [r for r in result.resources if r.type.startswith("docker:")]
    assert docker_resources and all(r.provider == provider.urn for r in docker_resources)
    assert result.outputs["dockerHost"] == "ssh://deploy@build-01:22"


def test_tcp_tls_material_reaches_the_provider_as_a_secret(synth_config: Callable[..., SynthResult]) -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    config = _minimal()
    config["stockade:docker"].update(
        {
            "host": "tcp://docker.internal:2376",
            "tls": {
                "caCertificatePem": pem,
                "clientCertificatePem": pem,
                "clientKey": {"secure": "v1:3YbY+V7eKIk2g4tq:djE6YTJWNcjx/T0xtpSQ6Iq6JF6cq2w="},
            },
        }
    )
    (provider,) = synth_config("tls", config).by_type(PROVIDER)
    assert provider.inputs["keyMaterial"] == REDACTED
    assert provider.inputs["caMaterial"] == pem


def test_provided_certificates_skip_generation(synth_config: Callable[..., SynthResult]) -> None:
    config = _minimal()
    config["stockade:tunnel"] = {
        "enabled": True,
        "tunnelDomain": "e5f6a7b8.tunnel.anthropic.com",
        "routes": {"wiki": "http://172.30.10.10:8080"},
        "token": {"secure": "v1:7BGRONnhRsWX7Ry2:djE6ZEc5ciwUKTSHvFgPsRVOgABEUVU="},
        "replicas": 2,
        "healthCheck": True,
        "certificates": {
            "source": "provided",
            "serverCertificatePem": _server_pem(),
            "serverKey": {"secure": "v1:3YbY+V7eKIk2g4tq:djE6YTJWNcjx/T0xtpSQ6Iq6JF6cq2w="},
        },
    }
    result = synth_config("provided", config)
    assert not result.by_type("stockade:tls:TunnelCertificates")
    assert "tunnelCaCertificatePem" not in result.outputs
    containers = running(result)
    assert {"stockade-tunnel-proxy-1", "stockade-tunnel-cloudflared-1"} <= set(containers)
    # Turned on explicitly here (off by default): the check queries cloudflared's loopback metrics.
    assert containers["stockade-tunnel-cloudflared-1"].inputs["healthcheck"]["tests"][-1] == "ready"
    assert "--metrics" in containers["stockade-tunnel-cloudflared-1"].inputs["command"]
    assert stagers(result)["stockade-tunnel-key-files"].inputs["uploads"] == REDACTED


def _server_pem() -> str:
    """A self-issued server certificate for the tunnel domain (what `provided` accepts offline)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "*.e5f6a7b8.tunnel.anthropic.com")])
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("*.e5f6a7b8.tunnel.anthropic.com")]), False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(Encoding.PEM).decode()
