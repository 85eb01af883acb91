"""The `local` stack, applied to a real Docker engine with stand-ins, for the end-to-end tests.

`deploy()` synthesizes the stack with canary secrets, applies it (tests/e2e/applier.py), and
starts the test's own containers beside it on the stack's egress network: the stand-in vendor
API under the name `api.anthropic.com`, and HTTPS test hosts under an allowlisted name
(`pypi.org`) and a name the allowlist lacks (`blocked.example`). Every name a container can
reach resolves to one of these test containers, so no packet leaves the machine.
"""

from __future__ import annotations

import json
import secrets
import ssl
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import docker
import yaml

from stockade.engine import synthesize_config
from stockade.engine.model import SynthResult

from .applier import Applier, Deployment
from .build import TestImages, build_all
from .pki import Pki, load_or_create

REPO = Path(__file__).resolve().parents[2]
CACHE = Path.home() / ".cache" / "stockade-e2e"
STACK = "local"
ALLOWED_HOST = "pypi.org"
BLOCKED_HOST = "blocked.example"
VENDOR_HOST = "api.anthropic.com"
TLS_NAMES = [VENDOR_HOST, ALLOWED_HOST, "files.pythonhosted.org", BLOCKED_HOST]
SANDBOX_LABEL = {"stockade:managed-by": "stockade-docker-dispatch", "stockade:stack": STACK}
# The stack's image references, by the RemoteImage resource that pulls them, mapped to the
# locally built test images (docs/testing.md explains each substitute).
IMAGE_ROLES = {
    "stockade-network-proxy-image": "squid",
    "stockade-sandboxes-socket-proxy-image": "socket_proxy",
    "stockade-sandboxes-worker-image": "poller",
    "stockade-sandboxes-session-image": "session",
    "stockade-tunnel-proxy-image": "mcp_proxy",
    "stockade-tunnel-cloudflared-image": "cloudflared",
}

T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, interval: float = 1.0) -> T:
    """`probe()`'s first truthy value, polled for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@dataclass(frozen=True)
class Canaries:
    environment_key: str
    tunnel_token: str

    def all(self) -> list[str]:
        return [self.environment_key, self.tunnel_token]


@dataclass
class StandinApi:
    """The test's control channel to the stand-in vendor API container."""

    address: str
    control_token: str
    ca_pem: str

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        context = ssl.create_default_context(cadata=self.ca_pem)
        context.check_hostname = False  # reached by container address; the CA still verifies it
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"https://{self.address}{path}", data=data, method=method)
        request.add_header("X-Standin-Control", self.control_token)
        request.add_header("Content-Type", "application/json")
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
        )
        with opener.open(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def enqueue(self, script: str, **metadata: Any) -> dict[str, str]:
        return self._call("POST", "/_standin/enqueue", {"metadata": {"standin_script": script, **metadata}})

    def redeliver(self, work_id: str) -> None:
        self._call("POST", "/_standin/redeliver", {"work_id": work_id})

    def items(self) -> list[dict[str, Any]]:
        return self._call("GET", "/_standin/items")

    def item(self, work_id: str) -> dict[str, Any]:
        return next(i for i in self.items() if i["id"] == work_id)

    def records(self) -> list[dict[str, Any]]:
        return self._call("GET", "/_standin/records")

    def reports(self, work_id: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        found = self._call("GET", "/_standin/reports")
        return [
            r
            for r in found
            if (work_id is None or r["work_id"] == work_id) and (kind is None or r["kind"] == kind)
        ]


@dataclass
class LocalStack:
    client: docker.DockerClient
    synth: SynthResult
    deployment: Deployment
    images: TestImages
    pki: Pki
    canaries: Canaries
    api: StandinApi
    extras: dict[str, str] = field(default_factory=dict)  # test containers: role -> container ID
    volumes_before: set[str] = field(default_factory=set)

    def container(self, resource_name: str) -> Any:
        return self.client.containers.get(self.deployment.containers[resource_name])

    def sandboxes(self, work_id: str | None = None, *, all_states: bool = True) -> list[Any]:
        labels = [f"{k}={v}" for k, v in SANDBOX_LABEL.items()] + ["stockade:component=sandbox"]
        if work_id:
            labels.append(f"stockade:work-id={work_id}")
        return self.client.containers.list(all=all_states, filters={"label": labels})

    def dispatched(self) -> list[Any]:
        """Every container the broker started for this stack (sandboxes and their API proxies)."""
        labels = [f"{k}={v}" for k, v in SANDBOX_LABEL.items()]
        return self.client.containers.list(all=True, filters={"label": labels})

    def wait_result(self, work_id: str, timeout: float = 180) -> dict[str, Any]:
        return wait_for(
            f"the session report of {work_id}",
            lambda: next(iter(self.api.reports(work_id, "result")), None),
            timeout,
        )


def stack_config(socket_gid: int) -> dict[str, Any]:
    document = yaml.safe_load((REPO / "stacks" / f"Pulumi.{STACK}.yaml").read_text(encoding="utf-8"))
    config = dict(document["config"])
    config["stockade:docker"] = {**config["stockade:docker"], "socketGroupId": socket_gid}
    return config


def _clean_leftovers(client: docker.DockerClient, synth: SynthResult) -> None:
    """Remove what an interrupted earlier run left behind, by the physical names it would reuse."""
    from stockade.emulators import physical_name

    names = {
        physical_name(r.name, r.inputs, "name"): r.type
        for r in synth.resources
        if r.type.startswith("docker:")
    }
    for container in client.containers.list(
        all=True, filters={"label": [f"{k}={v}" for k, v in SANDBOX_LABEL.items()]}
    ):
        container.remove(force=True, v=True)
    for name in ("stockade-e2e-vendor-api", "stockade-e2e-allowed", "stockade-e2e-blocked"):
        names[name] = "docker:index/container:Container"
    for name, kind in names.items():
        try:
            if kind.endswith("Container"):
                client.containers.get(name).remove(force=True, v=True)
        except docker.errors.NotFound:
            pass
    for name, kind in names.items():
        try:
            if kind.endswith("Volume"):
                client.volumes.get(name).remove(force=True)
            elif kind.endswith("Network"):
                client.networks.get(name).remove()
        except docker.errors.NotFound:
            pass


@contextmanager
def deploy(client: docker.DockerClient) -> Iterator[LocalStack]:
    pki = load_or_create(CACHE / "pki", TLS_NAMES)
    images, _ = build_all(client, pki.ca_pem)
    canaries = Canaries(
        environment_key=f"sk-ant-oat01-e2ecanary{secrets.token_hex(16)}",
        tunnel_token=f"e2e-tunnel-canary-{secrets.token_hex(16)}",
    )
    socket_gid = Path("/var/run/docker.sock").stat().st_gid
    synth = synthesize_config(
        STACK,
        stack_config(socket_gid),
        secret_values={
            "stockade:sandboxes.environmentKey": canaries.environment_key,
            "stockade:tunnel.token": canaries.tunnel_token,
        },
        reveal_secrets=True,
    )
    references = {r.name: r.inputs["name"] for r in synth.by_type("docker:index/remoteImage:RemoteImage")}
    image_map = {references[resource]: getattr(images, role) for resource, role in IMAGE_ROLES.items()}
    _clean_leftovers(client, synth)
    applier = Applier(client, image_map)
    deployment = applier.apply(synth.resources)
    # After the apply: containers made from images that declare VOLUMEs get anonymous volumes.
    volumes_before = {v.name for v in client.volumes.list()}
    extras: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="stockade-e2e-") as tmp:
        run_dir = Path(tmp)
        run_dir.chmod(0o755)
        control = secrets.token_hex(16)
        for name, content in {
            "ca.pem": pki.ca_pem,
            "cert.pem": pki.cert_pem,
            "key.pem": pki.key_pem,
            "environment-key": canaries.environment_key,
            "control-token": control,
        }.items():
            (run_dir / name).write_text(content)
            (run_dir / name).chmod(0o644)
        try:
            egress = deployment.networks["stockade-network-egress"]
            extras["vendor_api"] = _start_extra(
                client,
                images.vendor_api,
                "stockade-e2e-vendor-api",
                egress,
                [VENDOR_HOST],
                run_dir,
                [
                    "--environment-id",
                    environment_id(synth),
                    "--environment-key-file",
                    "/run/e2e/environment-key",
                    "--control-token-file",
                    "/run/e2e/control-token",
                    "--certfile",
                    "/run/e2e/cert.pem",
                    "--keyfile",
                    "/run/e2e/key.pem",
                ],
            )
            extras["allowed"] = _start_extra(
                client,
                images.testhost,
                "stockade-e2e-allowed",
                egress,
                [ALLOWED_HOST, "files.pythonhosted.org"],
                run_dir,
                ["--name", ALLOWED_HOST, "--certfile", "/run/e2e/cert.pem", "--keyfile", "/run/e2e/key.pem"],
            )
            extras["blocked"] = _start_extra(
                client,
                images.testhost,
                "stockade-e2e-blocked",
                egress,
                [BLOCKED_HOST],
                run_dir,
                ["--name", BLOCKED_HOST, "--certfile", "/run/e2e/cert.pem", "--keyfile", "/run/e2e/key.pem"],
            )
            address = container_address(client, extras["vendor_api"], egress)
            api = StandinApi(address, control, pki.ca_pem)
            wait_for("the stand-in vendor API", lambda: _answers(api), 30, 0.5)
            yield LocalStack(client, synth, deployment, images, pki, canaries, api, extras, volumes_before)
        finally:
            for container_id in extras.values():
                with suppress(docker.errors.NotFound):
                    client.containers.get(container_id).remove(force=True)
            for container in client.containers.list(
                all=True, filters={"label": [f"{k}={v}" for k, v in SANDBOX_LABEL.items()]}
            ):
                container.remove(force=True, v=True)
            applier.destroy(deployment)
            for volume in client.volumes.list(
                filters={"label": "stockade:managed-by=stockade-docker-dispatch"}
            ):
                volume.remove(force=True)


def environment_id(synth: SynthResult) -> str:
    broker = next(r for r in synth.resources if r.name == "stockade-sandboxes-broker")
    return next(
        e.split("=", 1)[1] for e in broker.inputs["envs"] if e.startswith("ANTHROPIC_ENVIRONMENT_ID=")
    )


def _start_extra(
    client: docker.DockerClient,
    image: str,
    name: str,
    network: str,
    aliases: list[str],
    run_dir: Path,
    args: list[str],
) -> str:
    api = client.api
    created = api.create_container(
        image,
        name=name,
        command=args,
        labels={"stockade:e2e": "test-host"},
        host_config=api.create_host_config(
            binds={str(run_dir): {"bind": "/run/e2e", "mode": "ro"}},
            read_only=True,
            cap_drop=["ALL"],
            cap_add=["NET_BIND_SERVICE"],
            network_mode=network,
        ),
        networking_config=api.create_networking_config(
            {network: api.create_endpoint_config(aliases=aliases)}
        ),
    )
    api.start(created["Id"])
    return created["Id"]


def container_address(client: docker.DockerClient, container_id: str, network: str) -> str:
    def probe() -> str | None:
        details = client.api.inspect_container(container_id)
        return details["NetworkSettings"]["Networks"].get(network, {}).get("IPAddress") or None

    return wait_for(f"an address for {container_id[:12]}", probe, 15, 0.5)


def _answers(api: StandinApi) -> bool:
    try:
        api.items()
        return True
    except OSError:
        return False
