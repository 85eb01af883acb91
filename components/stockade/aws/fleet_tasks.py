"""The fleet's containers and Fargate task definitions, to the dispatcher contract.

Three task families, all hardened the same way (containers.py: non-root 65532,
read-only root, every capability dropped, 30 s stop grace):

* `session`: one per work item, started by the dispatcher. Container "session"
  runs `/usr/local/bin/stockade-session-entry`, which fetches the work secret and
  execs `ant beta:worker run`.
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

import pulumi
import pulumi_aws as aws

from stockade.aws.containers import Container, Mount, container_definitions
from stockade.aws.fleet_iam import METRICS_NAMESPACE

SESSION_CONTAINER = "session"
QUEUE_STATS_CONTAINER = "queue-stats"
SESSION_ENTRY = "/usr/local/bin/stockade-session-entry"
DISPATCH_HOOK = "/usr/local/bin/stockade-dispatch"
ENVIRONMENT_KEY_VARIABLE = "ANTHROPIC_ENVIRONMENT_KEY"
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
class TaskSpec:
    """What differs between the fleet's task definitions."""

    family: str
    cpu: int
    memory_mib: int
    ephemeral_storage_gib: int | None
    containers: Sequence[Container]
    volumes: Sequence[str]


def _mounts(volumes: Sequence[str]) -> list[Mount]:
    return [Mount(volume=v, path=WRITABLE_PATHS[v]) for v in volumes]


POLL_COMMAND = ("ant", "beta:worker", "poll", "--workdir", "/workspace", "--log-format", "json")


def queue_stats_container(
    *, image: pulumi.Input[str], stack: str, environment_id: str, environment_key_arn: pulumi.Input[str]
) -> Container:
    """Polls the queue's stats each minute and puts them in CloudWatch (dispatcher contract).

    Not essential: if it fails, sessions keep flowing and the WorkersPolling alarm
    (missing data is breaching) reports it.
    """
    return Container(
        name=QUEUE_STATS_CONTAINER,
        image=image,
        entry_point=["python3", "-m", "stockade.dispatcher.queue_stats"],
        environment={
            "STOCKADE_STACK": stack,
            "ANTHROPIC_ENVIRONMENT_ID": environment_id,
            "STOCKADE_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "STOCKADE_STATS_INTERVAL_SECONDS": str(STATS_INTERVAL_SECONDS),
        },
        secrets={ENVIRONMENT_KEY_VARIABLE: environment_key_arn},
        mounts=_mounts(["tmp"]),
        essential=False,
    )


def session_task(
    *,
    family: str,
    image: pulumi.Input[str],
    environment_id: str,
    environment_key_arn: pulumi.Input[str],
    cpu: int,
    memory_mib: int,
    ephemeral_storage_gib: int,
    max_idle_seconds: int,
) -> TaskSpec:
    """The per-session sandbox. The dispatcher adds the session's identifiers and its work
    secret's ARN as environment overrides at RunTask; nothing else differs per session."""
    volumes = tuple(WRITABLE_PATHS)
    session = Container(
        name=SESSION_CONTAINER,
        image=image,
        entry_point=[SESSION_ENTRY],
        # The entry point passes its arguments on to `ant beta:worker run`.
        command=["--max-idle", f"{max_idle_seconds}s"],
        environment={"ANTHROPIC_ENVIRONMENT_ID": environment_id},
        secrets={ENVIRONMENT_KEY_VARIABLE: environment_key_arn},
        mounts=_mounts(volumes),
        working_directory="/workspace",
    )
    return TaskSpec(family, cpu, memory_mib, ephemeral_storage_gib, [session], volumes)


def poller_task(
    *,
    family: str,
    image: pulumi.Input[str],
    stack: str,
    environment_id: str,
    environment_key_arn: pulumi.Input[str],
    dispatcher_environment: Mapping[str, pulumi.Input[str]],
) -> TaskSpec:
    poller = Container(
        name="poller",
        image=image,
        entry_point=[*POLL_COMMAND, "--on-work", DISPATCH_HOOK],
        environment={**dispatcher_environment, "ANTHROPIC_ENVIRONMENT_ID": environment_id},
        secrets={ENVIRONMENT_KEY_VARIABLE: environment_key_arn},
        mounts=_mounts(_POLLER_VOLUMES),
        working_directory="/workspace",
    )
    stats = queue_stats_container(
        image=image, stack=stack, environment_id=environment_id, environment_key_arn=environment_key_arn
    )
    return TaskSpec(family, POLLER_CPU, POLLER_MEMORY_MIB, None, [poller, stats], _POLLER_VOLUMES)


def pool_worker_task(
    *,
    family: str,
    image: pulumi.Input[str],
    stack: str,
    environment_id: str,
    environment_key_arn: pulumi.Input[str],
    cpu: int,
    memory_mib: int,
    ephemeral_storage_gib: int,
    max_idle_seconds: int,
) -> TaskSpec:
    """Pool mode: sessions run inside this long-lived task, one after another or together,
    sharing its kernel, disk and memory (the weaker isolation docs/sandbox-fleet.md states)."""
    volumes = tuple(WRITABLE_PATHS)
    worker = Container(
        name="worker",
        image=image,
        entry_point=[*POLL_COMMAND, "--max-idle", f"{max_idle_seconds}s"],
        environment={"ANTHROPIC_ENVIRONMENT_ID": environment_id},
        secrets={ENVIRONMENT_KEY_VARIABLE: environment_key_arn},
        mounts=_mounts(volumes),
        working_directory="/workspace",
    )
    stats = queue_stats_container(
        image=image, stack=stack, environment_id=environment_id, environment_key_arn=environment_key_arn
    )
    return TaskSpec(family, cpu, memory_mib, ephemeral_storage_gib, [worker, stats], volumes)


def task_definition(
    name: str,
    spec: TaskSpec,
    *,
    execution_role_arn: pulumi.Input[str],
    task_role_arn: pulumi.Input[str],
    log_group_name: pulumi.Input[str],
    region: str,
    cpu_architecture: str,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> aws.ecs.TaskDefinition:
    return aws.ecs.TaskDefinition(
        name,
        family=spec.family,
        requires_compatibilities=["FARGATE"],
        network_mode="awsvpc",
        cpu=str(spec.cpu),
        memory=str(spec.memory_mib),
        runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": cpu_architecture},
        ephemeral_storage=(
            {"size_in_gib": spec.ephemeral_storage_gib} if spec.ephemeral_storage_gib is not None else None
        ),
        execution_role_arn=execution_role_arn,
        task_role_arn=task_role_arn,
        volumes=[{"name": v} for v in spec.volumes],
        container_definitions=container_definitions(spec.containers, log_group=log_group_name, region=region),
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )
