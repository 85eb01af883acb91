"""Every example stack passes every mandatory rule, and `stockade policy` reports it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from stockade.cli.app import app
from stockade.engine import SynthResult
from stockade.guardrails.offline import evaluate_synth
from stockade.guardrails.pack import policy_config
from stockade.settings import StackSettings
from stockade.settings.load import read_stack_file, settings_from_stack_file

from .conftest import EXAMPLE_STACKS, PROJECT_DIR


def _settings(stack: str) -> StackSettings:
    return settings_from_stack_file(read_stack_file(PROJECT_DIR, stack))


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_example_stack_passes_every_mandatory_rule(
    stack: str, synth_stack: Callable[[str], SynthResult]
) -> None:
    report = evaluate_synth(synth_stack(stack), _settings(stack))
    blocking = [f"{f.rule}: {f.resource}: {f.message}" for f in report.findings if f.blocking]
    assert blocking == []
    assert report.resources == len(synth_stack(stack).resources)


def test_policy_cli_passes_prod_use1() -> None:
    result = CliRunner().invoke(app, ["policy", "--stack", "prod-use1", "--project-dir", str(PROJECT_DIR)])
    assert result.exit_code == 0, result.output
    assert "policy PASSED" in result.output
    assert "no-ingress" in result.output


def test_policy_cli_json_lists_every_rule() -> None:
    result = CliRunner().invoke(
        app, ["policy", "--stack", "prod-use1", "--project-dir", str(PROJECT_DIR), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["passed"] is True and report["stack"] == "prod-use1"
    assert {r["rule"] for r in report["rules"]} >= {
        "no-ingress",
        "egress-declared-only",
        "tunnel-allowed-ips",
    }


def test_emit_config_is_the_config_the_settings_imply() -> None:
    result = CliRunner().invoke(
        app, ["policy", "--stack", "prod-use1", "--project-dir", str(PROJECT_DIR), "--emit-config"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == policy_config(_settings("prod-use1"))


VIOLATING_PROGRAM = """
import pulumi_aws as aws

tags = {"stockade:stack": "bad", "stockade:environment": "dev"}
aws.kms.Key("key", enable_key_rotation=False, tags=tags)
aws.cloudwatch.LogGroup("logs", retention_in_days=30, tags=tags)
"""


def _project(tmp_path: Path, program: str) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: stockade\nruntime: python\nstackConfigDir: stacks\n")
    (tmp_path / "__main__.py").write_text(program)
    (tmp_path / "stacks").mkdir()
    config = {
        "config": {
            "aws:region": "us-east-1",
            "stockade:target": "aws",
            "stockade:environment": "dev",
            "stockade:aws": {"accountId": "123456789012"},
            "stockade:sandboxes": dict(read_stack_file(PROJECT_DIR, "dev").config["stockade:sandboxes"]),
        }
    }
    (tmp_path / "stacks" / "Pulumi.bad.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def test_policy_cli_exits_3_on_a_mandatory_violation(tmp_path: Path) -> None:
    project = _project(tmp_path, VIOLATING_PROGRAM)
    result = CliRunner().invoke(
        app, ["policy", "--stack", "bad", "--project-dir", str(project), "--format", "json"]
    )
    assert result.exit_code == 3, result.output
    report = json.loads(result.output)
    rules = {v["rule"] for v in report["violations"]}
    assert rules == {"kms-key-rotation", "kms-encryption-at-rest"}
    table = CliRunner().invoke(app, ["policy", "--stack", "bad", "--project-dir", str(project)])
    assert table.exit_code == 3
    assert "fix kms-key-rotation:" in table.output and "policy FAILED" in table.output
