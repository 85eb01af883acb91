"""Rules between the `docker` target and the rest of a stack's settings.

A setting the Docker host cannot honour is an error naming the key, never a silent
ignore: a reviewer reading `network.vpcId` or `sandboxes.enableExec` in a stack file
must be able to trust that it does something. The reverse holds too: `stockade:docker`
on another target is refused.

Rules look at what the stack file *sets* (pydantic's `model_fields_set`), so a default
that only matters on AWS never trips them.
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Network
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import BaseModel

from stockade.settings.problems import ConfigProblem, describe_value
from stockade.settings.sandboxes import WorkerMode
from stockade.settings.secrets import SecretReference

if TYPE_CHECKING:
    from stockade.settings.stack import StackSettings

DOCKER = "docker"

# Sections whose keys are AWS-only, with the keys that DO mean something on Docker.
_NETWORK_KEEPS = frozenset({"egress"})
_EGRESS_KEEPS = frozenset({"mode", "allowed_domains", "allowed_cidrs"})
_AWS_ONLY_SANDBOX_KEYS = {
    "enable_exec": "ECS Exec is an ECS feature; on a Docker host use `docker exec` as an operator",
    "poller_replicas": "one Docker host runs one poller; replicas across hosts are separate stacks",
    "queue_depth_alarm": "the queue alarm is a CloudWatch alarm; watch `ant beta:environments:work stats`",
    "artifacts": "the artifacts bucket is S3; per-session workspaces stay as Docker volumes",
    "alarms": "fleet alarms are CloudWatch alarms and an SNS topic",
    "session_build": "image builds push to an ECR repository; `docker build` it and set sessionImage",
    "worker_build": "image builds push to an ECR repository; `docker build` it and set workerImage",
    "cpu_architecture": "the Docker host's own architecture decides; use images built for it",
}
_AWS_ONLY_TUNNEL_KEYS = {
    "setup": "the docker target does not run the vendor's setup component; run `setup init` once as in "
    "the vendor's Compose guide, then give Stockade tunnel.token and the certificates",
    "alarms": "gateway alarms are CloudWatch alarms",
    "task_cpu": "Fargate task sizes do not apply to containers",
    "task_memory_mib": "Fargate task sizes do not apply to containers",
}
_AWS_ONLY_TUNNEL_IMAGES = {
    "init": "files reach the proxy through a never-started stager container, not an init container",
    "aws_cli": "the AWS CLI only serves the setup task",
    "mirror": "images are pulled by the Docker host, not mirrored into ECR",
}
_AWS_ONLY_RESOURCE_KEYS = {
    "ephemeral_storage_gib": "pulumi-docker cannot cap a container's disk; volumes use the host's disk",
}
_PER_SESSION_DOCKER_KEYS = ("socket_path", "socket_group_id", "keep_session_workspaces")
_SECRET_FIELDS = (
    ("sandboxes.environmentKey", ("sandboxes", "environment_key")),
    ("tunnel.token", ("tunnel", "token")),
    ("tunnel.certificates.serverKey", ("tunnel", "certificates", "server_key")),
)
# The addresses a sandbox network needs besides sandboxes: gateway, egress proxy, poller,
# broker, and a margin for replacements during an update.
_RESERVED_ADDRESSES = 8


def _alias(model: BaseModel, name: str) -> str:
    field = type(model).model_fields[name]
    return field.alias or name


def _is_set(model: BaseModel, name: str) -> bool:
    """The stack file wrote this key; a section counts only when it sets something inside.

    The loader fills absent sections with empty maps, so "present" alone is not "written".
    """
    if name not in model.model_fields_set:
        return False
    value = getattr(model, name)
    return not isinstance(value, BaseModel) or bool(value.model_fields_set)


def _explicit(
    model: BaseModel, prefix: str, keep: frozenset[str] = frozenset()
) -> Iterator[tuple[str, object]]:
    """Keys the stack file set in `model`, other than `keep`, as (config key, value)."""
    for name in sorted(type(model).model_fields):
        if name not in keep and _is_set(model, name):
            yield f"{prefix}.{_alias(model, name)}", _shown(getattr(model, name))


def _shown(value: object) -> object:
    return "(set)" if isinstance(value, BaseModel) else value


def target_problems(settings: StackSettings) -> list[ConfigProblem]:
    """Cross-target rules: docker-only keys elsewhere, AWS-only keys on docker."""
    problems: list[ConfigProblem] = []

    def add(key: str, value: object, message: str, fix: str, *, secret: bool = False) -> None:
        problems.append(ConfigProblem(key, describe_value(value, secret=secret), message, fix))

    target = settings.target.value
    if target != DOCKER:
        if _is_set(settings, "docker"):
            add(
                "stockade:docker",
                "(set)",
                f"Docker host settings have no meaning on the {target} target",
                "remove stockade:docker, or set target: docker",
            )
        return problems

    if settings.aws_region is not None:
        add("aws:region", settings.aws_region, "aws:region has no meaning on the docker target", "remove it")

    network = settings.network
    for key, value in _explicit(network, "stockade:network", _NETWORK_KEEPS):
        add(
            key,
            value,
            "VPC settings have no meaning on the docker target (sandboxes sit on a Docker network)",
            "remove it; the sandbox network's range is stockade:docker.sandboxSubnet",
        )
    for key, value in _explicit(network.egress, "stockade:network.egress", _EGRESS_KEEPS):
        add(
            key,
            value,
            "this selects an AWS egress mechanism; the docker target filters with its own allowlisting proxy",
            "remove it (docs/docker-host.md, 'Networks and egress')",
        )

    sandboxes, tunnel = settings.sandboxes, settings.tunnel
    aws_only = (
        (sandboxes, "stockade:sandboxes", _AWS_ONLY_SANDBOX_KEYS, "remove it, or set target: aws"),
        (sandboxes.resources, "stockade:sandboxes.resources", _AWS_ONLY_RESOURCE_KEYS, "remove it"),
        (tunnel, "stockade:tunnel", _AWS_ONLY_TUNNEL_KEYS, "remove it (docs/docker-host.md, 'Tunnel')"),
        (tunnel.images, "stockade:tunnel.images", _AWS_ONLY_TUNNEL_IMAGES, "remove it"),
    )
    for section, prefix, reasons, fix in aws_only:
        for name, why in reasons.items():
            if _is_set(section, name):
                key = f"{prefix}.{_alias(section, name)}"
                add(key, _shown(getattr(section, name)), f"not available on the docker target: {why}", fix)
    if sandboxes.mode is WorkerMode.POOL and _is_set(sandboxes.resources, "pids_limit"):
        add(
            "stockade:sandboxes.resources.pidsLimit",
            sandboxes.resources.pids_limit,
            "pool workers on the docker target get no pids limit: pulumi-docker cannot set one",
            "remove it, or use mode: per-session, where each sandbox gets this limit",
        )

    for key, path in _SECRET_FIELDS:
        node: object = settings
        for part in path:
            node = getattr(node, part)
        if isinstance(node, SecretReference):
            add(
                f"stockade:{key}",
                node,
                "a Secrets Manager ARN cannot be read on the docker target",
                f"store the value with `pulumi config set --secret --path 'stockade:{key}' <value>`",
                secret=True,
            )

    problems.extend(_fleet_problems(settings))
    return problems


def _fleet_problems(settings: StackSettings) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    sandboxes = settings.sandboxes
    docker = settings.docker
    if sandboxes.provider.value != "self-hosted":
        return problems  # provider rules (providers.py) already name the right target
    if sandboxes.mode is WorkerMode.PER_SESSION:
        if docker.socket_group_id is None:
            problems.append(
                ConfigProblem(
                    "stockade:docker.socketGroupId",
                    describe_value(None),
                    "per-session mode needs the Docker socket's group, so the socket proxy runs as non-root",
                    "set docker.socketGroupId to what "
                    "`docker run --rm -v /var/run/docker.sock:/s:ro busybox stat -c %g /s` prints "
                    "(docs/quickstart.md, step 4)",
                )
            )
        capacity = docker.sandbox_subnet.num_addresses - 2 - _RESERVED_ADDRESSES
        if sandboxes.max_concurrent_sessions > capacity:
            problems.append(
                ConfigProblem(
                    "stockade:docker.sandboxSubnet",
                    describe_value(str(docker.sandbox_subnet)),
                    f"the subnet holds {max(capacity, 0)} sandboxes, fewer than maxConcurrentSessions "
                    f"({sandboxes.max_concurrent_sessions})",
                    "use a larger subnet (a /22 holds 1014) or lower sandboxes.maxConcurrentSessions",
                )
            )
    else:
        for name in _PER_SESSION_DOCKER_KEYS:
            if _is_set(docker, name):
                problems.append(
                    ConfigProblem(
                        f"stockade:docker.{_alias(docker, name)}",
                        describe_value(getattr(docker, name)),
                        "only per-session mode starts containers through the Docker socket",
                        "remove it, or set sandboxes.mode: per-session",
                    )
                )
        if settings.sandboxes.pool_size + _RESERVED_ADDRESSES > docker.sandbox_subnet.num_addresses - 2:
            problems.append(
                ConfigProblem(
                    "stockade:docker.sandboxSubnet",
                    describe_value(str(docker.sandbox_subnet)),
                    f"the subnet is too small for poolSize {sandboxes.pool_size}",
                    "use a larger subnet or a smaller sandboxes.poolSize",
                )
            )
    problems.extend(_overlap_problems(settings))
    return problems


def _overlap_problems(settings: StackSettings) -> list[ConfigProblem]:
    """The sandbox range must not shadow networks sandboxes or the tunnel must reach elsewhere."""
    subnet = settings.docker.sandbox_subnet
    others: list[tuple[str, IPv4Network]] = [
        ("network.egress.allowedCidrs", c) for c in settings.network.egress.allowed_cidrs
    ]
    if settings.tunnel.enabled:
        others += [("tunnel.routes", c) for c in settings.tunnel.route_cidrs]
    return [
        ConfigProblem(
            "stockade:docker.sandboxSubnet",
            describe_value(str(subnet)),
            f"overlaps {cidr} from {where}: the host would route that range into the sandbox network",
            "pick a sandboxSubnet no other network on the host or in your allowlists uses",
        )
        for where, cidr in others
        if subnet.overlaps(cidr)
    ]


def docker_weakenings(settings: StackSettings) -> list[str]:
    """Docker-specific trades of safety for convenience, in plain words."""
    if settings.target.value != DOCKER:
        return []
    found: list[str] = []
    docker = settings.docker
    if settings.sandboxes.provider.value == "self-hosted" and settings.sandboxes.mode is WorkerMode.POOL:
        found.append(
            "sandboxes.mode is 'pool' on the docker target: pool workers have memory and CPU limits "
            "but no pids limit (pulumi-docker cannot set one)"
        )
    if docker.allow_insecure_tcp:
        host = urlsplit(docker.host or "").hostname or "the host"
        found.append(
            f"docker.allowInsecureTcp is true: the Docker API on {host} is reached over plain TCP "
            "with no authentication (anyone on that network is root on the host)"
        )
    return found
