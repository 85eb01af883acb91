"""Container rules, for ECS task definitions and Docker containers alike.

An ECS task's containers live in `containerDefinitions`, a JSON string. When it
is not known yet (preview of a new stack) reading it raises UnknownValueError on
purpose: the engine then says the rule could not run, instead of passing it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stockade.guardrails.props import MISSING, UNKNOWN, as_bool, as_int, get, items, parse_json
from stockade.guardrails.rule import Level, Rule, allowed, facts
from stockade.guardrails.rules import tokens
from stockade.settings.types import is_pinned
from stockade.workqueue.proxy_contract import PLACEHOLDER_KEY, PROXY_ENTRY

if TYPE_CHECKING:
    from pulumi_policy import ReportViolation, ResourceValidationArgs

MIN_STOP_TIMEOUT_SECONDS = 30
REDACTED = "[secret]"
ROOT_REASON_LABEL = "stockade.root-reason"
"""dockerLabels key where a root init container states why it needs uid 0 (aws/shared/containers.py)."""
_FINISHED = frozenset({"SUCCESS", "COMPLETE"})
ORG_API_KEY = "ANTHROPIC_API_KEY"
ENVIRONMENT_KEY = "ANTHROPIC_ENVIRONMENT_KEY"
SESSION_ENTRY = "/usr/local/bin/stockade-session-entry"
"""What a per-session sandbox container runs (aws/fleet/tasks.py); its task is a session task."""
_SECRET_NAME = re.compile(
    r"(^|_)(KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIALS?)$|^AWS_ACCESS_KEY_ID$"
)
_POLL = re.compile(r"\bbeta:worker\s+poll\b")


@dataclass(frozen=True)
class ContainerView:
    """The security-relevant settings of one container, whichever platform declared it."""

    name: str
    image: Any
    user: Any
    read_only: bool | None
    privileged: bool | None
    drops: tuple[str, ...]
    adds: tuple[str, ...]
    no_new_privileges: bool | None
    """None where the platform cannot set it (Fargate rejects dockerSecurityOptions)."""
    stop_timeout: int | None
    environment: tuple[tuple[str, Any], ...]
    secret_names: tuple[str, ...]
    argv: tuple[str, ...]
    running: bool = True
    """False for a Docker container created with `start: false` (a file stager): no process runs."""
    root_reason: str | None = None
    """The stated reason, when this is a root init container other containers wait for (see below)."""


def _strs(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in items(value) if v not in (MISSING, UNKNOWN))


def _ecs_containers(props: Any) -> Iterator[ContainerView]:
    # Mapping.get reads through the proxy: an unknown value raises UnknownValueError ("could not run").
    raw = props.get("containerDefinitions", "[]")
    definitions = parse_json(raw)
    if not isinstance(definitions, list):
        raise ValueError("containerDefinitions is not a JSON list")
    for definition in definitions:
        name = str(get(definition, "name"))
        capabilities = get(definition, "linuxParameters", "capabilities")
        yield ContainerView(
            name=name,
            image=get(definition, "image"),
            user=get(definition, "user"),
            read_only=as_bool(get(definition, "readonlyRootFilesystem")),
            privileged=as_bool(get(definition, "privileged")),
            drops=_strs(get(capabilities, "drop")),
            adds=_strs(get(capabilities, "add")),
            no_new_privileges=None,
            stop_timeout=as_int(get(definition, "stopTimeout")),
            environment=tuple(
                (str(get(e, "name")), get(e, "value")) for e in items(get(definition, "environment"))
            ),
            secret_names=tuple(str(get(s, "name")) for s in items(get(definition, "secrets"))),
            argv=(*_strs(get(definition, "entryPoint")), *_strs(get(definition, "command"))),
            root_reason=_root_init_reason(name, definition, definitions),
        )


def _root_init_reason(name: str, definition: Any, definitions: list[Any]) -> str | None:
    """The one root container Stockade accepts: a non-essential init step that states why.

    A Fargate bind-mount volume is root-owned 0755, so a stock image cannot fill it
    as another user. Such a container is accepted only when it is not essential,
    carries its reason in the `stockade.root-reason` label, and another container
    waits for it to finish (dependsOn SUCCESS/COMPLETE), so it never runs beside the
    workload. It keeps every other rule (read-only root, no capabilities).
    """
    reason = get(definition, "dockerLabels", ROOT_REASON_LABEL)
    if as_bool(get(definition, "essential")) is not False or not isinstance(reason, str) or not reason:
        return None
    waited_for = any(
        get(dependency, "containerName") == name and get(dependency, "condition") in _FINISHED
        for other in definitions
        for dependency in items(get(other, "dependsOn"))
    )
    return reason if waited_for else None


def _docker_container(name: str, props: Any) -> ContainerView:
    envs = [e for e in items(get(props, "envs")) if isinstance(e, str)]
    options = [o.replace(" ", "").lower() for o in _strs(get(props, "securityOpts"))]
    return ContainerView(
        name=name,
        image=get(props, "image"),
        user=get(props, "user"),
        read_only=as_bool(get(props, "readOnly")),
        privileged=as_bool(get(props, "privileged")),
        drops=_strs(get(props, "capabilities", "drops")),
        adds=_strs(get(props, "capabilities", "adds")),
        no_new_privileges=any(
            o in ("no-new-privileges", "no-new-privileges:true", "no-new-privileges=true") for o in options
        ),
        stop_timeout=as_int(get(props, "stopTimeout")),
        environment=tuple((e.split("=", 1)[0], e.split("=", 1)[1] if "=" in e else "") for e in envs),
        secret_names=(),
        argv=(*_strs(get(props, "entrypoints")), *_strs(get(props, "command"))),
        running=as_bool(get(props, "start")) is not False,
    )


def containers(args: ResourceValidationArgs, report: ReportViolation) -> list[ContainerView]:
    """The containers a resource declares; reports (and returns none) when they cannot be read."""
    if args.resource_type == tokens.ECS_TASK_DEFINITION:
        try:
            return list(_ecs_containers(args.props))
        except ValueError as exc:
            report(f"containerDefinitions could not be read ({exc}); a secret value inside it?", None)
            return []
    if args.resource_type == tokens.DOCKER_CONTAINER:
        return [_docker_container(args.name, args.props)]
    return []


def _container_rule(
    name: str, description: str, remediation: str, problem: Any, level: Level = Level.MANDATORY
) -> Rule:
    def check(args: ResourceValidationArgs, report: ReportViolation) -> None:
        for container in containers(args, report):
            if not container.running:
                continue  # a Docker file stager is created, never started: nothing runs in it
            found = problem(container)
            if found:
                report(f"container {container.name}: {found}", None)

    return Rule(
        name=name, description=description, level=level, remediation=remediation, resource_check=check
    )


def _root(container: ContainerView) -> str | None:
    user = container.user
    if user is UNKNOWN or container.root_reason is not None:
        return None
    if user is MISSING or not str(user).strip():
        return "no user set, so the image's default (often root) applies"
    uid = str(user).split(":", 1)[0].strip()
    if uid in ("0", "root"):
        return f"runs as root (user {user})"
    return None


READ_ONLY_ROOT = _container_rule(
    "container-read-only-root",
    "Every container's root filesystem is read-only.",
    "Set readonlyRootFilesystem: true (ECS) or read_only (Docker); give writable paths their own volume "
    "(/workspace, /mnt/memory, /tmp).",
    lambda c: None if c.read_only is True else "root filesystem is writable",
)

NON_ROOT = _container_rule(
    "container-non-root",
    "Every container runs as a non-root user.",
    "Set user to a non-root UID:GID (Stockade uses 65532:65532, as the vendor's reference does).",
    _root,
)

ROOT_INIT = _container_rule(
    "container-root-init",
    "Lists the root init containers the non-root rule accepts (non-essential, reason labelled, waited for).",
    "Prefer an init image whose VOLUME directories belong to a non-root user; otherwise keep the container "
    "non-essential, with its stockade.root-reason label, and finished before the workload starts.",
    lambda c: f"runs as root before the workload starts: {c.root_reason}" if c.root_reason else None,
    level=Level.ADVISORY,
)

NOT_PRIVILEGED = _container_rule(
    "container-not-privileged",
    "No container runs privileged.",
    "Remove privileged: true; nothing in the perimeter needs it.",
    lambda c: "runs privileged" if c.privileged is True else None,
)


def _capability_problem(container: ContainerView) -> str | None:
    if "ALL" not in {d.upper() for d in container.drops}:
        return "does not drop ALL Linux capabilities"
    if container.adds:
        return f"adds capabilities back: {', '.join(container.adds)}"
    if container.no_new_privileges is False:
        return "no-new-privileges is not set"
    return None


DROPS_CAPABILITIES = _container_rule(
    "container-drops-capabilities",
    "Every container drops all Linux capabilities, adds none back, and (on Docker) sets no-new-privileges.",
    "Set linuxParameters.capabilities.drop: [ALL] (ECS) or capabilities.drops: [ALL] and "
    "security_opts: [no-new-privileges:true] (Docker); add no capability back.",
    _capability_problem,
)

STOP_TIMEOUT = _container_rule(
    "container-stop-timeout",
    "Containers get at least 30 s between SIGTERM and SIGKILL (docs/vendor-interface.md §1.8).",
    "Set stopTimeout (ECS, up to 120 s on Fargate) or stop_timeout (Docker) to 30 or more.",
    lambda c: (
        None
        if c.stop_timeout is not None and c.stop_timeout >= MIN_STOP_TIMEOUT_SECONDS
        else f"stop timeout is {c.stop_timeout if c.stop_timeout is not None else 'the default'} "
        f"(< {MIN_STOP_TIMEOUT_SECONDS} s), so in-flight work is killed"
    ),
    level=Level.ADVISORY,
)


def check_no_plaintext_secrets(args: ResourceValidationArgs, report: ReportViolation) -> None:
    # Docker containers may carry secrets as (secret-wrapped) env values by design; ECS never does.
    if args.resource_type != tokens.ECS_TASK_DEFINITION:
        return
    for container in containers(args, report):
        for name, value in container.environment:
            if name == ENVIRONMENT_KEY and value == PLACEHOLDER_KEY:
                continue  # the API proxy's placeholder: deliberately not a secret
            if _SECRET_NAME.search(name.upper()):
                report(f"container {container.name}: {name} is a plain environment variable", None)
            elif value == REDACTED or (isinstance(value, str) and value.startswith("sk-ant-")):
                report(f"container {container.name}: {name} holds a secret value in plain environment", None)
        if any(REDACTED in arg or arg.startswith("sk-ant-") for arg in container.argv):
            report(f"container {container.name}: its command line carries a secret", None)


NO_PLAINTEXT_SECRETS = Rule(
    name="no-plaintext-secrets",
    description="ECS containers get secrets only through `secrets` (valueFrom ARN), never plain env or argv.",
    level=Level.MANDATORY,
    remediation=(
        "Store the value in Secrets Manager under the stack's key and list it under the container's "
        "`secrets` with valueFrom set to the secret ARN."
    ),
    resource_check=check_no_plaintext_secrets,
)


def check_no_org_api_key(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for container in containers(args, report):
        names = {n for n, _ in container.environment} | set(container.secret_names)
        if ORG_API_KEY in names:
            report(f"container {container.name} receives {ORG_API_KEY}", None)
        if any(isinstance(v, str) and v.startswith("sk-ant-api") for _, v in container.environment):
            report(f"container {container.name} carries an organization API key value", None)


NO_ORG_API_KEY = Rule(
    name="no-org-api-key",
    description="The organization API key never reaches a worker, sandbox or gateway container.",
    level=Level.MANDATORY,
    remediation=(
        "Workers authenticate with the environment key (ANTHROPIC_ENVIRONMENT_KEY) only; remove "
        "ANTHROPIC_API_KEY from the container."
    ),
    resource_check=check_no_org_api_key,
)


def check_per_session(args: ResourceValidationArgs, report: ReportViolation) -> None:
    stack_facts = facts(args)
    for container in containers(args, report):
        command = " ".join(container.argv)
        if not _POLL.search(command) or "--on-work" in command:
            continue
        message = (
            f"container {container.name} runs sessions in-process (`ant beta:worker poll` without "
            "--on-work): sessions share its kernel, disk and memory"
        )
        if stack_facts.pool_mode_allowed:
            allowed(report, f"{message} (sandboxes.mode is 'pool')")
        else:
            report(message, None)


PER_SESSION = Rule(
    name="sandbox-per-session",
    description=(
        "Each session runs in its own sandbox: no in-process pool workers unless pool mode is declared."
    ),
    level=Level.MANDATORY,
    remediation=(
        "Use sandboxes.mode: per-session (the default), where the poller runs `ant beta:worker poll "
        "--on-work` and the dispatcher starts one sandbox per work item; or declare sandboxes.mode: pool."
    ),
    resource_check=check_per_session,
    facts=("pool_mode_allowed",),
    allowed_by="sandboxes.mode: pool",
)


def check_key_only_in_proxy(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """In a per-session sandbox task, only the API proxy container may receive the environment key."""
    if args.resource_type != tokens.ECS_TASK_DEFINITION:
        return
    found = containers(args, report)
    if not any(SESSION_ENTRY in c.argv for c in found):
        return  # not a session task: pollers and pool workers need the key themselves
    stack_facts = facts(args)
    for container in found:
        if PROXY_ENTRY in container.argv:
            continue
        plain = [v for n, v in container.environment if n == ENVIRONMENT_KEY and v != PLACEHOLDER_KEY]
        if ENVIRONMENT_KEY not in container.secret_names and not plain:
            continue
        message = (
            f"container {container.name} of a per-session sandbox task receives {ENVIRONMENT_KEY}: "
            "code in the sandbox can read it and claim other sessions' work"
        )
        if stack_facts.api_proxy_disabled_allowed:
            allowed(report, f"{message} (sandboxes.apiProxy.enabled is false)")
        else:
            report(message, None)


KEY_ONLY_IN_PROXY = Rule(
    name="environment-key-only-in-proxy",
    description=(
        "In a per-session sandbox task, the environment key (valueFrom) reaches only the API proxy "
        "container, never the sandbox."
    ),
    level=Level.MANDATORY,
    remediation=(
        "Keep sandboxes.apiProxy.enabled: true (the default): the key goes only to the task's "
        "api-proxy container, and the sandbox gets a placeholder and ANTHROPIC_BASE_URL pointing at "
        "the proxy. Or declare sandboxes.apiProxy.enabled: false."
    ),
    resource_check=check_key_only_in_proxy,
    facts=("api_proxy_disabled_allowed",),
    allowed_by="sandboxes.apiProxy.enabled: false",
)


def _image_problem(image: Any) -> str | None:
    if image in (MISSING, UNKNOWN) or not isinstance(image, str):
        return None
    if is_pinned(image) or image.startswith("sha256:"):
        return None
    return f"image {image} is not pinned by digest"


def check_pinned_images(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in (
        tokens.ECS_TASK_DEFINITION,
        tokens.DOCKER_CONTAINER,
        tokens.DOCKER_REMOTE_IMAGE,
    ):
        return
    if not facts(args).production:
        args.not_applicable("images must be pinned in prod stacks only")
    if args.resource_type == tokens.DOCKER_REMOTE_IMAGE:
        problem = _image_problem(get(args.props, "name"))
        if problem:
            report(problem, None)
        return
    for container in containers(args, report):
        problem = _image_problem(container.image)
        if problem:
            report(f"container {container.name}: {problem}", None)


PINNED_IMAGES = Rule(
    name="images-pinned-by-digest",
    description="In prod, every container image is pinned by digest (@sha256:...).",
    level=Level.MANDATORY,
    remediation=(
        "Reference images as registry/repository@sha256:<digest> (the tunnel defaults already are); "
        "refresh digests deliberately."
    ),
    resource_check=check_pinned_images,
    facts=("production",),
)

RULES = (
    READ_ONLY_ROOT,
    NON_ROOT,
    ROOT_INIT,
    NOT_PRIVILEGED,
    DROPS_CAPABILITIES,
    STOP_TIMEOUT,
    NO_PLAINTEXT_SECRETS,
    NO_ORG_API_KEY,
    PER_SESSION,
    KEY_ONLY_IN_PROXY,
    PINNED_IMAGES,
)
