"""The fleet's containers and Fargate task definitions, to the dispatcher contract.

Three task families, all hardened the same way (containers.py: non-root 65532,
read-only root, every capability dropped, 30 s stop grace):

* `session`: one per work item, started by the dispatcher. Container "session"
  runs `/usr/local/bin/stockade-session-entry`, which fetches the work secret,
  runs `ant beta:worker run` as its child and then uploads /workspace to the
  artifacts bucket. With the API proxy on (the default), container "api-proxy"
  (`/usr/local/bin/stockade-api-proxy`, same image) is the only one that receives
  the environment key (`valueFrom`); "session" gets a placeholder key and
  `ANTHROPIC_BASE_URL=http://127.0.0.1:8790` (the task's shared loopback), starts
  once the proxy is healthy and, by that dependency, is stopped before it.
* `poller`: `ant beta:worker poll --on-work /usr/local/bin/stockade-dispatch`,
  plus the "queue-stats" container publishing the queue's stats as metrics.
* `worker` (pool mode): `ant beta:worker poll` running sessions in-process, plus
  "queue-stats".

Writable paths are task-scoped bind mounts on the task's ephemeral storage; they
vanish with the task, so nothing one session writes is seen by the next.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypedDict

import pulumi

from stockade.aws.fleet.iam import METRICS_NAMESPACE
from stockade.aws.shared.containers import STOP_TIMEOUT_SECONDS, Container, Mount
from stockade.aws.shared.fargate import TaskSpec
from stockade.workqueue.grace import SESSION_STOP_TIMEOUT_SECONDS
from stockade.workqueue.proxy_contract import PLACEHOLDER_KEY, PROXY_BASE_URL, PROXY_ENTRY, PROXY_PORT

SESSION_CONTAINER = "session"
API_PROXY_CONTAINER = "api-proxy"
QUEUE_STATS_CONTAINER = "queue-stats"
SESSION_ENTRY = "/usr/local/bin/stockade-session-entry"
DISPATCH_HOOK = "/usr/local/bin/stockade-dispatch"
ENVIRONMENT_KEY_VARIABLE = "ANTHROPIC_ENVIRONMENT_KEY"
# Read by stockade.dispatcher.session_entry (its ARTIFACTS_* names; a test keeps them equal).
ARTIFACTS_BUCKET_VARIABLE = "STOCKADE_ARTIFACTS_BUCKET"
# The task role's unique ID: with the task ID it names the prefix the role may write to.
SANDBOX_ROLE_ID_VARIABLE = "STOCKADE_SANDBOX_ROLE_ID"
ARTIFACTS_KEY_VARIABLE = "STOCKADE_ARTIFACTS_KMS_KEY_ARN"
STATS_INTERVAL_SECONDS = 60

# Must equal the image's `VOLUME` paths exactly: Fargate then starts each bind mount with the
# image's ownership and mode, so user 65532 can write under a read-only root filesystem.
WRITABLE_PATHS = {"workspace": "/workspace", "memory": "/mnt/memory", "tmp": "/tmp"}  # noqa: S108 - in-container paths
# The poller and queue-stats hold no session, so they get no /mnt/memory.
_POLLER_VOLUMES = ("workspace", "tmp")

# The poller only claims work and calls RunTask; queue-stats is a small Python loop.
POLLER_CPU = 512
POLLER_MEMORY_MIB = 1024


@dataclass(frozen=True)
class FleetEnvironment:
    """What every fleet container is told: the stack, and the environment it serves."""

    stack: str
    environment_id: str
    environment_key_arn: pulumi.Input[str]

    def container(
        self,
        name: str,
        image: pulumi.Input[str],
        *,
        entry_point: Sequence[str],
        volumes: Sequence[str],
        command: Sequence[str] | None = None,
        environment: Mapping[str, pulumi.Input[str]] | None = None,
        essential: bool = True,
        working_directory: str | None = "/workspace",
        holds_key: bool = True,
        stop_timeout: int | None = None,
        depends_on: Mapping[str, str] | None = None,
        health_check: Mapping[str, object] | None = None,
    ) -> Container:
        """A container told the environment ID and, when `holds_key`, the environment key
        (only ever as an ECS secret, `valueFrom`)."""
        return Container(
            name=name,
            image=image,
            entry_point=entry_point,
            command=command,
            environment={**(environment or {}), "ANTHROPIC_ENVIRONMENT_ID": self.environment_id},
            secrets={ENVIRONMENT_KEY_VARIABLE: self.environment_key_arn} if holds_key else {},
            mounts=[Mount(volume=v, path=WRITABLE_PATHS[v]) for v in volumes],
            essential=essential,
            working_directory=working_directory,
            stop_timeout=STOP_TIMEOUT_SECONDS if stop_timeout is None else stop_timeout,
            depends_on=depends_on or {},
            health_check=health_check,
        )

    def queue_stats(
        self, image: pulumi.Input[str], sweep_environment: Mapping[str, pulumi.Input[str]] | None = None
    ) -> Container:
        """Polls the queue's stats each minute and puts them in CloudWatch (dispatcher contract).

        In the poller task it also sweeps work secrets of finished sessions on a timer
        (`sweep_environment` names the cluster and secret prefix); pool workers have none.
        Not essential: if it fails, sessions keep flowing and the WorkersPolling alarm
        (missing data is breaching) reports it.
        """
        return self.container(
            QUEUE_STATS_CONTAINER,
            image,
            entry_point=["python3", "-m", "stockade.dispatcher.queue_stats"],
            volumes=["tmp"],
            environment={
                **(sweep_environment or {}),
                "STOCKADE_STACK": self.stack,
                "STOCKADE_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "STOCKADE_STATS_INTERVAL_SECONDS": str(STATS_INTERVAL_SECONDS),
            },
            essential=False,
            working_directory=None,
        )


# What the queue-stats container needs from the dispatcher's environment to sweep work secrets.
SWEEP_VARIABLES = ("STOCKADE_CLUSTER_ARN", "STOCKADE_SESSION_CONTAINER", "STOCKADE_WORK_SECRET_PREFIX")
POLL_COMMAND = ("ant", "beta:worker", "poll", "--workdir", "/workspace", "--log-format", "json")


class TaskSize(TypedDict):
    """Size of each sandbox task (or pool worker task)."""

    cpu: int
    """Fargate CPU units."""

    memory_mib: int
    """Memory in MiB; must fit the CPU size's Fargate range (the settings check it)."""

    ephemeral_storage_gib: int
    """Task-scoped disk for the writable paths, in GiB (Fargate: 21-200)."""


def _max_idle(seconds: int) -> list[str]:
    return ["--max-idle", f"{seconds}s"]


# The proxy is healthy once it accepts connections on the task's loopback; python3 is in the image.
_PROXY_HEALTH_CHECK = {
    "command": [
        "CMD",
        "python3",
        "-c",
        f"import socket; socket.create_connection(('127.0.0.1', {PROXY_PORT}), 2).close()",
    ],
    "interval": 5,
    "timeout": 3,
    "retries": 3,
    "startPeriod": 5,
}


def api_proxy_container(env: FleetEnvironment, image: pulumi.Input[str]) -> Container:
    """The session's API proxy: the only container of the task that receives the key. The
    dispatcher adds the work item's and session's IDs (and the upstream, if `ant` polled a
    non-default base URL) as RunTask overrides."""
    return env.container(
        API_PROXY_CONTAINER,
        image,
        entry_point=[PROXY_ENTRY],
        volumes=(),
        environment={"STOCKADE_STACK": env.stack, "STOCKADE_API_PROXY_PORT": str(PROXY_PORT)},
        working_directory=None,
        health_check=_PROXY_HEALTH_CHECK,
    )


def session_task(
    env: FleetEnvironment,
    *,
    family: str,
    image: pulumi.Input[str],
    resources: TaskSize,
    max_idle_seconds: int,
    artifacts_bucket: pulumi.Input[str],
    artifacts_kms_key_arn: pulumi.Input[str],
    sandbox_role_id: pulumi.Input[str],
    api_proxy: bool = True,
) -> TaskSpec:
    """The per-session sandbox. The dispatcher adds the session's identifiers and its work
    secret's ARN as environment overrides at RunTask; nothing else differs per session.
    When `ant` exits, the entry point uploads /workspace to the artifacts bucket, within the
    120 s stop grace (stockade.workqueue.grace). With `api_proxy` (the default) the sandbox
    never receives the environment key: its `ant` talks to the proxy container beside it."""
    volumes = tuple(WRITABLE_PATHS)
    environment: dict[str, pulumi.Input[str]] = {
        ARTIFACTS_BUCKET_VARIABLE: artifacts_bucket,
        ARTIFACTS_KEY_VARIABLE: artifacts_kms_key_arn,
        SANDBOX_ROLE_ID_VARIABLE: sandbox_role_id,
    }
    if api_proxy:
        environment |= {"ANTHROPIC_BASE_URL": PROXY_BASE_URL, ENVIRONMENT_KEY_VARIABLE: PLACEHOLDER_KEY}
    session = env.container(
        SESSION_CONTAINER,
        image,
        entry_point=[SESSION_ENTRY],
        # The entry point passes its arguments on to `ant beta:worker run`.
        command=_max_idle(max_idle_seconds),
        volumes=volumes,
        environment=environment,
        holds_key=not api_proxy,
        stop_timeout=SESSION_STOP_TIMEOUT_SECONDS,
        # ECS stops dependents first, so the proxy outlives the session's final flush and upload.
        depends_on={API_PROXY_CONTAINER: "HEALTHY"} if api_proxy else None,
    )
    containers = [api_proxy_container(env, image), session] if api_proxy else [session]
    return _sized(family, resources, containers, volumes)


def poller_task(
    env: FleetEnvironment,
    *,
    family: str,
    image: pulumi.Input[str],
    dispatcher_environment: Mapping[str, pulumi.Input[str]],
) -> TaskSpec:
    poller = env.container(
        "poller",
        image,
        entry_point=[*POLL_COMMAND, "--on-work", DISPATCH_HOOK],
        volumes=_POLLER_VOLUMES,
        environment=dispatcher_environment,
    )
    sweep = {key: dispatcher_environment[key] for key in SWEEP_VARIABLES}
    stats = env.queue_stats(image, sweep)
    return TaskSpec(family, POLLER_CPU, POLLER_MEMORY_MIB, [poller, stats], _POLLER_VOLUMES)


def pool_worker_task(
    env: FleetEnvironment,
    *,
    family: str,
    image: pulumi.Input[str],
    resources: TaskSize,
    max_idle_seconds: int,
) -> TaskSpec:
    """Pool mode: sessions run inside this long-lived task, one after another or together,
    sharing its kernel, disk and memory (the weaker isolation docs/sandbox-fleet.md states)."""
    volumes = tuple(WRITABLE_PATHS)
    worker = env.container(
        "worker", image, entry_point=[*POLL_COMMAND, *_max_idle(max_idle_seconds)], volumes=volumes
    )
    return _sized(family, resources, [worker, env.queue_stats(image)], volumes)


def _sized(family: str, resources: TaskSize, containers: list[Container], volumes: Sequence[str]) -> TaskSpec:
    """A task with the configured per-session CPU, memory and ephemeral storage."""
    return TaskSpec(
        family,
        resources["cpu"],
        resources["memory_mib"],
        containers,
        volumes,
        ephemeral_storage_gib=resources["ephemeral_storage_gib"],
    )
