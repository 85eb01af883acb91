"""The rollout plan: the example validates, and every mistake is reported in validate's words."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from stockade.cli.app import app
from stockade.rollout.plan import PlanError, RolloutPlan, load_plan

from .conftest import PROJECT_DIR
from .standin.project import WaveSpec, plan_document, write_stack_files

EXAMPLE = PROJECT_DIR / "stacks" / "rollout.yaml"


def _example() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))


def _problems(tmp_path: Path, document: Any) -> dict[str, tuple[str, str, str]]:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(document) if not isinstance(document, str) else document, encoding="utf-8")
    with pytest.raises(PlanError) as caught:
        load_plan(path, PROJECT_DIR)
    return {p.key: (p.value, p.message, p.fix) for p in caught.value.problems}


def test_example_plan_covers_the_example_stacks_in_order() -> None:
    loaded = load_plan(EXAMPLE, PROJECT_DIR)
    plan = loaded.plan
    assert [w.name for w in plan.waves] == ["dev", "staging", "prod-canary", "prod"]
    assert plan.stack_names() == ["dev", "staging", "prod-use1", "prod-euw1"]
    canary = plan.waves[2]
    assert plan.effective_cap(canary) == 1 and canary.failure_tolerance == 0 and canary.bake_time == 3600
    assert plan.waves[1].bake_time == 600
    for _, _, target in plan.targets():
        stack_file = yaml.safe_load((PROJECT_DIR / "stacks" / f"Pulumi.{target.stack}.yaml").read_text())
        assert stack_file["config"]["stockade:aws"]["accountId"] == target.account_id
        assert stack_file["config"]["aws:region"] == target.region
        assert f"::{target.account_id}:role/" in target.role_arn


def _mutate(path: list[Any], value: Any) -> dict[str, Any]:
    document = copy.deepcopy(_example())
    node = document
    for segment in path[:-1]:
        node = node[segment]
    node[path[-1]] = value
    return document


@pytest.mark.parametrize(
    ("path", "value", "key", "message"),
    [
        (
            ["waves", 0, "stacks", 0, "region"],
            "eu-west-1",
            "waves[0].stacks[0].region",
            "Pulumi.dev.yaml deploys into region us-east-2",
        ),
        (["waves", 1, "stacks", 0, "stack"], "nope", "waves[1].stacks[0].stack", "no such stack file"),
        (
            ["waves", 3, "stacks", 0, "stack"],
            "dev",
            "waves[3].stacks[0].stack",
            "stack already planned at waves[0].stacks[0]",
        ),
        (
            ["waves", 0, "stacks", 0, "roleArn"],
            "arn:aws:iam::222222222222:role/stockade-deployer",
            "waves[0].stacks[0].roleArn",
            "the role is in account 222222222222, not the planned account 111111111111",
        ),
        (
            ["waves", 0, "stacks", 0, "roleArn"],
            "arn:aws:iam::111111111111:user/deployer",
            "waves[0].stacks[0].roleArn",
            "not an IAM role ARN",
        ),
        (
            ["waves", 0, "stacks", 0, "accountId"],
            11111111111,
            "waves[0].stacks[0].accountId",
            "not a 12-digit AWS account ID",
        ),
        (["maxConcurrency"], 0, "maxConcurrency", "input should be greater than or equal to 1"),
        (
            ["waves", 2, "maxConcurrency"],
            0,
            "waves[2].maxConcurrency",
            "input should be greater than or equal to 1",
        ),
        (
            ["waves", 2, "failureTolerance"],
            -1,
            "waves[2].failureTolerance",
            "input should be greater than or equal to 0",
        ),
        (["waves", 1, "bakeTime"], "7h", "waves[1].bakeTime", "bake time must be between 0 and 6h"),
        (["waves", 1, "bakeTime"], "soon", "waves[1].bakeTime", "not a duration"),
        (["waves", 1, "name"], "dev", "waves[1].name", "wave name already used by waves[0]"),
        (
            ["waves", 0, "stacks", 0, "stack"],
            "local",
            "waves[0].stacks[0].accountId",
            "Pulumi.local.yaml sets no stockade:aws.accountId (is it an AWS stack?)",
        ),
        (
            ["waves", 0, "stacks"],
            [],
            "waves[0].stacks",
            "list should have at least 1 item after validation, not 0",
        ),
        (["maxConcurency"], 3, "maxConcurency", "extra inputs are not permitted"),
        (
            ["sessionDurationSeconds"],
            60,
            "sessionDurationSeconds",
            "input should be greater than or equal to 900",
        ),
    ],
)
def test_plan_mistakes_name_the_key_the_value_and_a_fix(tmp_path: Path, path, value, key, message) -> None:
    problems = _problems(tmp_path, _mutate(path, value))
    assert key in problems, problems
    reported_value, reported_message, fix = problems[key]
    assert reported_message == message
    assert fix and reported_value


def test_account_disagreement_with_the_stack_file_is_a_plan_error(tmp_path: Path) -> None:
    document = _mutate(["waves", 0, "stacks", 0, "accountId"], "999999999999")
    document["waves"][0]["stacks"][0]["roleArn"] = "arn:aws:iam::999999999999:role/stockade-deployer"
    value, message, fix = _problems(tmp_path, document)["waves[0].stacks[0].accountId"]
    assert value == "'999999999999'"
    assert message == "Pulumi.dev.yaml deploys into account 111111111111"
    assert "agree" in fix


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    document = _mutate(["maxConcurrency"], 0)
    document["waves"][1]["stacks"][0]["region"] = "eu-west-1"
    document["waves"][3]["stacks"][0]["stack"] = "dev"
    problems = _problems(tmp_path, document)
    assert {"maxConcurrency", "waves[1].stacks[0].region", "waves[3].stacks[0].stack"} <= set(problems)


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("waves: [\n", None, "not valid YAML"),
        ("- just a list\n", None, "a rollout plan is a YAML mapping"),
        ("{}\n", "waves", "field required"),
    ],
)
def test_unreadable_plans(tmp_path: Path, text: str, key: str | None, message: str) -> None:
    problems = _problems(tmp_path, text)
    matching = [p for k, p in problems.items() if key is None or k == key]
    assert any(m == message for _, m, _ in matching), problems


def test_missing_plan_file(tmp_path: Path) -> None:
    with pytest.raises(PlanError) as caught:
        load_plan(tmp_path / "absent.yaml", PROJECT_DIR)
    assert caught.value.problems[0].message == "no such plan file"


@pytest.mark.parametrize(
    ("written", "seconds"),
    [(90, 90.0), ("90s", 90.0), ("15m", 900.0), ("1h", 3600.0), ("0.5", 0.5), ("250ms", 0.25)],
)
def test_bake_time_accepts_seconds_or_units(written: object, seconds: float) -> None:
    document = _mutate(["waves", 0, "bakeTime"], written)
    assert RolloutPlan.model_validate(document).waves[0].bake_time == seconds


def test_stacks_dir_override_checks_synthetic_stacks(tmp_path: Path) -> None:
    document = plan_document([WaveSpec("w", [f"synthetic-{i}" for i in range(3)])])
    write_stack_files(tmp_path / "generated", document)
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    loaded = load_plan(path, PROJECT_DIR, stacks_dir=tmp_path / "generated")
    assert loaded.plan.stack_names() == ["synthetic-0", "synthetic-1", "synthetic-2"]
    with pytest.raises(PlanError) as caught:
        load_plan(path, PROJECT_DIR)  # the project's own stacks/ has no such stacks
    assert {p.key for p in caught.value.problems} == {f"waves[0].stacks[{i}].stack" for i in range(3)}


def test_cli_reports_a_bad_plan_with_exit_2_and_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(
        yaml.safe_dump(_mutate(["waves", 0, "stacks", 0, "region"], "eu-west-1")), encoding="utf-8"
    )
    result = CliRunner().invoke(app, ["rollout", str(path), "--project-dir", str(PROJECT_DIR)])
    assert result.exit_code == 2
    assert "waves[0].stacks[0].region = 'eu-west-1'" in result.output
    assert "fix: make the plan and the stack file agree on the region" in result.output
    assert "Traceback" not in result.output
