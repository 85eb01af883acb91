"""Every problem in one pass: field errors, section rules and cross-section rules together."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from stockade.cli.app import app
from stockade.rollout.plan import PlanError, load_plan
from stockade.settings import SettingsError
from stockade.settings.load import validate

from .conftest import PROJECT_DIR

runner = CliRunner()
CIPHERTEXT = {"secure": "v1:NbctXl//cauiW66M:djE6YWJj433PDNu/F/xk4dALQWatcQ=="}

# A new user's first stack, as the walkthrough wrote it: nine field mistakes, plus
# what the old validator only found in rounds two (environmentKey, a route without its
# targetCidr) and three (workerImage, tunnel.token).
NEW_STACK = """\
config:
  aws:region: us-east-1
  stockade:target: aws
  stockade:environment: dev
  stockade:aws:
    accountId: "12345"
    logRetentionDays: 45
  stockade:network:
    cidr: 10.0.0.0/33
    availabilityZones: 9
    egress:
      mode: closed
  stockade:sandboxes:
    environmentId: env_01Example
    sessionImage: registry.example.com/session@sha256:DIGEST
    maxConcurrentSessions: 0
    resources:
      cpu: 999
  stockade:tunnel:
    enabled: true
    tunnelDomain: abcd.tunnel.anthropic.com
    replicas: two
    routes:
      wiki:
        upstream: http://wiki.corp.internal:8080
  stockade:tags:
    team: [platform]
""".replace("DIGEST", "a" * 64)

ROUND_ONE = {
    "stockade:aws.accountId",
    "stockade:aws.logRetentionDays",
    "stockade:network.cidr",
    "stockade:network.availabilityZones",
    "stockade:network.egress.mode",
    "stockade:sandboxes.maxConcurrentSessions",
    "stockade:sandboxes.resources.cpu",
    "stockade:tunnel.replicas",
    "stockade:tags.team",
}
ROUND_TWO = {"stockade:sandboxes.environmentKey", "stockade:tunnel.routes.wiki.targetCidr"}
ROUND_THREE = {"stockade:sandboxes.workerImage", "stockade:tunnel.token"}


def _write(tmp_path: Path, name: str, body: str) -> None:
    (tmp_path / "stacks").mkdir(exist_ok=True)
    (tmp_path / "Pulumi.yaml").write_text("name: stockade\nruntime: python\nstackConfigDir: stacks\n")
    (tmp_path / "stacks" / f"Pulumi.{name}.yaml").write_text(body, encoding="utf-8")


def _problems(config: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(SettingsError) as caught:
        validate("t", config)
    return {p.key: p for p in caught.value.problems}


def test_the_new_stack_walkthrough_reports_all_three_rounds_at_once(tmp_path: Path) -> None:
    _write(tmp_path, "new", NEW_STACK)
    result = runner.invoke(
        app, ["validate", "--stack", "new", "--project-dir", str(tmp_path), "--format", "json"]
    )
    assert result.exit_code == 2, result.output
    keys = {p["key"] for p in json.loads(result.stdout)["problems"]}
    missing = (ROUND_ONE | ROUND_TWO | ROUND_THREE) - keys
    assert not missing, sorted(keys)
    assert "Traceback" not in result.output


def _prod(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "aws:region": "us-east-1",
        "stockade:target": "aws",
        "stockade:environment": "prod",
        "stockade:aws": {"accountId": "123456789012"},
        "stockade:network": {"availabilityZones": 1},
        "stockade:sandboxes": {
            "mode": "pool",
            "environmentId": "env_01Example",
            "environmentKey": CIPHERTEXT,
            "workerImage": "registry.example.com/worker@sha256:" + "a" * 64,
        },
        "stockade:tunnel": {
            "enabled": True,
            "replicas": 1,
            "routes": {"wiki.example.com": "http://10.1.2.3:8080"},
            "token": CIPHERTEXT,
        },
    }
    config.update(overrides)
    return config


def test_a_bad_cidr_no_longer_hides_the_prod_availability_rules() -> None:
    config = _prod()
    config["stockade:network"] = {"availabilityZones": 1, "cidr": "10.40.0.0/99"}
    problems = _problems(config)
    assert "not a valid IPv4 CIDR" in problems["stockade:network.cidr"].message
    assert "at least 2 availability zones" in problems["stockade:network.availabilityZones"].message
    assert "at least 2 replicas" in problems["stockade:tunnel.replicas"].message


def test_a_rule_whose_input_is_invalid_says_so_and_hides_nothing_else() -> None:
    config = _prod()
    config["stockade:tunnel"] = {**config["stockade:tunnel"], "replicas": "one"}
    problems = _problems(config)
    replicas = problems["stockade:tunnel.replicas"]
    assert "valid integer" in replicas.message
    assert "check it once it is valid" in replicas.message  # the prod replica rule reads it
    assert "at least 2 availability zones" in problems["stockade:network.availabilityZones"].message


def test_an_invalid_target_still_runs_every_section_rule_and_says_what_was_skipped() -> None:
    config = _prod(**{"stockade:target": "gcp"})
    config["stockade:sandboxes"] = {"mode": "pool", "environmentId": "env_01Example"}
    problems = _problems(config)
    assert (
        "one of" in problems["stockade:target"].message
        or "not checked" in problems["stockade:target"].message
    )
    rendered = " ".join(p.message for p in problems.values())
    assert "not checked" in rendered and "stockade:target" in rendered
    assert "environment key" in problems["stockade:sandboxes.environmentKey"].message
    assert "workers' image" in problems["stockade:sandboxes.workerImage"].message


def test_section_rules_report_together_not_first_only() -> None:
    config = _prod()
    config["stockade:tunnel"] = {
        "enabled": True,
        "routes": {"wiki": "http://10.1.2.3:8080", "Bad_Name": "http://10.1.2.4:8080"},
        "allowedIps": ["10.9.0.0/16"],
        "disableIpValidation": True,
    }
    problems = _problems(config)
    for key in (
        "stockade:tunnel.routes.Bad_Name",
        "stockade:tunnel.tunnelDomain",
        "stockade:tunnel.disableIpValidation",
        "stockade:tunnel.allowedIps",
        "stockade:tunnel.token",
    ):
        assert key in problems, sorted(problems)


def test_a_valid_stack_still_validates() -> None:
    settings = validate("t", _prod(**{"stockade:network": {"availabilityZones": 2}}) | _two_replicas())
    assert settings.tunnel.replicas == 2


def _two_replicas() -> dict[str, Any]:
    tunnel = copy.deepcopy(_prod()["stockade:tunnel"])
    tunnel["replicas"] = 2
    return {"stockade:tunnel": tunnel}


def _plan(tmp_path: Path, document: dict[str, Any]) -> dict[str, Any]:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(PlanError) as caught:
        load_plan(path, PROJECT_DIR)
    return {p.key: p for p in caught.value.problems}


def test_a_key_typo_in_a_rollout_entry_no_longer_hides_its_region_and_account(tmp_path: Path) -> None:
    document = yaml.safe_load((PROJECT_DIR / "stacks" / "rollout.yaml").read_text(encoding="utf-8"))
    entry = document["waves"][0]["stacks"][0]  # dev: 111111111111 in us-east-2
    entry["region"] = "eu-west-1"
    entry["roleArnn"] = entry.pop("roleArn")
    second = document["waves"][1]["stacks"][0]
    second["acountId"] = second.pop("accountId")
    second["region"] = "ap-south-1"
    problems = _plan(tmp_path, document)
    assert "waves[0].stacks[0].roleArnn" in problems
    assert "deploys into region" in problems["waves[0].stacks[0].region"].message
    assert "waves[1].stacks[0].acountId" in problems
    assert "deploys into region" in problems["waves[1].stacks[0].region"].message


# --- rules inside one section report every broken one, too -------------------------------------


def _problems_of(config: dict[str, Any]) -> list[Any]:
    with pytest.raises(SettingsError) as caught:
        validate("t", config)
    return list(caught.value.problems)


def test_a_route_reports_a_special_target_and_an_upstream_outside_it_together() -> None:
    config = {
        "aws:region": "us-east-1",
        "stockade:target": "aws",
        "stockade:environment": "dev",
        "stockade:aws": {"accountId": "123456789012"},
        "stockade:tunnel": {
            "enabled": True,
            "tunnelDomain": "abcd.tunnel.anthropic.com",
            "token": CIPHERTEXT,
            "routes": {"wiki": {"upstream": "https://10.9.9.9:8443", "targetCidr": "169.254.169.0/24"}},
        },
    }
    route = [p for p in _problems_of(config) if p.key == "stockade:tunnel.routes.wiki.targetCidr"]
    messages = " | ".join(p.message for p in route)
    assert "169.254.0.0/16" in messages  # the special range
    assert "the upstream 10.9.9.9 is outside its targetCidr" in messages  # and the mismatch


def test_duplicate_vercel_variable_names_are_each_named() -> None:
    from stockade.settings.base import DEFER_RULES
    from stockade.settings.provider_vercel import VercelEnvNames

    names = VercelEnvNames.model_validate(
        {"environmentKey": "SHARED", "sandboxImage": "SHARED", "webhookSigningKey": "SHARED"},
        context={DEFER_RULES: True},
    )
    problems = list(names.rule_errors())
    assert len(problems) == 2
    text = " ".join(str(p) for p in problems)
    assert "sandboxImage and environmentKey are both SHARED" in text
    assert "webhookSigningKey and environmentKey are both SHARED" in text
