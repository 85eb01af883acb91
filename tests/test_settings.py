"""The settings model: safe defaults, clear problems, secrets never in clear, generated docs in sync."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from stockade.cli.app import app
from stockade.settings import SettingsError
from stockade.settings.load import settings_from_engine, validate
from stockade.settings.reference import drifted
from stockade.settings.secrets import PulumiSecret, SecretReference

from .conftest import EXAMPLE_STACKS, PROJECT_DIR

runner = CliRunner()
POOL_SANDBOXES = {
    "mode": "pool",
    "environmentId": "env_01Example",
    "environmentKey": "arn:aws:secretsmanager:us-east-1:123456789012:secret:stockade/env-key-AbCdEf",
    "workerImage": "registry.example.com/worker@sha256:" + "a" * 64,
}
BASE = {
    "aws:region": "us-east-1",
    "stockade:target": "aws",
    "stockade:environment": "dev",
    "stockade:aws": {"accountId": "123456789012"},
    "stockade:sandboxes": POOL_SANDBOXES,
}


def _problems(config: dict[str, object]) -> dict[str, str]:
    with pytest.raises(SettingsError) as caught:
        validate("t", config)
    return {p.key: p.message for p in caught.value.problems}


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_example_stacks_validate(stack: str) -> None:
    result = runner.invoke(app, ["validate", "--stack", stack, "--project-dir", str(PROJECT_DIR)])
    assert result.exit_code == 0, result.output


def _write_stack(tmp_path: Path, name: str, body: str) -> Path:
    (tmp_path / "stacks").mkdir(exist_ok=True)
    (tmp_path / "Pulumi.yaml").write_text("name: stockade\nruntime: python\nstackConfigDir: stacks\n")
    path = tmp_path / "stacks" / f"Pulumi.{name}.yaml"
    path.write_text(body)
    return path


def test_three_mistakes_are_all_reported_with_exit_2(tmp_path: Path) -> None:
    _write_stack(
        tmp_path,
        "broken",
        """config:
  aws:region: us-east-1
  stockade:target: aws
  stockade:environment: dev
  stockade:aws:
    accountId: "123456789012"
  stockade:network:
    cidr: 10.0.0.0/33
  stockade:sandboxes:
    environmentId: env_01Example
    environmentKey: sk-ant-oat01-plaintext-oops
    sessionImage: registry.example.com/session:1
    resources:
      cpu: 999
""",
    )
    result = runner.invoke(
        app, ["validate", "--stack", "broken", "--project-dir", str(tmp_path), "--format", "json"]
    )
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    keys = {p["key"] for p in report["problems"]}
    assert keys == {
        "stockade:network.cidr",
        "stockade:sandboxes.environmentKey",
        "stockade:sandboxes.resources.cpu",
        "stockade:sandboxes.workerImage",  # found in the same pass, not a second round
    }
    assert all(p["fix"] for p in report["problems"])
    assert "plaintext-oops" not in result.output
    masked = next(p for p in report["problems"] if p["key"].endswith("environmentKey"))
    assert masked["value"] == "[secret]"


def test_text_report_names_key_value_and_fix(tmp_path: Path) -> None:
    _write_stack(tmp_path, "b", "config:\n  stockade:target: gcp\n  stockade:environment: dev\n")
    result = runner.invoke(app, ["validate", "--stack", "b", "--project-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "stockade:target = 'gcp'" in result.output
    assert "fix:" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("config: [1, 2\n", "not valid YAML"),
        ("- just\n- a list\n", "a stack file is a YAML mapping"),
        ("config: 3\n", "`config:` must be a mapping"),
    ],
)
def test_malformed_stack_files_get_clear_errors(tmp_path: Path, body: str, expected: str) -> None:
    _write_stack(tmp_path, "m", body)
    for command in ("validate", "synth"):
        result = runner.invoke(app, [command, "--stack", "m", "--project-dir", str(tmp_path)])
        assert result.exit_code == 2, (command, result.output)
        assert expected in result.output
        assert "Traceback" not in result.output


def test_missing_stack_file_lists_known_stacks() -> None:
    result = runner.invoke(app, ["validate", "--stack", "nope", "--project-dir", str(PROJECT_DIR)])
    assert result.exit_code == 2
    assert "no such stack file" in result.output
    assert "prod-use1" in result.output


def test_prod_rules_need_two_azs_and_two_tunnel_replicas() -> None:
    problems = _problems(
        {
            **BASE,
            "stockade:environment": "prod",
            "stockade:network": {"availabilityZones": 1},
            "stockade:tunnel": {
                "enabled": True,
                "replicas": 1,
                "routes": {"wiki.example.com": "http://10.1.2.3:8080"},
                "token": {"secure": "v1:NbctXl//cauiW66M:djE6YWJj433PDNu/F/xk4dALQWatcQ=="},
            },
        }
    )
    assert "stockade:network.availabilityZones" in problems
    assert "stockade:tunnel.replicas" in problems


def test_aws_target_needs_region_and_account() -> None:
    config = {k: v for k, v in BASE.items() if k not in ("aws:region", "stockade:aws")}
    problems = _problems(config)
    assert set(problems) == {"aws:region", "stockade:aws"}


def test_unknown_keys_are_errors_not_ignored() -> None:
    problems = _problems({**BASE, "stockade:network": {"egres": {"mode": "open"}}})
    assert "stockade:network.egres" in problems


def test_secret_reference_must_be_a_secrets_manager_arn() -> None:
    problems = _problems(
        {
            **BASE,
            "stockade:sandboxes": {
                "provider": "self-hosted",
                "mode": "pool",
                "environmentId": "env_01Example",
                "environmentKey": "arn:aws:s3:::not-a-secret",
            },
        }
    )
    assert "not a Secrets Manager secret ARN" in problems["stockade:sandboxes.environmentKey"]


def test_runtime_config_wraps_secrets_and_accepts_references() -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:stockade/env-key-AbCdEf"
    sandboxes = {
        "provider": "self-hosted",
        "mode": "pool",
        "environmentId": "env_01Example",
        "workerImage": "registry.example.com/worker:1",
    }
    engine = {
        "aws:region": "us-east-1",
        "stockade:target": "aws",
        "stockade:environment": "dev",
        "stockade:aws": json.dumps({"accountId": "123456789012"}),
        "stockade:sandboxes": json.dumps({**sandboxes, "environmentKey": "sk-ant-oat01-decrypted"}),
    }
    settings = settings_from_engine("t", engine, {"stockade:sandboxes"})
    key = settings.sandboxes.environment_key
    assert isinstance(key, PulumiSecret) and key.value == "sk-ant-oat01-decrypted"
    assert "decrypted" not in repr(settings)

    engine["stockade:sandboxes"] = json.dumps({**sandboxes, "environmentKey": arn})
    settings = settings_from_engine("t", engine, set())
    assert settings.sandboxes.environment_key == SecretReference(arn)


def test_runtime_plaintext_secret_in_a_non_secret_key_is_refused() -> None:
    engine = {
        "aws:region": "us-east-1",
        "stockade:target": "aws",
        "stockade:environment": "dev",
        "stockade:aws": json.dumps({"accountId": "123456789012"}),
        "stockade:sandboxes": json.dumps(
            {"mode": "pool", "environmentId": "env_01Example", "environmentKey": "sk-ant-oat01-clear"}
        ),
    }
    with pytest.raises(SettingsError, match="plaintext secret"):
        settings_from_engine("t", engine, set())


@given(
    st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)),
    st.integers(0, 40),
)
def test_cidr_validation_accepts_exactly_network_addresses(octets: tuple[int, ...], prefix: int) -> None:
    import ipaddress

    text = ".".join(map(str, octets)) + f"/{prefix}"
    config = {**BASE, "stockade:network": {"egress": {"allowedCidrs": [text]}}}
    try:
        ipaddress.IPv4Network(text, strict=True)
        expected_ok = True
    except ValueError:
        expected_ok = False
    try:
        validate("t", config)
        ok = True
    except SettingsError as exc:
        ok = False
        assert "stockade:network.egress.allowedCidrs[0]" in {p.key for p in exc.problems}
    assert ok == expected_ok


def test_weakenings_are_reported() -> None:
    settings = validate(
        "t",
        {**BASE, "stockade:network": {"egress": {"mode": "open"}, "flowLogs": {"enabled": False}}},
    )
    text = " ".join(settings.weakenings())
    assert "egress.mode is 'open'" in text
    assert "flowLogs.enabled is false" in text


def test_generated_config_docs_match_the_model() -> None:
    stale = drifted(PROJECT_DIR)
    assert not stale, f"run `stockade config-docs --write`: {stale}"
