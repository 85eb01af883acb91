"""The rollout plan: ordered waves of stacks, each with the account, region and role it deploys through.

A plan is checked twice: by the pydantic model (shape, ranges, role ARNs in the planned
account, each stack once) and against the stack files (a plan that says a stack lives in
another account or region than its stack file is wrong, whichever of the two is stale).
Both report in `stockade validate`'s vocabulary: key path, value, fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BeforeValidator, Field, TypeAdapter, ValidationError, WithJsonSchema, model_validator

from stockade.rollout.backend import Backend, parse_awskms
from stockade.settings.base import SettingsModel
from stockade.settings.load import (
    GENERIC_FIXES as _GENERIC_FIXES,
)
from stockade.settings.load import (
    REGION_KEY,
    StackFile,
    read_stack_file,
    sentence_case,
)
from stockade.settings.problems import (
    MASK,
    ConfigProblem,
    SettingsError,
    clean_text,
    describe_value,
    invalid,
)
from stockade.settings.types import AwsAccountId, AwsRegion
from stockade.settings.yaml_input import YamlInputError, read_yaml

MAX_BAKE_SECONDS = 6 * 3600
"""Longer than a working session: a bake that long is a schedule, not a rollout step."""

MAX_CONCURRENCY = 256
_ROLE_ARN = re.compile(r"^arn:(aws|aws-cn|aws-us-gov|aws-iso[a-z-]*):iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}

StackName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
WaveName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")]


def _duration(value: Any) -> float:
    if isinstance(value, bool):
        raise invalid("not a duration", "write seconds (90) or a number with a unit: 90s, 15m, 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise invalid("not a duration", "write seconds (90) or a number with a unit: 90s, 15m, 1h")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if not 0 <= seconds <= MAX_BAKE_SECONDS:
        raise invalid(
            f"bake time must be between 0 and {MAX_BAKE_SECONDS // 3600}h",
            "shorten it; schedule longer pauses as separate rollouts",
        )
    return seconds


Duration = Annotated[
    float,
    BeforeValidator(_duration),
    WithJsonSchema({"oneOf": [{"type": "number"}, {"type": "string", "pattern": _DURATION.pattern}]}),
]
"""Seconds, as a number or a string with a unit (`90s`, `15m`, `1h`)."""


class StackTarget(SettingsModel):
    """One stack in a wave, and where its credentials come from."""

    stack: StackName
    """The stack name; `stacks/Pulumi.<stack>.yaml` must exist."""

    account_id: AwsAccountId
    """The account the stack deploys into; must match `stockade:aws.accountId` in its stack file.
    Credentials whose caller identity is any other account stop this stack."""

    region: AwsRegion
    """The stack's region; must match `aws:region` in its stack file."""

    role_arn: str
    """The IAM role to assume for this stack (`arn:aws:iam::<accountId>:role/<name>`), in the
    planned account."""

    external_id: Annotated[str, Field(min_length=2, max_length=1224, pattern=r"^[\w+=,.@:/-]+$")] | None = (
        None
    )
    """An STS external ID, when the role's trust policy requires one."""

    backend: Backend | None = None
    """This stack's state backend and secrets provider; overrides the plan's `backends` entry
    for its account."""

    @model_validator(mode="after")
    def _role_in_planned_account(self) -> StackTarget:
        match = _ROLE_ARN.match(self.role_arn)
        if not match:
            raise invalid(
                "not an IAM role ARN",
                f"use arn:aws:iam::{self.account_id}:role/<role-name>",
                field="roleArn",
            )
        if match.group(2) != self.account_id:
            raise invalid(
                f"the role is in account {match.group(2)}, not the planned account {self.account_id}",
                f"use a role in {self.account_id} (arn:aws:iam::{self.account_id}:role/<name>), "
                "or correct accountId",
                field="roleArn",
            )
        return self


class Wave(SettingsModel):
    """Stacks that may run side by side; the next wave starts only when this one succeeded."""

    name: WaveName
    """Shown in progress output and reports (e.g. `prod-canary`)."""

    stacks: list[StackTarget] = Field(min_length=1)
    """The stacks in this wave, started in this order."""

    max_concurrency: int | None = Field(default=None, ge=1, le=MAX_CONCURRENCY)
    """At most this many stacks of the wave at once (never more than the plan's maxConcurrency)."""

    failure_tolerance: int = Field(default=0, ge=0, le=10_000)
    """How many stacks may fail before the wave stops starting new ones and the rollout stops."""

    bake_time: Duration = 0.0
    """Pause after this wave succeeds, before the next wave starts (`up` and `destroy` only:
    previews and drift checks change nothing, so they have nothing to bake)."""


class RolloutPlan(SettingsModel):
    """`stacks/rollout.yaml`: ordered waves and the limits they run under."""

    max_concurrency: int = Field(default=4, ge=1, le=MAX_CONCURRENCY)
    """Overall cap on stacks running at once."""

    source_profile: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    """AWS profile whose credentials assume each stack's role (`--profile` overrides it);
    the default credential chain when unset."""

    session_duration_seconds: int = Field(default=3600, ge=900, le=43200)
    """Lifetime of each assumed-role session; a stack's operation must finish within it."""

    backends: dict[AwsAccountId, Backend] = Field(default_factory=dict)
    """Per account: the state backend and secrets provider its stacks use (`stockade bootstrap`
    prints the entry). A stack's own `backend` wins; a stack with neither uses the operator's
    `pulumi login` and the backend's default secrets provider."""

    waves: list[Wave] = Field(min_length=1)
    """Run in order: dev first, production last."""

    @model_validator(mode="after")
    def _each_stack_and_wave_once(self) -> RolloutPlan:
        seen_waves: dict[str, int] = {}
        for index, wave in enumerate(self.waves):
            if wave.name in seen_waves:
                raise invalid(
                    f"wave name already used by waves[{seen_waves[wave.name]}]",
                    "give every wave its own name",
                    field=f"waves.{index}.name",
                )
            seen_waves[wave.name] = index
        seen: dict[str, tuple[int, int]] = {}
        for w_index, wave in enumerate(self.waves):
            for s_index, target in enumerate(wave.stacks):
                if target.stack in seen:
                    first_wave, first_stack = seen[target.stack]
                    raise invalid(
                        f"stack already planned at waves[{first_wave}].stacks[{first_stack}]",
                        "list each stack in exactly one wave",
                        field=f"waves.{w_index}.stacks.{s_index}.stack",
                    )
                seen[target.stack] = (w_index, s_index)
                key = _alias_key_elsewhere(target, self.backend_for(target))
                if key is not None:
                    raise invalid(
                        f"the stack's backend key is in account {key}, but its backend sets no accountId "
                        f"(so it must be the stack's account {target.account_id})",
                        "set the backend's accountId to the key's account, "
                        "or use a key in the stack's account",
                        field=f"waves.{w_index}.stacks.{s_index}.backend",
                    )
        return self

    def backend_for(self, target: StackTarget) -> Backend | None:
        return target.backend or self.backends.get(target.account_id)

    def targets(self) -> Iterator[tuple[int, Wave, StackTarget]]:
        for index, wave in enumerate(self.waves):
            for target in wave.stacks:
                yield index, wave, target

    def effective_cap(self, wave: Wave) -> int:
        return min(self.max_concurrency, wave.max_concurrency or self.max_concurrency)

    def stack_names(self) -> list[str]:
        return [target.stack for _, _, target in self.targets()]


def _alias_key_elsewhere(target: StackTarget, backend: Backend | None) -> str | None:
    """The key's account when a backend without accountId names a key ARN in another account."""
    if backend is None or backend.account_id is not None or backend.secrets_provider is None:
        return None
    key = parse_awskms(backend.secrets_provider)
    if key is None or key.account_id in (None, target.account_id):
        return None
    return key.account_id


class PlanError(SettingsError):
    """Every problem in a rollout plan, reported together (exit code 2, like `validate`)."""

    def __init__(self, plan_path: Path, problems: list[ConfigProblem]) -> None:
        self.plan_path = plan_path
        super().__init__(str(plan_path), problems)

    def render(self) -> str:
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        body = "\n".join(f"  - {p.render()}" for p in self.problems)
        return f"rollout plan '{clean_text(str(self.plan_path))}' has {count} {noun}:\n{body}"


@dataclass(frozen=True)
class LoadedPlan:
    """A validated plan and where it came from."""

    plan: RolloutPlan
    path: Path
    project_dir: Path
    stacks_dir: Path


def stack_config_dir(project_dir: Path) -> Path:
    """Where the project keeps stack files (`stackConfigDir` in Pulumi.yaml, else the project root)."""
    try:
        project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        project = {}
    configured = project.get("stackConfigDir") if isinstance(project, dict) else None
    return project_dir / str(configured) if configured else project_dir


def load_plan(path: Path, project_dir: Path, *, stacks_dir: Path | None = None) -> LoadedPlan:
    """Read and validate a plan; raise `PlanError` listing every problem at once.

    `stacks_dir` replaces the project's stack directory when checking stack files. It exists
    for synthetic plans (tests, benchmarks) whose stacks live in a scratch directory; the
    Pulumi CLI itself always reads the project's `stackConfigDir`.
    """
    directory = stacks_dir if stacks_dir is not None else stack_config_dir(project_dir)
    document = _read_document(path)
    problems: list[ConfigProblem] = []
    plan: RolloutPlan | None = None
    try:
        plan = RolloutPlan.model_validate(document)
    except ValidationError as exc:
        problems.extend(_problem(error, document) for error in exc.errors())
        # pydantic skips plan-wide rules while any field is wrong; run them on the raw
        # entries so one report still lists duplicates next to the field errors.
        problems.extend(_duplicate_problems(document))
    problems.extend(_stack_file_problems(document, directory))
    if problems or plan is None:
        raise PlanError(path, sorted(set(problems)))
    return LoadedPlan(plan=plan, path=path, project_dir=project_dir, stacks_dir=directory)


def _raw_entries(document: dict[str, Any]) -> Iterator[tuple[int, int, Any]]:
    waves = document.get("waves")
    for w_index, wave in enumerate(waves if isinstance(waves, list) else []):
        stacks = wave.get("stacks") if isinstance(wave, dict) else None
        for s_index, entry in enumerate(stacks if isinstance(stacks, list) else []):
            yield w_index, s_index, entry


def _duplicate_problems(document: dict[str, Any]) -> Iterator[ConfigProblem]:
    waves = document.get("waves")
    names: dict[str, int] = {}
    for index, wave in enumerate(waves if isinstance(waves, list) else []):
        name = wave.get("name") if isinstance(wave, dict) else None
        if not isinstance(name, str):
            continue
        if name in names:
            yield ConfigProblem(
                f"waves[{index}].name",
                describe_value(name),
                f"wave name already used by waves[{names[name]}]",
                "give every wave its own name",
            )
        else:
            names[name] = index
    seen: dict[str, tuple[int, int]] = {}
    for w_index, s_index, entry in _raw_entries(document):
        name = entry.get("stack") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            continue
        if name in seen:
            yield ConfigProblem(
                f"waves[{w_index}].stacks[{s_index}].stack",
                describe_value(name),
                f"stack already planned at waves[{seen[name][0]}].stacks[{seen[name][1]}]",
                "list each stack in exactly one wave",
            )
        else:
            seen[name] = (w_index, s_index)


def _read_document(path: Path) -> dict[str, Any]:
    def fail(value: str, message: str, fix: str) -> PlanError:
        return PlanError(path, [ConfigProblem(str(path), value, message, fix)])

    try:
        document = read_yaml(path)
    except FileNotFoundError:
        raise fail(
            "(missing)", "no such plan file", "pass the path of a rollout plan, e.g. stacks/rollout.yaml"
        ) from None
    except OSError as exc:
        raise fail(
            "(unreadable)", f"cannot read the plan: {exc.strerror}", "check the path and permissions"
        ) from None
    except YamlInputError as exc:
        raise fail(exc.where, exc.message, exc.fix) from None
    if not isinstance(document, dict):
        shown = "(empty)" if document is None else "(a list)" if isinstance(document, list) else "(a value)"
        raise fail(shown, "a rollout plan is a YAML mapping", "start with `waves:`")
    return document


def _stack_file_problems(document: dict[str, Any], stacks_dir: Path) -> Iterator[ConfigProblem]:
    # Each field is taken on its own merits, so a typo in one key of an entry (already
    # reported field by field) never hides a disagreement on the others.
    for w_index, s_index, entry in _raw_entries(document):
        if not isinstance(entry, dict):
            continue
        stack = _valid_or_none(StackName, entry.get("stack"))
        if stack is None:
            continue
        account = _valid_or_none(AwsAccountId, entry.get("accountId"))
        region = _valid_or_none(AwsRegion, entry.get("region"))
        key = f"waves[{w_index}].stacks[{s_index}]"
        try:
            stack_file = _read_stack(stacks_dir, stack)
        except SettingsError as exc:
            for problem in exc.problems:
                yield ConfigProblem(f"{key}.stack", describe_value(stack), problem.message, problem.fix)
            continue
        yield from _agreement(key, account, region, stack_file)


def _valid_or_none(kind: Any, value: Any) -> Any:
    if value is None:
        return None
    try:
        return TypeAdapter(kind).validate_python(value)
    except ValidationError:
        return None


def _read_stack(stacks_dir: Path, stack: str) -> StackFile:
    # read_stack_file knows the project layout (<root>/stacks/Pulumi.<stack>.yaml) and reports
    # missing or malformed files in validate's words; any other directory is an override.
    if stacks_dir.name == "stacks":
        return read_stack_file(stacks_dir.parent, stack)
    path = stacks_dir / f"Pulumi.{stack}.yaml"
    try:
        document = read_yaml(path) or {}
    except (OSError, YamlInputError):
        raise SettingsError(
            stack, [ConfigProblem(str(path), "(unreadable)", "no readable stack file", f"create {path}")]
        ) from None
    config = document.get("config") if isinstance(document, dict) else None
    return StackFile(stack=stack, path=path, config=config if isinstance(config, dict) else {})


def _agreement(
    key: str, account: str | None, region: str | None, stack_file: StackFile
) -> Iterator[ConfigProblem]:
    aws_section = stack_file.config.get("stockade:aws")
    file_account = aws_section.get("accountId") if isinstance(aws_section, dict) else None
    file_region = stack_file.config.get(REGION_KEY)
    where = stack_file.path.name
    if account is None:
        pass  # missing or invalid in the plan: reported field by field
    elif file_account is None:
        yield ConfigProblem(
            f"{key}.accountId",
            describe_value(account),
            f"{where} sets no stockade:aws.accountId (is it an AWS stack?)",
            "roll out only AWS stacks, or set stockade:aws.accountId in the stack file",
        )
    elif str(file_account) != account:
        yield ConfigProblem(
            f"{key}.accountId",
            describe_value(account),
            f"{where} deploys into account {file_account}",
            "make the plan and the stack file agree on the account",
        )
    if region is None:
        pass
    elif file_region is None:
        yield ConfigProblem(
            f"{key}.region",
            describe_value(region),
            f"{where} sets no aws:region",
            "set aws:region in the stack file",
        )
    elif str(file_region) != region:
        yield ConfigProblem(
            f"{key}.region",
            describe_value(region),
            f"{where} deploys into region {file_region}",
            "make the plan and the stack file agree on the region",
        )


_SEE_DOCS = "see docs/rollouts.md"
_PLAN_FIXES = {"extra_forbidden": "remove it, or check its spelling against docs/rollouts.md"}


def _key(loc: tuple[str | int, ...]) -> str:
    text = ""
    for segment in loc:
        if isinstance(segment, int) or (isinstance(segment, str) and segment.isdigit()):
            text += f"[{segment}]"
        else:
            text += f".{segment}" if text else str(segment)
    return text or "(plan)"


def _lookup(data: Any, loc: tuple[str | int, ...]) -> Any:
    node = data
    for segment in loc:
        if isinstance(node, dict) and segment in node:
            node = node[segment]
        elif isinstance(node, list) and str(segment).isdigit() and int(segment) < len(node):
            node = node[int(segment)]
        else:
            return None
    return node


def _problem(error: Any, document: dict[str, Any]) -> ConfigProblem:
    loc: tuple[str | int, ...] = tuple(error["loc"])
    ctx = error.get("ctx") or {}
    if "field" in ctx:
        loc = (*loc, *str(ctx["field"]).split("."))
    message = str(error["msg"])
    fix = ctx.get("fix") or _PLAN_FIXES.get(error["type"]) or _GENERIC_FIXES.get(error["type"], _SEE_DOCS)
    key = _key(loc)
    value = _lookup(document, loc)
    # An unknown key may be a misplaced secret: its value is never shown.
    shown = MASK if error["type"] == "extra_forbidden" and value is not None else describe_value(value)
    return ConfigProblem(
        key=key,
        value=shown,
        message=sentence_case(message),
        fix=str(fix).replace("{key}", key),
    )
