"""`stockade:docker:SandboxFleet`: where sessions' tools run on a Docker host.

Per-session mode (the default): one sandbox container per work item.

* `<name>-poller` runs `ant beta:worker poll --on-work stockade-docker-dispatch` on the
  sandbox network (out through the egress proxy) and the dispatch network. It has no Docker
  access: the on-work handler hands each item to the broker.
* `<name>-broker` (stockade.docker_dispatcher.broker) is the only container that reaches
  the Docker API, through `<name>-socket-proxy`, and only on two internal networks. It builds
  each sandbox from a fixed template: the session image, the sandbox network, read-only
  root, no capabilities, the memory/CPU/pids limits, the runtime.
* `<name>-socket-proxy` mounts the Docker socket and passes the container endpoints only
  (no exec, images, volumes, networks, build...). It runs as 65532 with the socket's group.

Pool mode (`sandboxes.mode: pool`, reported as a weakening): `poolSize` long-running
workers run sessions in-process, each with its own workspace and memory volumes.

Either way the environment key reaches containers as a file (files.py), read by the
entry script into the worker's environment; it is never in a create body or a layer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Literal, NotRequired, TypedDict

import pulumi
import pulumi_docker as docker

from stockade.docker.files import FILES_LABEL, StagedFile, stage_files
from stockade.docker.hardening import (
    Attachment,
    BindMount,
    ContainerSpec,
    Limits,
    VolumeMount,
    docker_labels,
    hardened_container,
    tmpfs_options,
)
from stockade.docker_dispatcher import contract
from stockade.docker_dispatcher.spec import (
    ENVIRONMENT_KEY_FILE,
    MEMORY_DIR,
    SECRETS_DIR,
    TMP_DIR,
    WORKSPACE,
    read_secrets_script,
)

DISPATCH_SCRIPT = "/usr/local/bin/stockade-docker-dispatch"
BROKER_ALIAS = "dispatch-broker"
BROKER_URL = f"http://{BROKER_ALIAS}:{contract.DEFAULT_PORT}"
SOCKET_PROXY_ALIAS = "socket-proxy"
SOCKET_PROXY_PORT = 2375
DOCKER_SOCKET = "/var/run/docker.sock"
TMP_SIZE_MIB = 512
# tecnativa/docker-socket-proxy switches: the container endpoints the broker calls, nothing
# else. Newer releases gate archive uploads and each method separately; older ones ignore
# the switches they do not know, and POST=1 then allows every non-GET container call.
_DENIED = (
    "ALLOW_ATTACH",
    "ALLOW_EXEC",
    "ALLOW_EXPORT",
    "ALLOW_KILL",
    "ALLOW_LOGS",
    "ALLOW_PAUSE",
    "ALLOW_RESTARTS",
    "ALLOW_STOP",
    "ALLOW_UNPAUSE",
    "AUTH",
    "BUILD",
    "COMMIT",
    "CONFIGS",
    "DISTRIBUTION",
    "EVENTS",
    "EXEC",
    "GRPC",
    "IMAGES",
    "INFO",
    "NETWORKS",
    "NODES",
    "PLUGINS",
    "SECRETS",
    "SERVICES",
    "SESSION",
    "SWARM",
    "SYSTEM",
    "TASKS",
    "VOLUMES",
)
SOCKET_PROXY_ENV = {
    "CONTAINERS": "1",
    "POST": "1",
    "PUT": "1",
    "DELETE": "1",
    "ALLOW_ARCHIVE": "1",
    "ALLOW_START": "1",
    **dict.fromkeys(_DENIED, "0"),
    "PING": "1",
    "VERSION": "1",
    "DISABLE_IPV6": "1",
    "LOG_LEVEL": "info",
    "SOCKET_PATH": DOCKER_SOCKET,
}


class SandboxFleetArgs(TypedDict):
    """Inputs of stockade:docker:SandboxFleet."""

    mode: Literal["per-session", "pool"]
    """`per-session` (one sandbox per work item) or `pool` (long-running in-process workers)."""

    environment_id: str
    """The self-hosted environment's ID (`env_...`)."""

    environment_key: pulumi.Input[str]
    """The environment key; handed to Pulumi as a secret and delivered as a file."""

    worker_image: str
    """Pool workers' image, or the poller and broker image (ant, python3, the docker dispatcher)."""

    session_image: NotRequired[str]
    """Per-session mode: the sandbox image (/bin/bash and ant)."""

    sandbox_network: pulumi.Input[str]
    """The network sandboxes, workers and the poller join (stockade:docker:Network)."""

    egress_proxy_url: str | None
    """HTTPS_PROXY for containers on the sandbox network; None with open egress."""

    runtime: str
    """OCI runtime of sandboxes and pool workers (`runc` or `runsc`)."""

    cpus: float
    """CPUs per sandbox or pool worker."""

    memory_mib: int
    """Memory (and memory+swap: no swap) per sandbox or pool worker."""

    pids_limit: int
    """Per-session mode: process limit per sandbox."""

    tmp_size_mib: NotRequired[int]
    """Size of each sandbox's /tmp tmpfs (counts against its memory). Default 512."""

    pool_size: int
    """Pool mode: number of workers."""

    max_idle_seconds: int
    """Pool mode: `--max-idle`."""

    max_concurrent_sessions: int
    """Per-session mode: cap on live sandboxes."""

    api_proxy: NotRequired[bool]
    """Per-session mode: start a credential-injecting API proxy with each sandbox, so the
    sandbox never holds the environment key (default true; false is a reported weakening)."""

    keep_session_workspaces: bool
    """Per-session mode: keep each sandbox's /workspace as a named volume."""

    socket_path: str
    """Per-session mode: the Docker socket on the Docker host."""

    socket_group_id: int | None
    """Per-session mode: the socket's group; the socket proxy runs as 65532 with it."""

    socket_proxy_image: str
    """Per-session mode: the socket proxy image."""

    stack: str
    """The stack name, on sandboxes' labels and names."""

    labels: Mapping[str, str]
    """The stack's labels (tags)."""


def worker_script(command: str) -> str:
    """Bash for the worker image: the environment key from its file, then `command`."""
    return "\n".join(
        [read_secrets_script(("ANTHROPIC_ENVIRONMENT_KEY", ENVIRONMENT_KEY_FILE)), f"exec {command}"]
    )


class SandboxFleet(pulumi.ComponentResource):
    """Pool workers, or the poller, dispatch broker and socket proxy of per-session mode."""

    poller_container: pulumi.Output[str] | None
    """Name of the poller container (per-session mode), else None."""
    broker_container: pulumi.Output[str] | None
    """Name of the dispatch broker container (per-session mode), else None."""
    worker_containers: list[pulumi.Output[str]]
    """Names of the pool worker containers (pool mode)."""

    def __init__(self, name: str, args: SandboxFleetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stockade:docker:SandboxFleet", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        labels = args["labels"]
        self._worker_image = docker.RemoteImage(
            f"{name}-worker-image", name=args["worker_image"], keep_locally=True, opts=self._child
        )
        secrets = docker.Volume(
            f"{name}-secrets",
            labels=docker_labels({**labels, "stockade:component": "secrets"}),
            opts=self._child,
        )
        self._secrets_volume = secrets.name
        self._stager = stage_files(
            f"{name}-secrets-files",
            image=self._worker_image.image_id,
            volumes={SECRETS_DIR: secrets.name},
            files=[StagedFile.private(f"{SECRETS_DIR}/{ENVIRONMENT_KEY_FILE}", args["environment_key"])],
            stack_labels=labels,
            opts=self._child,
        )
        self.poller_container = None
        self.broker_container = None
        self.worker_containers = []
        if args["mode"] == "pool":
            self._pool()
        else:
            self._per_session()
        self.register_outputs(
            {
                "poller_container": self.poller_container,
                "broker_container": self.broker_container,
                "worker_containers": self.worker_containers,
            }
        )

    def _proxy_env(self) -> dict[str, str]:
        url = self._args["egress_proxy_url"]
        if not url:
            return {}
        env = {name: url for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")}
        env["NO_PROXY"] = env["no_proxy"] = "localhost,127.0.0.1"
        return env

    def _worker_env(self) -> dict[str, pulumi.Input[str]]:
        return {
            "ANTHROPIC_ENVIRONMENT_ID": self._args["environment_id"],
            "HOME": TMP_DIR,
            **self._proxy_env(),
        }

    def _secrets_mount(self) -> VolumeMount:
        return VolumeMount(self._secrets_volume, SECRETS_DIR, read_only=True)

    def _pool(self) -> None:
        args, name = self._args, self._name
        max_idle = f"{args['max_idle_seconds']}s"
        script = worker_script(
            f"ant beta:worker poll --workdir {WORKSPACE} --log-format json --max-idle {max_idle}"
        )
        volume_labels = docker_labels({**args["labels"], "stockade:component": "pool-worker"})
        for index in range(args["pool_size"]):
            worker = f"{name}-worker-{index}"
            workspace = docker.Volume(f"{worker}-workspace", labels=volume_labels, opts=self._child)
            memory = docker.Volume(f"{worker}-memory", labels=volume_labels, opts=self._child)
            container = hardened_container(
                worker,
                ContainerSpec(
                    image=self._worker_image.image_id,
                    component="pool-worker",
                    entrypoint=["/bin/bash", "-c", script],
                    command=["stockade-pool-worker"],
                    env=self._worker_env(),
                    networks=(Attachment(args["sandbox_network"]),),
                    volumes=(
                        VolumeMount(workspace.name, WORKSPACE),
                        VolumeMount(memory.name, MEMORY_DIR),
                        self._secrets_mount(),
                    ),
                    tmpfs={TMP_DIR: tmpfs_options(args.get("tmp_size_mib", TMP_SIZE_MIB), executable=True)},
                    limits=Limits(memory_mib=args["memory_mib"], cpus=args["cpus"]),
                    runtime=args["runtime"],
                    working_dir=WORKSPACE,
                    labels={FILES_LABEL: self._stager.id},
                ),
                stack_labels=args["labels"],
                opts=self._child,
            )
            self.worker_containers.append(container.name)

    def _per_session(self) -> None:
        args, name, child = self._args, self._name, self._child
        if "session_image" not in args or args["socket_group_id"] is None:
            raise ValueError(f"{name}: per-session mode needs session_image and socket_group_id")
        labels = args["labels"]
        session_image = docker.RemoteImage(
            f"{name}-session-image", name=args["session_image"], keep_locally=True, opts=child
        )
        network_labels = docker_labels({**labels, "stockade:component": "dispatch"})
        # Both internal: nothing on them can reach anything but each other.
        dispatch = docker.Network(
            f"{name}-dispatch", driver="bridge", internal=True, labels=network_labels, opts=child
        )
        docker_api = docker.Network(
            f"{name}-docker-api", driver="bridge", internal=True, labels=network_labels, opts=child
        )
        proxy_image = docker.RemoteImage(
            f"{name}-socket-proxy-image", name=args["socket_proxy_image"], keep_locally=True, opts=child
        )
        hardened_container(
            f"{name}-socket-proxy",
            ContainerSpec(
                image=proxy_image.image_id,
                component="docker-socket-proxy",
                env=dict(SOCKET_PROXY_ENV),
                networks=(Attachment(docker_api.name, (SOCKET_PROXY_ALIAS,)),),
                binds=(BindMount(args["socket_path"], DOCKER_SOCKET),),
                tmpfs={"/run": tmpfs_options(8), TMP_DIR: tmpfs_options(8)},
                group_adds=[str(args["socket_group_id"])],
                limits=Limits(memory_mib=128, cpus=0.5),
            ),
            stack_labels=labels,
            opts=child,
        )
        nano_cpus = int(args["cpus"] * 1_000_000_000)
        service_tmpfs = {path: tmpfs_options(64) for path in (TMP_DIR, WORKSPACE, MEMORY_DIR)}
        broker = hardened_container(
            f"{name}-broker",
            ContainerSpec(
                image=self._worker_image.image_id,
                component="dispatch-broker",
                entrypoint=["python3", "-m", "stockade.docker_dispatcher.broker"],
                command=[],
                env={
                    contract.ENV_STACK: args["stack"],
                    contract.ENV_DOCKER_ENDPOINT: f"{SOCKET_PROXY_ALIAS}:{SOCKET_PROXY_PORT}",
                    contract.ENV_LISTEN_PORT: str(contract.DEFAULT_PORT),
                    contract.ENV_SESSION_IMAGE: session_image.image_id,
                    contract.ENV_SANDBOX_NETWORK: args["sandbox_network"],
                    contract.ENV_SANDBOX_RUNTIME: args["runtime"],
                    contract.ENV_NANO_CPUS: str(nano_cpus),
                    contract.ENV_MEMORY_MIB: str(args["memory_mib"]),
                    contract.ENV_PIDS_LIMIT: str(args["pids_limit"]),
                    contract.ENV_TMP_MIB: str(args.get("tmp_size_mib", TMP_SIZE_MIB)),
                    contract.ENV_MAX_CONCURRENT: str(args["max_concurrent_sessions"]),
                    contract.ENV_API_PROXY: "true" if args.get("api_proxy", True) else "false",
                    contract.ENV_EGRESS_PROXY: args["egress_proxy_url"] or "",
                    contract.ENV_KEEP_WORKSPACES: "true" if args["keep_session_workspaces"] else "false",
                    contract.ENV_LABELS: json.dumps(dict(labels), sort_keys=True),
                    contract.ENV_ENVIRONMENT_ID: args["environment_id"],
                    "HOME": TMP_DIR,
                },
                networks=(Attachment(dispatch.name, (BROKER_ALIAS,)), Attachment(docker_api.name)),
                volumes=(self._secrets_mount(),),
                tmpfs=service_tmpfs,
                healthcheck={
                    "tests": [
                        "CMD",
                        "python3",
                        "-c",
                        "import urllib.request; urllib.request.urlopen("
                        f"'http://127.0.0.1:{contract.DEFAULT_PORT}{contract.HEALTH_PATH}', timeout=3)",
                    ],
                    "interval": "30s",
                    "timeout": "5s",
                    "retries": 3,
                    "start_period": "10s",
                },
                labels={FILES_LABEL: self._stager.id},
            ),
            stack_labels=labels,
            opts=child,
        )
        script = worker_script(
            f"ant beta:worker poll --workdir {WORKSPACE} --log-format json --on-work {DISPATCH_SCRIPT}"
        )
        poller = hardened_container(
            f"{name}-poller",
            ContainerSpec(
                image=self._worker_image.image_id,
                component="poller",
                entrypoint=["/bin/bash", "-c", script],
                command=["stockade-poller"],
                env={**self._worker_env(), contract.ENV_BROKER_URL: BROKER_URL},
                networks=(Attachment(args["sandbox_network"]), Attachment(dispatch.name)),
                volumes=(self._secrets_mount(),),
                tmpfs=service_tmpfs,
                labels={FILES_LABEL: self._stager.id},
            ),
            stack_labels=labels,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[broker]),
        )
        self.broker_container = broker.name
        self.poller_container = poller.name
