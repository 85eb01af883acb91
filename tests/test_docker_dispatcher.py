"""The Docker dispatch path: on-work handler -> broker -> (stand-in) Engine API, end to end.

Everything runs on 127.0.0.1: the broker's HTTP server and tests/fake_engine_api.py, a
stand-in for the five Engine API calls the broker makes (not a Docker engine). Waits are
driven by a fake clock, so no test sleeps.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from stockade.docker_dispatcher import client
from stockade.docker_dispatcher.broker import Broker, BrokerConfig, make_server
from stockade.docker_dispatcher.engine import EngineClient, parse_endpoint
from stockade.docker_dispatcher.errors import EngineError
from stockade.docker_dispatcher.spec import (
    COMPONENT_LABEL,
    DEFAULT_UPSTREAM,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    PLACEHOLDER_KEY,
    PROXY_ENTRY,
    PROXY_PORT,
    PROXY_SECRETS_DIR,
    SANDBOX_UID,
    SECRETS_DIR,
    SESSION_SCRIPT,
    SESSION_SCRIPT_WITH_KEY,
    STACK_LABEL,
    WORK_ID_LABEL,
    read_secrets_script,
)
from stockade.docker_dispatcher.work import SessionRequest, from_work_item
from stockade.workqueue.errors import (
    EXIT_INVALID,
    EXIT_LAUNCH,
    EXIT_NO_SLOT,
    EXIT_OK,
    ConfigError,
    LaunchError,
    NoSlotError,
    WorkItemError,
)
from stockade.workqueue.workitem import Secret

from .dispatch_support import image_layout, loaded_modules, run, unexpected_modules, work_item_json
from .fake_engine_api import FakeEngineApi

WORK_SECRET = "ws-very-secret-7f3a9c1e2b"
ENV_KEY = "sk-ant-oat01-environment-key-for-tests"
COMPONENTS = Path(__file__).resolve().parents[1] / "components"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def engine() -> Iterator[FakeEngineApi]:
    with FakeEngineApi() as api:
        yield api


def broker_environ(port: int, **overrides: str) -> dict[str, str]:
    environ = {
        "STOCKADE_STACK": "local",
        "STOCKADE_DOCKER_ENDPOINT": f"127.0.0.1:{port}",
        "STOCKADE_SESSION_IMAGE": "stockade-session:local",
        "STOCKADE_SANDBOX_NETWORK": "stockade-network-sandbox-1234567",
        "STOCKADE_SANDBOX_RUNTIME": "runsc",
        "STOCKADE_SANDBOX_NANO_CPUS": "1000000000",
        "STOCKADE_SANDBOX_MEMORY_MIB": "4096",
        "STOCKADE_SANDBOX_PIDS_LIMIT": "512",
        "STOCKADE_MAX_CONCURRENT_SESSIONS": "2",
        "STOCKADE_EGRESS_PROXY_URL": "http://egress-proxy:3128",
        "STOCKADE_SANDBOX_LABELS": json.dumps({"owner": "tests", "stockade:environment": "dev"}),
        "ANTHROPIC_ENVIRONMENT_ID": "env_01LocalExample",
    }
    environ.update(overrides)
    return environ


def make_config(tmp_path: Path, port: int, **overrides: str) -> BrokerConfig:
    (tmp_path / "environment-key").write_text(ENV_KEY + "\n", encoding="utf-8")
    return BrokerConfig.from_environ(broker_environ(port, **overrides), secrets_dir=tmp_path)


def request(work_id: str = "work_01", session_id: str = "sesn_01") -> SessionRequest:
    return SessionRequest(work_id=work_id, session_id=session_id, secret=Secret(WORK_SECRET))


@pytest.fixture
def broker_server(engine: FakeEngineApi, tmp_path: Path) -> Iterator[tuple[Broker, int]]:
    config = make_config(tmp_path, engine.port)
    broker = Broker(
        config, EngineClient("127.0.0.1", engine.port, timeout=5), clock=lambda: engine.state.clock
    )
    server = make_server(broker, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield broker, int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def client_config(port: int, wait: float = 10.0) -> client.ClientConfig:
    return client.ClientConfig(broker_host="127.0.0.1", broker_port=port, wait_seconds=wait)


# --- the sandbox the broker starts ---------------------------------------------------------


def session_containers(engine: FakeEngineApi, work_id: str = "work_01") -> tuple[dict, dict]:
    """(proxy, sandbox) of one work item."""
    mine = [c for c in engine.state.containers.values() if c["Config"]["Labels"][WORK_ID_LABEL] == work_id]
    by_component = {c["Config"]["Labels"][COMPONENT_LABEL]: c for c in mine}
    assert len(mine) == 2 and set(by_component) == {"api-proxy", "sandbox"}
    return by_component["api-proxy"], by_component["sandbox"]


def sandboxes(engine: FakeEngineApi) -> list[dict]:
    return [
        c for c in engine.state.containers.values() if c["Config"]["Labels"].get(COMPONENT_LABEL) == "sandbox"
    ]


def _assert_hardened(config: dict, host: dict) -> None:
    assert config["User"] == "65532:65532"
    assert host["ReadonlyRootfs"] is True and host["Privileged"] is False
    assert host["CapDrop"] == ["ALL"] and "CapAdd" not in host
    assert host["SecurityOpt"] == ["no-new-privileges:true"]
    assert host["Runtime"] == "runsc" and host["Init"] is True and host["IpcMode"] == "private"
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}}
    assert "Binds" not in host and all(m["Type"] in ("volume", "tmpfs") for m in host["Mounts"])
    assert host["Memory"] == host["MemorySwap"] and host["PidsLimit"] > 0 and host["NanoCpus"] > 0
    assert "PortBindings" not in host and "PublishAllPorts" not in host


def test_a_session_becomes_a_proxy_and_a_hardened_sandbox_in_its_network_namespace(
    engine: FakeEngineApi, broker_server: tuple[Broker, int]
) -> None:
    _, port = broker_server
    answer = client.dispatch(request(), client_config(port))
    assert answer.status == 201
    assert answer.body == {"container": "stockade-local-work_01", "existing": False}

    proxy, container = session_containers(engine)
    assert proxy["Name"] == "/stockade-local-work_01-proxy"
    assert container["State"] == proxy["State"] == "running"
    config, host = container["Config"], container["HostConfig"]
    _assert_hardened(config, host)
    assert config["Image"] == "stockade-session:local"
    assert config["Entrypoint"] == ["/bin/bash", "-c", SESSION_SCRIPT]
    assert config["StopSignal"] == "SIGTERM" and config["StopTimeout"] == 120
    assert config["Labels"][MANAGED_BY_LABEL] == MANAGED_BY
    assert config["Labels"][STACK_LABEL] == "local"
    assert config["Labels"]["owner"] == "tests"
    env = dict(e.split("=", 1) for e in config["Env"])
    assert env["ANTHROPIC_SESSION_ID"] == "sesn_01"
    assert env["ANTHROPIC_ENVIRONMENT_ID"] == "env_01LocalExample"
    assert env["HTTPS_PROXY"] == "http://egress-proxy:3128"
    # The sandbox talks to its proxy on loopback, with a placeholder: the key never enters it.
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:8790"
    assert env["ANTHROPIC_ENVIRONMENT_KEY"] == PLACEHOLDER_KEY
    assert "127.0.0.1" in env["NO_PROXY"].split(",")
    assert host["NetworkMode"] == f"container:{proxy['Id']}"
    assert host["Memory"] == 4096 * 1024 * 1024
    assert host["NanoCpus"] == 1_000_000_000 and host["PidsLimit"] == 512
    targets = {m["Target"]: m for m in host["Mounts"]}
    assert set(targets) == {"/workspace", "/mnt/memory", SECRETS_DIR}
    assert targets["/workspace"]["Source"] == "stockade-local-work_01-workspace"
    assert "Source" not in targets[SECRETS_DIR]  # anonymous: removed with the container
    assert host["Tmpfs"] == {"/tmp": "rw,exec,nosuid,nodev,size=512m,mode=1777"}
    files = engine.state.files[container["Id"]]
    assert files == {
        f"{SECRETS_DIR}/work-secret": ((WORK_SECRET + "\n").encode(), 0o600, SANDBOX_UID, SANDBOX_UID)
    }

    # The proxy: as hardened, on the sandbox network, holding the key as a file only.
    pconfig, phost = proxy["Config"], proxy["HostConfig"]
    _assert_hardened(pconfig, phost)
    assert pconfig["Image"] == "stockade-session:local"
    assert pconfig["Entrypoint"] == [PROXY_ENTRY]
    assert phost["NetworkMode"] == "stockade-network-sandbox-1234567"
    assert [m["Target"] for m in phost["Mounts"]] == [PROXY_SECRETS_DIR]
    penv = dict(e.split("=", 1) for e in pconfig["Env"])
    assert penv["ANTHROPIC_WORK_ID"] == "work_01" and penv["ANTHROPIC_SESSION_ID"] == "sesn_01"
    assert penv["STOCKADE_API_PROXY_UPSTREAM"] == "https://api.anthropic.com"
    assert penv["STOCKADE_API_PROXY_KEY_FILE"] == f"{PROXY_SECRETS_DIR}/environment-key"
    assert penv["HTTPS_PROXY"] == "http://egress-proxy:3128"
    assert "STOCKADE_API_PROXY_CA_BUNDLE" not in penv
    assert engine.state.files[proxy["Id"]] == {
        f"{PROXY_SECRETS_DIR}/environment-key": ((ENV_KEY + "\n").encode(), 0o600, SANDBOX_UID, SANDBOX_UID)
    }
    # Order matters: the proxy runs with its key before the sandbox exists; secrets before starts.
    calls = [
        (r.method, r.path.split("?")[0].rsplit("/", 1)[-1])
        for r in engine.state.requests
        if r.path.startswith("/v1.41")
    ]
    starts = [i for i, call in enumerate(calls) if call == ("POST", "start")]
    archives = [i for i, call in enumerate(calls) if call == ("PUT", "archive")]
    creates = [i for i, call in enumerate(calls) if call == ("POST", "create")]
    assert len(starts) == len(archives) == len(creates) == 2
    assert creates[0] < archives[0] < starts[0] < creates[1] < archives[1] < starts[1]


def test_the_proxy_and_the_broker_agree_on_the_proxy_s_names() -> None:
    from stockade.apiproxy import config as proxy_config

    assert proxy_config.DEFAULT_PORT == PROXY_PORT
    assert proxy_config.DEFAULT_UPSTREAM == DEFAULT_UPSTREAM
    assert not PLACEHOLDER_KEY.startswith("sk-ant-") and "placeholder" in PLACEHOLDER_KEY
    shim = (COMPONENTS.parent / "images" / "session" / "stockade-api-proxy").read_text()
    assert PROXY_ENTRY == "/usr/local/bin/stockade-api-proxy" and "-m stockade.apiproxy" in shim


def test_with_the_proxy_off_the_sandbox_holds_the_key_as_before(
    engine: FakeEngineApi, tmp_path: Path
) -> None:
    config = make_config(tmp_path, engine.port, STOCKADE_API_PROXY_ENABLED="false")
    broker = Broker(
        config, EngineClient("127.0.0.1", engine.port, timeout=5), clock=lambda: engine.state.clock
    )
    broker.start_session(request())
    (container,) = engine.state.containers.values()
    host = container["HostConfig"]
    assert host["NetworkMode"] == "stockade-network-sandbox-1234567"
    assert container["Config"]["Entrypoint"] == ["/bin/bash", "-c", SESSION_SCRIPT_WITH_KEY]
    env = dict(e.split("=", 1) for e in container["Config"]["Env"])
    assert "ANTHROPIC_ENVIRONMENT_KEY" not in env and "ANTHROPIC_BASE_URL" not in env
    files = engine.state.files[container["Id"]]
    assert files[f"{SECRETS_DIR}/environment-key"][0] == (ENV_KEY + "\n").encode()


def test_a_ca_bundle_and_a_work_item_base_url_reach_the_proxy(engine: FakeEngineApi, tmp_path: Path) -> None:
    from tests.test_apiproxy import make_ca

    ca, _, _ = make_ca(tmp_path, "private")
    config = make_config(tmp_path, engine.port, STOCKADE_API_PROXY_CA_BUNDLE=str(ca))
    broker = Broker(
        config, EngineClient("127.0.0.1", engine.port, timeout=5), clock=lambda: engine.state.clock
    )
    item = SessionRequest("work_01", "sesn_01", Secret(WORK_SECRET), base_url="https://vendor.test:8443")
    broker.start_session(item)
    proxy, _ = session_containers(engine)
    penv = dict(e.split("=", 1) for e in proxy["Config"]["Env"])
    assert penv["STOCKADE_API_PROXY_UPSTREAM"] == "https://vendor.test:8443"
    assert penv["STOCKADE_API_PROXY_CA_BUNDLE"] == f"{PROXY_SECRETS_DIR}/ca-bundle.pem"
    files = engine.state.files[proxy["Id"]]
    assert files[f"{PROXY_SECRETS_DIR}/ca-bundle.pem"][0].strip() == ca.read_bytes().strip()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"STOCKADE_API_PROXY_ENABLED": "maybe"}, "STOCKADE_API_PROXY_ENABLED is not true or false"),
        (
            {"STOCKADE_API_PROXY_UPSTREAM": "http://api.anthropic.com"},
            "STOCKADE_API_PROXY_UPSTREAM is not an https",
        ),
        ({"STOCKADE_API_PROXY_CA_BUNDLE": "/nonexistent/ca.pem"}, "cannot read STOCKADE_API_PROXY_CA_BUNDLE"),
    ],
)
def test_api_proxy_configuration_errors_name_the_variable(
    tmp_path: Path, override: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        make_config(tmp_path, 2375, **override)


def test_a_ca_bundle_that_is_not_pem_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigError, match=r"is not PEM CA certificates|holds no CA"):
        make_config(tmp_path, 2375, STOCKADE_API_PROXY_CA_BUNDLE=str(bogus))


def test_a_finished_sandbox_takes_its_proxy_with_it_and_orphaned_proxies_go(
    engine: FakeEngineApi, broker_server: tuple[Broker, int]
) -> None:
    broker, port = broker_server
    client.dispatch(request("work_01"), client_config(port))
    client.dispatch(request("work_02"), client_config(port))
    proxy_1, sandbox_1 = session_containers(engine, "work_01")
    proxy_2, sandbox_2 = session_containers(engine, "work_02")
    sandbox_1["State"] = "exited"
    assert broker.reap() == 1
    assert sandbox_1["Id"] not in engine.state.containers and proxy_1["Id"] not in engine.state.containers
    assert {proxy_2["Id"], sandbox_2["Id"]} <= set(engine.state.containers)
    # A sandbox removed behind the broker's back leaves its proxy orphaned: it goes too.
    del engine.state.containers[sandbox_2["Id"]]
    assert broker.reap() == 0
    assert engine.state.containers == {}


def test_no_secret_ever_travels_in_a_create_body_or_a_log(
    engine: FakeEngineApi, broker_server: tuple[Broker, int], caplog: pytest.LogCaptureFixture
) -> None:
    _, port = broker_server
    with caplog.at_level(logging.INFO):
        client.dispatch(request(), client_config(port))
    creates = [r.body for r in engine.state.requests if r.path.endswith("/containers/create")]
    assert creates
    for body in creates:
        assert WORK_SECRET.encode() not in body and ENV_KEY.encode() not in body
    assert WORK_SECRET not in caplog.text and ENV_KEY not in caplog.text
    assert WORK_SECRET not in repr(request()) and WORK_SECRET not in str(request().secret)


def test_a_retried_work_item_gets_its_running_sandbox_back(
    engine: FakeEngineApi, broker_server: tuple[Broker, int]
) -> None:
    _, port = broker_server
    client.dispatch(request(), client_config(port))
    again = client.dispatch(request(), client_config(port))
    assert again.status == 200 and again.body["existing"] is True
    assert len(engine.state.containers) == 2  # one sandbox and its proxy


def test_the_cap_holds_and_the_handler_gives_up_after_its_wait(
    engine: FakeEngineApi, broker_server: tuple[Broker, int]
) -> None:
    _, port = broker_server
    client.dispatch(request("work_01"), client_config(port))
    client.dispatch(request("work_02"), client_config(port))
    clock = FakeClock()
    with pytest.raises(NoSlotError, match="no sandbox slot freed up after 30 s"):
        client.dispatch(request("work_03"), client_config(port, wait=30), sleep=clock.sleep, clock=clock.time)
    assert len(sandboxes(engine)) == 2
    assert 3 <= len(clock.sleeps) <= 10 and max(clock.sleeps) <= 15


def test_exited_sandboxes_are_reaped_with_their_volumes_and_free_a_slot(
    engine: FakeEngineApi, broker_server: tuple[Broker, int]
) -> None:
    broker, port = broker_server
    client.dispatch(request("work_01"), client_config(port))
    client.dispatch(request("work_02"), client_config(port))
    first_proxy, first = session_containers(engine, "work_01")
    first["State"] = "exited"
    other_stack = engine.state.add(labels={MANAGED_BY_LABEL: MANAGED_BY, STACK_LABEL: "prod"}, state="exited")
    answer = client.dispatch(request("work_03"), client_config(port))
    assert answer.status == 201
    assert (first["Id"], True) in engine.state.removed and (first_proxy["Id"], True) in engine.state.removed
    assert other_stack in engine.state.containers  # another stack's sandboxes are not ours to reap
    assert broker.reap() == 2


def test_a_dispatch_that_died_half_way_is_cleaned_up_after_five_minutes(
    engine: FakeEngineApi, broker_server: tuple[Broker, int]
) -> None:
    broker, _ = broker_server
    labels = {MANAGED_BY_LABEL: MANAGED_BY, STACK_LABEL: "local"}
    fresh = engine.state.add(labels=labels, state="created", created=engine.state.clock - 10)
    stale = engine.state.add(labels=labels, state="created", created=engine.state.clock - 301)
    assert broker.reap() == 1
    assert fresh in engine.state.containers and stale not in engine.state.containers


def test_a_failed_start_leaves_nothing_behind_and_the_handler_reports_it(
    engine: FakeEngineApi, broker_server: tuple[Broker, int]
) -> None:
    _, port = broker_server
    engine.state.fail_start = True
    clock = FakeClock()
    with pytest.raises(LaunchError, match="broker answered 502: docker start: HTTP 500: OCI runtime"):
        client.dispatch(request(), client_config(port, wait=5), sleep=clock.sleep, clock=clock.time)
    assert engine.state.containers == {}
    assert engine.state.removed and all(volumes for _, volumes in engine.state.removed)


def test_no_sandbox_starts_behind_an_api_proxy_that_exited(
    engine: FakeEngineApi, broker_server: tuple[Broker, int]
) -> None:
    _, port = broker_server
    engine.state.exit_on_start = "-proxy"
    clock = FakeClock()
    with pytest.raises(LaunchError, match="API proxy exited with code 2"):
        client.dispatch(request(), client_config(port, wait=5), sleep=clock.sleep, clock=clock.time)
    assert engine.state.containers == {}, "neither the proxy nor a sandbox is left"
    created = [
        r.query.get("name", "") for r in engine.state.requests if r.path.endswith("/containers/create")
    ]
    assert created and all(name.endswith("-proxy") for name in created), "no sandbox was ever created"


def test_the_broker_refuses_a_malformed_request_without_retrying(broker_server: tuple[Broker, int]) -> None:
    _, port = broker_server
    bad = SessionRequest(work_id="work_01", session_id="sesn_01", secret=Secret("line\nbreak"))
    with pytest.raises(WorkItemError, match="workSecret contains control characters"):
        client.dispatch(bad, client_config(port))


def test_the_secrets_directory_must_stay_a_writable_volume(engine: FakeEngineApi, tmp_path: Path) -> None:
    """The stand-in enforces the engine's archive rule: a tmpfs or the root would be refused."""
    config = make_config(tmp_path, engine.port)
    engine_client = EngineClient("127.0.0.1", engine.port, timeout=5)
    cid = engine_client.create(
        "probe", {"Image": "x", "HostConfig": {"ReadonlyRootfs": True, "Tmpfs": {"/run": ""}}}
    )
    with pytest.raises(EngineError, match="container rootfs is marked read-only"):
        engine_client.put_archive(cid, SECRETS_DIR, b"")
    assert config.environment_key.reveal() == ENV_KEY


def test_an_unreachable_broker_is_retried_then_reported() -> None:
    clock = FakeClock()
    unused = client.ClientConfig(broker_host="127.0.0.1", broker_port=9, wait_seconds=6)
    with pytest.raises(LaunchError, match="broker unreachable"):
        client.dispatch(request(), unused, sleep=clock.sleep, clock=clock.time)
    assert clock.sleeps  # it waited, boundedly, before giving up


# --- the on-work handler's input ----------------------------------------------------------


def work_item(**fields: object) -> str:
    return work_item_json(**{"secret": WORK_SECRET, **fields})


def test_the_work_item_is_read_from_stdin_and_the_environment() -> None:
    parsed = from_work_item(
        work_item(), {"ANTHROPIC_WORK_ID": "work_01", "ANTHROPIC_BASE_URL": "https://api.anthropic.com"}
    )
    assert (parsed.work_id, parsed.session_id, parsed.base_url) == (
        "work_01",
        "sesn_01",
        "https://api.anthropic.com",
    )
    assert parsed.secret.reveal() == WORK_SECRET
    assert json.loads(parsed.to_json())["workSecret"] == WORK_SECRET


@pytest.mark.parametrize(
    ("stdin", "environ", "message"),
    [
        (work_item(secret=""), {}, "per-session work secret"),
        (work_item(), {"ANTHROPIC_WORK_ID": "work_02"}, "name different work IDs"),
        (work_item(id="../etc"), {}, "A-Za-z0-9_-"),
        (work_item(data={"id": "sesn_01", "type": "environment"}), {}, "sessions only"),
        (work_item(), {"ANTHROPIC_BASE_URL": "http://api.example.com"}, "https://"),
        ("not json " + WORK_SECRET, {}, "not JSON at line 1"),
    ],
)
def test_a_malformed_work_item_is_refused_without_echoing_it(
    stdin: str, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(WorkItemError, match=message) as caught:
        from_work_item(stdin, environ)
    assert WORK_SECRET not in str(caught.value)


def test_main_exit_codes(broker_server: tuple[Broker, int], engine: FakeEngineApi) -> None:
    _, port = broker_server
    environ = {"STOCKADE_BROKER_URL": f"http://127.0.0.1:{port}", "STOCKADE_DISPATCH_WAIT_SECONDS": "1"}
    assert client.main(io.StringIO(work_item()), environ) == EXIT_OK
    assert client.main(io.StringIO(work_item(secret=None)), environ) == EXIT_INVALID
    assert client.main(io.StringIO(work_item()), {}) == EXIT_INVALID
    engine.state.fail_start = True
    assert client.main(io.StringIO(work_item(id="work_09")), environ) == EXIT_LAUNCH
    assert NoSlotError.exit_code == EXIT_NO_SLOT


# --- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"STOCKADE_DOCKER_ENDPOINT": "tcp://socket-proxy:2375"}, "host:port"),
        ({"STOCKADE_SANDBOX_RUNTIME": "kata"}, "runc or runsc"),
        ({"STOCKADE_EGRESS_PROXY_URL": "https://proxy:3128"}, "http://host:port"),
        ({"STOCKADE_MAX_CONCURRENT_SESSIONS": "0"}, "expected 1 to 5000"),
        ({"STOCKADE_SANDBOX_LABELS": "[1]"}, "short string labels"),
        ({"ANTHROPIC_ENVIRONMENT_ID": ""}, "ANTHROPIC_ENVIRONMENT_ID is not set"),
    ],
)
def test_broker_configuration_errors_name_the_variable(
    tmp_path: Path, override: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        make_config(tmp_path, 2375, **override)


def test_the_broker_needs_the_environment_key_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="environment-key"):
        BrokerConfig.from_environ(broker_environ(2375), secrets_dir=tmp_path)
    assert parse_endpoint("socket-proxy:2375") == ("socket-proxy", 2375)


# --- the entry scripts, run by a real bash with a stub `ant` ---------------------------------


def _run_script(
    script: str, secrets: Path, tmp_path: Path, prefix: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(mode=0o755)
    ant = bin_dir / "ant"
    ant.write_text(
        "#!/bin/bash\n"
        'printf "%s\\n" "$*"\n'
        'printf "W=%s\\nK=%s\\n" "$ANTHROPIC_WORK_SECRET" "$ANTHROPIC_ENVIRONMENT_KEY"\n',
        encoding="utf-8",
    )
    ant.chmod(0o755)
    bash = shutil.which("bash")
    assert bash is not None
    return run(
        [*(prefix or []), bash, "-c", script.replace(SECRETS_DIR, str(secrets)), "stockade-test"],
        env={"PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"},
        timeout=30,
    )


def test_the_proxied_session_script_loads_only_the_work_secret(tmp_path: Path) -> None:
    secrets = tmp_path / "run"
    secrets.mkdir()
    (secrets / "work-secret").write_text(WORK_SECRET + "\n")
    result = _run_script(SESSION_SCRIPT, secrets, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == [f"W={WORK_SECRET}", "K="]
    assert "environment-key" not in SESSION_SCRIPT


def test_the_session_script_loads_then_empties_its_secret_files(tmp_path: Path) -> None:
    secrets = tmp_path / "run"
    secrets.mkdir()
    (secrets / "work-secret").write_text(WORK_SECRET + "\n")
    (secrets / "environment-key").write_text(ENV_KEY)  # no trailing newline: still read
    result = _run_script(SESSION_SCRIPT_WITH_KEY, secrets, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "beta:worker run --workdir /workspace --log-format json",
        f"W={WORK_SECRET}",
        f"K={ENV_KEY}",
    ]
    assert (secrets / "work-secret").read_text() == ""
    assert (secrets / "environment-key").read_text() == ""


def test_a_read_only_secret_file_is_read_and_kept() -> None:
    """Pool workers mount the key read-only: the script must read it and not fail on emptying it."""
    setpriv = shutil.which("setpriv")
    as_root = os.geteuid() == 0
    if as_root and setpriv is None:
        pytest.skip("running as root, and no setpriv to drop to an unprivileged user")
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        base.chmod(0o755)  # an unprivileged user must reach the stub and the key
        secrets = base / "run"
        secrets.mkdir(mode=0o755)
        key = secrets / "environment-key"
        key.write_text(ENV_KEY + "\n")
        # Root owns it with 0444 when the script runs as nobody; otherwise the owner gets 0400.
        key.chmod(0o444 if as_root else 0o400)
        script = (
            read_secrets_script(("ANTHROPIC_ENVIRONMENT_KEY", "environment-key"))
            + "\nexec ant beta:worker poll"
        )
        prefix = [str(setpriv), "--reuid=65534", "--regid=65534", "--clear-groups"] if as_root else []
        result = _run_script(script, secrets, base, prefix=prefix)
        assert result.returncode == 0, result.stderr
        assert f"K={ENV_KEY}" in result.stdout
        assert key.read_text() == ENV_KEY + "\n"


def test_a_missing_secret_file_stops_the_sandbox(tmp_path: Path) -> None:
    secrets = tmp_path / "run"
    secrets.mkdir()
    result = _run_script(SESSION_SCRIPT, secrets, tmp_path)
    assert result.returncode != 0
    assert "beta:worker" not in result.stdout


# --- packaging -----------------------------------------------------------------------------


def test_the_package_runs_from_an_image_layout_with_the_standard_library_only(tmp_path: Path) -> None:
    """As in the worker image: only stockade/__init__.py, this package and stockade.workqueue."""
    packages = ("docker_dispatcher", "workqueue")
    modules = loaded_modules(image_layout(tmp_path / "opt", packages), ["docker_dispatcher"])

    assert {"stockade.docker_dispatcher.broker", "stockade.docker_dispatcher.client"} <= modules
    assert unexpected_modules(modules, packages) == set()


def test_the_on_work_script_runs_the_handler() -> None:
    script = (COMPONENTS / "stockade" / "docker_dispatcher" / "stockade-docker-dispatch.sh").read_text()
    assert script.startswith("#!/bin/sh\n")
    assert "exec python3 -m stockade.docker_dispatcher " in script
    assert os.access(COMPONENTS / "stockade" / "docker_dispatcher" / "stockade-docker-dispatch.sh", os.X_OK)
