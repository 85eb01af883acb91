"""Hostile input: YAML tricks, pasted credentials, values AWS would reject, and what reports print."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from stockade.cli.app import app
from stockade.engine import synthesize_config
from stockade.settings import SettingsError
from stockade.settings.load import read_stack_file, settings_from_engine, validate
from stockade.settings.problems import MASK, ConfigProblem, describe_value
from stockade.settings.secrets import looks_like_ciphertext
from stockade.settings.stack import StackSettings
from stockade.settings.yaml_input import MAX_DEPTH, MAX_FILE_BYTES, YamlInputError, parse_yaml

runner = CliRunner()
CIPHERTEXT = "v1:NbctXl//cauiW66M:djE6YWJj433PDNu/F/xk4dALQWatcQ=="
BASE: dict[str, Any] = {
    "aws:region": "us-east-1",
    "stockade:target": "aws",
    "stockade:environment": "dev",
    "stockade:aws": {"accountId": "123456789012"},
    "stockade:sandboxes": {
        "mode": "pool",
        "environmentId": "env_01Example",
        "environmentKey": {"secure": CIPHERTEXT},
        "workerImage": "registry.example.com/worker@sha256:" + "a" * 64,
    },
}
TUNNEL: dict[str, Any] = {
    "enabled": True,
    "routes": {"wiki.example.com": "http://10.1.2.3:8080"},
    "token": {"secure": CIPHERTEXT},
}
# Canaries in each credential format the issue names (shaped like real ones, not real).
CREDENTIALS = {
    "anthropic": "sk-ant-api03-CANARYcanaryCANARYcanary0123456789",
    "webhook": "whsec_CANARYcanaryCANARYcanary0123456789",
    "aws": "AKIAQCANARYEXAMPLE7Q",
    "github": "ghp_CANARYcanaryCANARYcanaryCANARY012345",
    "slack": "xoxb-1234567890-CANARYcanary",
    "pem": "-----BEGIN RSA PRIVATE KEY-----\nMIICANARY\n-----END RSA PRIVATE KEY-----",
}


def _with(**sections: Any) -> dict[str, Any]:
    config = json.loads(json.dumps(BASE))
    config.update({f"stockade:{k}" if ":" not in k else k: v for k, v in sections.items()})
    return config


def _problems(config: dict[str, Any]) -> tuple[dict[str, ConfigProblem], str]:
    with pytest.raises(SettingsError) as caught:
        validate("t", config)
    return {p.key: p for p in caught.value.problems}, caught.value.render()


def _stack(tmp_path: Path, body: str | bytes, name: str = "x") -> Path:
    (tmp_path / "stacks").mkdir(exist_ok=True)
    (tmp_path / "Pulumi.yaml").write_text("name: stockade\nruntime: python\nstackConfigDir: stacks\n")
    path = tmp_path / "stacks" / f"Pulumi.{name}.yaml"
    path.write_bytes(body if isinstance(body, bytes) else body.encode())
    return path


def _file_problem(tmp_path: Path, body: str | bytes) -> ConfigProblem:
    _stack(tmp_path, body)
    with pytest.raises(SettingsError) as caught:
        read_stack_file(tmp_path, "x")
    [problem] = caught.value.problems
    return problem


# --- Hostile YAML ---------------------------------------------------------------------------


def test_an_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    body = (
        "anchors:\n" + "".join(f"  {line}\n" for line in lines) + "config:\n  stockade:tags:\n    bomb: *a8\n"
    )
    started = time.monotonic()
    problem = _file_problem(tmp_path, body)
    assert time.monotonic() - started < 5
    assert "expands to more than" in problem.message


@pytest.mark.parametrize(
    "body",
    [
        "config:\n  stockade:tags: &x {loop: *x}\n",
        "config:\n  stockade:network:\n    egress:\n      allowedDomains: &d [a.example, *d]\n",
        "anchors: &w [*w]\nconfig: {}\n",
    ],
)
def test_a_recursive_alias_is_refused_quickly(tmp_path: Path, body: str) -> None:
    started = time.monotonic()
    problem = _file_problem(tmp_path, body)
    assert time.monotonic() - started < 5
    assert "recursive alias" in problem.message


def test_a_file_over_the_size_cap_is_refused(tmp_path: Path) -> None:
    problem = _file_problem(tmp_path, "config:\n  x: " + "a" * (MAX_FILE_BYTES + 10) + "\n")
    assert "too large" in problem.message


def test_duplicate_keys_are_refused_with_both_lines(tmp_path: Path) -> None:
    problem = _file_problem(tmp_path, "config:\n  stockade:target: aws\n  stockade:target: docker\n")
    assert problem.value == "line 3, column 3" and "already set on line 2" in problem.message


def test_non_utf8_bytes_are_refused_with_the_line(tmp_path: Path) -> None:
    problem = _file_problem(tmp_path, b"config:\n  stockade:target: aws\n  x: \xff\xfe\n")
    assert problem.value.startswith("line 3") and "not UTF-8" in problem.message


def test_binary_control_characters_are_refused_with_the_line(tmp_path: Path) -> None:
    problem = _file_problem(tmp_path, "config:\n  x: a\x00b\n")
    assert problem.value == "line 2" and "control character" in problem.message


@pytest.mark.parametrize("opener", ["[", "{a: "])
def test_nesting_thousands_deep_is_refused(tmp_path: Path, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    problem = _file_problem(tmp_path, "config: " + opener * 5000 + "1" + closer * 5000 + "\n")
    assert f"more than {MAX_DEPTH} levels" in problem.message


@pytest.mark.parametrize(("body", "shown"), [("- a\n- b\n", "(a list)"), ("just text\n", "(text)")])
def test_a_document_that_is_not_a_mapping_is_refused(tmp_path: Path, body: str, shown: str) -> None:
    problem = _file_problem(tmp_path, body)
    assert problem.value == shown and "mapping" in problem.message


def test_a_non_mapping_config_section_is_refused(tmp_path: Path) -> None:
    problem = _file_problem(tmp_path, "config: [1, 2]\n")
    assert "`config:` must be a mapping" in problem.message


def test_complex_mapping_keys_are_refused() -> None:
    with pytest.raises(YamlInputError, match="plain value"):
        parse_yaml("? [a, b]\n: c\n")


@pytest.mark.parametrize(
    "stack", ["x/../../etc/passwd", "../stacks/dev", "..", "a" * 5000, "dev\x00", "/etc/x"]
)
def test_stack_names_that_are_not_names_are_refused_cleanly(tmp_path: Path, stack: str) -> None:
    outside = tmp_path / "etc"
    outside.mkdir()
    (outside / "Pulumi.passwd.yaml").write_text("config: {stockade:target: aws}\n")
    _stack(tmp_path, "config: {}\n", "dev")
    result = runner.invoke(app, ["validate", "--stack", stack, "--project-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "not a stack name" in result.output
    assert len(result.output) < 2000


# --- Secrets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        CIPHERTEXT,  # passphrase provider: v1:<nonce>:<ciphertext>
        base64.b64encode(bytes(range(1, 185))).decode(),  # an awskms ciphertext blob, no prefix
        base64.b64encode(b"\x00\x00\x01\x00" + bytes(range(40))).decode(),  # Pulumi Cloud service
    ],
)
def test_real_ciphertext_shapes_are_accepted(text: str) -> None:
    assert looks_like_ciphertext(text)
    validate("t", _with(sandboxes={**BASE["stockade:sandboxes"], "environmentKey": {"secure": text}}))


@pytest.mark.parametrize(
    "text",
    ["", "sk-ant-oat01-CANARYcanaryCANARY", "hunter2", "v1:abc", "v1:c2VjcmV0", "AKIAQCANARYEXAMPLE7Q"],
)
def test_secure_values_that_are_not_ciphertext_are_refused_unechoed(text: str) -> None:
    sandboxes = {**BASE["stockade:sandboxes"], "environmentKey": {"secure": text}}
    problems, rendered = _problems(_with(sandboxes=sandboxes))
    problem = problems["stockade:sandboxes.environmentKey"]
    assert "not Pulumi ciphertext" in problem.message and problem.value == MASK
    assert "'stockade:sandboxes.environmentKey'" in problem.fix
    assert not text or text not in rendered


@pytest.mark.parametrize("kind", sorted(CREDENTIALS))
def test_a_known_credential_in_a_plain_field_is_refused_by_name(kind: str) -> None:
    canary = CREDENTIALS[kind]
    problems, rendered = _problems(_with(tags={"owner": canary}))
    problem = problems["stockade:tags.owner"]
    assert problem.value == MASK and "in clear text" in problem.message and "rotate" in problem.fix
    assert canary.splitlines()[0] not in rendered and "CANARY" not in rendered


def test_a_credential_in_a_provider_environment_is_refused() -> None:
    config = _with(
        sandboxes={
            "provider": "daytona",
            "environmentId": "env_01Example",
            "environmentKey": {"secure": CIPHERTEXT},
            "daytona": {"apiKey": {"secure": CIPHERTEXT}, "environment": {"HELPER": CREDENTIALS["github"]}},
        }
    )
    problems, rendered = _problems(config)
    assert "stockade:sandboxes.daytona.environment.HELPER" in problems
    assert "CANARY" not in rendered


def test_a_credential_under_another_providers_namespace_is_refused_too() -> None:
    problems, rendered = _problems({**BASE, "aws:secretKey": CREDENTIALS["aws"]})
    assert "aws:secretKey" in problems and "CANARY" not in rendered


def test_a_misspelt_key_never_echoes_its_value_and_suggests_the_key() -> None:
    sandboxes = {**BASE["stockade:sandboxes"], "enviromentKey": "my-plain-password-CANARY"}
    problems, rendered = _problems(_with(sandboxes=sandboxes))
    problem = problems["stockade:sandboxes.enviromentKey"]
    assert problem.value == MASK and "CANARY" not in rendered
    assert "did you mean stockade:sandboxes.environmentKey?" in problem.fix


def test_a_misspelt_top_level_key_gets_a_suggestion() -> None:
    problems, _ = _problems({**BASE, "stockade:sandboxs": {}})
    assert "did you mean stockade:sandboxes?" in problems["stockade:sandboxs"].fix


def test_passwords_in_urls_and_query_strings_are_masked() -> None:
    docker = {"host": "ssh://deploy:CANARYpass@host.example.com", "sshOpts": []}
    problems, rendered = _problems(_with(target="docker", docker=docker))
    assert "stockade:docker.host" in problems and "CANARYpass" not in rendered
    shown = ConfigProblem("k", describe_value("https://x.example.com/a?token=CANARY&b=1"), "m", "f")
    assert "CANARY" not in shown.value and "b=1" in shown.value


def test_control_and_bidi_characters_are_escaped_in_reports() -> None:
    problems, rendered = _problems(_with(tags={"owner\u202eevil": "a\x00b", "x": "\x1b[31mred"}))
    assert len(problems) >= 2
    assert "\u202e" not in rendered and "\x00" not in rendered and "\x1b" not in rendered
    assert "\\u202e" in rendered and "\\x00" in rendered


# --- Cloud limits and truth -----------------------------------------------------------------


def test_a_region_aws_does_not_publish_is_refused_and_synth_invents_no_azs() -> None:
    problems, _ = _problems({**BASE, "aws:region": "us-east-7"})
    problem = problems["aws:region"]
    assert "partition data" in problem.message and "us-east-1" in problem.fix
    with pytest.raises(SettingsError):
        synthesize_config("t", {**BASE, "aws:region": "us-east-7"}, Path(__file__).resolve().parents[1])


@pytest.mark.parametrize(
    "region", ["us-east-1", "eu-central-2", "cn-north-1", "us-gov-west-1", "ap-southeast-5"]
)
def test_published_regions_in_every_partition_are_accepted(region: str) -> None:
    assert validate("t", {**BASE, "aws:region": region}).aws_region == region


@pytest.mark.parametrize("region", ["aws-global", "aws-us-gov-global", "aws-cn-global"])
def test_partition_pseudo_regions_are_refused(region: str) -> None:
    # botocore's partitions.json lists them next to real regions; nothing deploys there.
    problems, _ = _problems({**BASE, "aws:region": region})
    assert "partition data" in problems["aws:region"].message


def test_tag_limits_count_the_component_tags() -> None:
    validate("t", _with(tags={f"k{i}": "v" for i in range(47)}))
    problems, _ = _problems(_with(tags={f"k{i}": "v" for i in range(48)}))
    assert "stockade:tags" in problems
    problems, _ = _problems(_with(tags={f"k{i}": "v" for i in range(10_000)}))
    assert "stockade:tags" in problems


@pytest.mark.parametrize(
    ("key", "words"),
    [("aws:created-by", "reserved for AWS"), ("AWS:x", "reserved"), ("stockade:stack", "Stockade's own")],
)
def test_reserved_tag_prefixes_are_refused(key: str, words: str) -> None:
    problems, _ = _problems(_with(tags={key: "v"}))
    assert words in next(iter(problems.values())).message


def test_two_thousand_tunnel_routes_are_refused_naming_the_security_group_quota() -> None:
    routes = {f"r{i}.example.com": f"http://10.{i // 250}.{i % 250}.1:8080" for i in range(2000)}
    started = time.monotonic()
    problems, _ = _problems(_with(tunnel={**TUNNEL, "routes": routes}))
    assert time.monotonic() - started < 20
    problem = problems["stockade:tunnel.routes"]
    assert "60 rules" in problem.message and "L-0EA8095F" in problem.message


def test_routes_sharing_targets_stay_under_the_quota() -> None:
    routes = {
        f"r{i}.example.com": {"upstream": f"http://10.1.2.{i}:8080", "targetCidr": "10.1.2.0/24"}
        for i in range(1, 100)
    }
    validate("t", _with(tunnel={**TUNNEL, "routes": routes}))


def test_a_huge_image_reference_is_refused_fast() -> None:
    image = "registry.example.com/" + "a" * 100_000
    started = time.monotonic()
    problems, rendered = _problems(_with(sandboxes={**BASE["stockade:sandboxes"], "workerImage": image}))
    assert time.monotonic() - started < 5
    assert "at most 512 characters" in problems["stockade:sandboxes.workerImage"].message
    assert len(rendered) < 2000


def test_every_string_has_a_length_cap() -> None:
    problems, _ = _problems(_with(tunnel={**TUNNEL, "upstreamTls": {"caCertificatePem": "x" * 70_000}}))
    assert "at most 65536 characters" in problems["stockade:tunnel.upstreamTls.caCertificatePem"].message


def test_huge_integers_are_refused_with_a_short_value() -> None:
    problems, _ = _problems(_with(tunnel={**TUNNEL, "tokenVersion": 10**20}))
    problem = problems["stockade:tunnel.tokenVersion"]
    assert "less than or equal" in problem.message and len(problem.value) < 60


def test_every_integer_in_the_schema_is_bounded() -> None:
    unbounded = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "integer" and "maximum" not in node and "enum" not in node:
                unbounded.append(path)
            for key, child in node.items():
                walk(child, f"{path}.{key}")
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, f"{path}[{index}]")

    walk(StackSettings.model_json_schema(by_alias=True), "")
    assert unbounded == []


def test_a_public_allowed_cidr_is_a_weakening() -> None:
    settings = validate("t", _with(network={"egress": {"allowedCidrs": ["1.1.1.0/24", "10.9.0.0/16"]}}))
    [found] = [w for w in settings.weakenings() if "public networks" in w]
    assert "1.1.1.0/24" in found and "10.9.0.0/16" not in found


def test_plain_http_to_a_public_target_is_refused_unless_spelled_out() -> None:
    tunnel = {**TUNNEL, "routes": {"wiki.example.com": "http://203.0.114.10:8080"}}
    problems, _ = _problems(_with(tunnel=tunnel))
    problem = problems["stockade:tunnel.routes.wiki.example.com"]
    assert "plain HTTP to a public network" in problem.message
    assert "allowPlainHttpToPublicTargets" in problem.fix
    settings = validate("t", _with(tunnel={**tunnel, "allowPlainHttpToPublicTargets": True}))
    assert any("allowPlainHttpToPublicTargets" in w for w in settings.weakenings())


# --- Words a user knows ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [(True, "true"), (None, "(not set)"), (["a", "b c"], "[a, 'b c']"), ({"k": 1}, "{k: 1}"), ("x", "'x'")],
)
def test_values_are_shown_in_yaml_words(value: object, shown: str) -> None:
    assert describe_value(value) == shown


def test_a_missing_secret_says_not_set_and_the_fix_has_the_full_key() -> None:
    sandboxes = {k: v for k, v in BASE["stockade:sandboxes"].items() if k != "environmentKey"}
    problems, _ = _problems(_with(sandboxes=sandboxes))
    problem = problems["stockade:sandboxes.environmentKey"]
    assert problem.value == "(not set)" and "'stockade:sandboxes.environmentKey'" in problem.fix


def test_enum_problems_list_values_without_python_reprs() -> None:
    problems, _ = _problems(_with(network={"egress": {"mode": "closed"}}))
    problem = problems["stockade:network.egress.mode"]
    assert problem.message.startswith("must be one of filtered or open")
    assert "stockade:network.egress.mode" in problem.fix


def test_generic_fixes_name_the_exact_key() -> None:
    problems, _ = _problems(_with(tunnel={**TUNNEL, "replicas": "two"}))
    assert "stockade:tunnel.replicas" in problems["stockade:tunnel.replicas"].fix


def test_under_the_engine_decrypted_secret_keys_are_not_mistaken_for_pasted_credentials() -> None:
    engine = {
        "aws:region": "us-east-1",
        "stockade:target": "aws",
        "stockade:environment": "dev",
        "stockade:aws": json.dumps({"accountId": "123456789012"}),
        "stockade:sandboxes": json.dumps(
            {**BASE["stockade:sandboxes"], "environmentKey": CREDENTIALS["anthropic"]}
        ),
        "github:token": CREDENTIALS["github"],
    }
    secret_keys = {"stockade:sandboxes", "github:token"}
    settings = settings_from_engine("t", engine, secret_keys)
    assert settings.sandboxes.environment_key is not None
    with pytest.raises(SettingsError) as caught:
        settings_from_engine("t", engine, {"stockade:sandboxes"})  # github:token set in clear
    assert [p.key for p in caught.value.problems] == ["github:token"]


def test_the_diff_reads_stack_files_through_the_bounded_reader(tmp_path: Path) -> None:
    from stockade.review.errors import ReviewInputError
    from stockade.review.stackfiles import secret_fingerprints

    anchors = "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9) if i else 'x'}]\n" for i in range(9))
    _stack(tmp_path, anchors + "config:\n  stockade:tags: *a8\n", "bomb")
    started = time.monotonic()
    with pytest.raises(ReviewInputError, match="expands to more than"):
        secret_fingerprints(tmp_path, "bomb")
    assert time.monotonic() - started < 5
