"""stockade:cloudflare:SandboxWorker under the offline engine: resources, bindings, secrets, bundle."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format

from stockade.cloudflare.egress_policy import policy_document
from stockade.engine import SynthError, SynthResult, synthesize, synthesize_config
from stockade.engine import synth as synth_module
from stockade.engine.redact import SECRET_SIG, SECRET_SIG_KEY
from stockade.engine.runtime import RecordingMonitor
from stockade.engine.synth import PLACEHOLDER_PREFIX

from .conftest import PROJECT_DIR

SCRIPT = "cloudflare:index/workersScript:WorkersScript"
BUNDLE = PROJECT_DIR / "examples" / "cloudflare-worker" / "index.js"
SECRET_BINDINGS = {
    "ANTHROPIC_ENVIRONMENT_KEY",
    "ANTHROPIC_API_KEY",
    "WEBHOOK_SECRET",
    "R2_ACCESS_KEY_ID",
    "R2_SECRET_ACCESS_KEY",
}
PLAIN_BINDINGS = {
    "ENVIRONMENT_ID",
    "CF_ACCESS_TEAM_DOMAIN",
    "CF_ACCESS_AUD",
    "BACKUP_BUCKET_NAME",
    "CLOUDFLARE_ACCOUNT_ID",
}


def test_cf_dev_provisions_the_templates_resources(synth_stack: Callable[[str], SynthResult]) -> None:
    result = synth_stack("cf-dev")
    types = {r.type for r in result.resources}
    assert types == {
        "stockade:cloudflare:SandboxWorker",
        "cloudflare:index/d1Database:D1Database",
        "cloudflare:index/workersKvNamespace:WorkersKvNamespace",
        "cloudflare:index/r2Bucket:R2Bucket",
        "cloudflare:index/r2BucketLifecycle:R2BucketLifecycle",
        SCRIPT,
        "cloudflare:index/workersScriptSubdomain:WorkersScriptSubdomain",
        "cloudflare:index/workersCronTrigger:WorkersCronTrigger",
        "cloudflare:index/workersKv:WorkersKv",
    }
    assert not any(t.startswith("aws:") for t in types), "a Cloudflare stack touches no AWS account"
    kv_titles = sorted(
        r.inputs["title"] for r in result.by_type("cloudflare:index/workersKvNamespace:WorkersKvNamespace")
    )
    assert kv_titles == ["claude-managed-agents-dev-egress-policies", "claude-managed-agents-dev-secrets"]
    for token in ("cloudflare:index/d1Database:D1Database", "cloudflare:index/r2Bucket:R2Bucket"):
        assert result.one(token).inputs["jurisdiction"] == "eu"
    subdomain = result.one("cloudflare:index/workersScriptSubdomain:WorkersScriptSubdomain").inputs
    assert subdomain["enabled"] is True and subdomain["previewsEnabled"] is False
    cron = result.one("cloudflare:index/workersCronTrigger:WorkersCronTrigger").inputs
    assert cron["schedules"] == [{"cron": "0 4 * * *"}]
    assert result.outputs["webhookUrl"] == "https://claude-managed-agents-dev.acme.workers.dev/webhooks"


def test_cf_dev_binds_what_the_template_reads(synth_stack: Callable[[str], SynthResult]) -> None:
    result = synth_stack("cf-dev")
    summary = dict(item.split(":", 1) for item in result.outputs["cloudflareBindings"])
    assert {k for k, v in summary.items() if v == "secret_text"} == SECRET_BINDINGS
    assert {k for k, v in summary.items() if v == "plain_text"} == PLAIN_BINDINGS
    assert summary["DB"] == "d1" and summary["BACKUP_BUCKET"] == "r2_bucket"
    assert summary["SECRETS"] == summary["EGRESS_POLICIES"] == "kv_namespace"
    assert summary["Sandbox"] == summary["IsolateRunner"] == "durable_object_namespace"
    script = result.one(SCRIPT).inputs
    # Pulumi marks the whole list secret once any text in it is; synth never shows it.
    assert script["bindings"] == "[secret]"
    assert script["migrations"] == {"newTag": "v1", "newSqliteClasses": ["Sandbox", "IsolateRunner"]}
    assert script["observability"] == {"enabled": True}


def test_the_bundle_goes_up_by_path_and_hash_never_inline(synth_stack: Callable[[str], SynthResult]) -> None:
    result = synth_stack("cf-dev")
    script = result.one(SCRIPT).inputs
    assert script["contentFile"] == "examples/cloudflare-worker/index.js"
    assert script["contentSha256"] == hashlib.sha256(BUNDLE.read_bytes()).hexdigest()
    assert script["mainModule"] == "index.js"
    text = result.to_json()
    assert "DurableObject" not in text, "the module source must not be dumped into synth output"
    assert len(text) < 40_000


def test_no_secret_value_or_placeholder_reaches_the_synth(
    synth_stack: Callable[[str], SynthResult], example_config: Callable[[str], dict[str, Any]]
) -> None:
    text = synth_stack("cf-dev").to_json()
    assert PLACEHOLDER_PREFIX not in text
    raw = json.dumps(example_config("cf-dev"))
    ciphertexts = [part.split('"')[0] for part in raw.split('"secure": "')[1:]]
    assert len(ciphertexts) == 5
    for ciphertext in ciphertexts:
        assert ciphertext not in text


def _wire_bindings(monkeypatch: pytest.MonkeyPatch, config: dict[str, Any]) -> list[dict[str, Any]]:
    """The WorkersScript `bindings` exactly as the engine receives them, secret markers included."""
    seen: list[dict[str, Any]] = []

    class WireMonitor(RecordingMonitor):
        def RegisterResource(self, request: Any) -> Any:
            if request.type == SCRIPT:
                seen.append(json_format.MessageToDict(request.object))
            return super().RegisterResource(request)

    monkeypatch.setattr(synth_module, "RecordingMonitor", WireMonitor)
    synthesize_config("cf-dev", config)
    [script] = seen
    return list(script["bindings"])


def test_each_secret_binding_is_a_pulumi_secret_on_the_wire(
    monkeypatch: pytest.MonkeyPatch, example_config: Callable[[str], dict[str, Any]]
) -> None:
    bindings = {b["name"]: b for b in _wire_bindings(monkeypatch, example_config("cf-dev"))}
    for name in SECRET_BINDINGS:
        text = bindings[name]["text"]
        assert isinstance(text, dict) and text[SECRET_SIG_KEY] == SECRET_SIG, name
    for name in PLAIN_BINDINGS:
        assert isinstance(bindings[name]["text"], str), name
    assert bindings["ENVIRONMENT_ID"]["text"] == "env_01CfDevExample"
    assert bindings["CLOUDFLARE_ACCOUNT_ID"]["text"] == "0123456789abcdef0123456789abcdef"
    assert bindings["BACKUP_BUCKET_NAME"]["text"] == "claude-managed-agents-snapshots"


def _cf_config(example_config: Callable[[str], dict[str, Any]], **changes: Any) -> dict[str, Any]:
    config = example_config("cf-dev")
    config["stockade:sandboxes"]["cloudflare"].update(changes)
    return config


def test_isolate_backend_has_no_snapshot_storage_or_keys(
    synth_config: Callable[..., SynthResult], example_config: Callable[[str], dict[str, Any]]
) -> None:
    config = _cf_config(example_config, backend="isolate")
    del config["stockade:sandboxes"]["cloudflare"]["snapshots"]
    result = synth_config("cf-isolate", config)
    assert not result.by_type("cloudflare:index/r2Bucket:R2Bucket")
    names = {item.split(":", 1)[0] for item in result.outputs["cloudflareBindings"]}
    assert not names & {"BACKUP_BUCKET", "R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY", "BACKUP_BUCKET_NAME"}
    assert {"ANTHROPIC_ENVIRONMENT_KEY", "ANTHROPIC_API_KEY", "WEBHOOK_SECRET", "ENVIRONMENT_ID"} <= names


def test_custom_domain_routes_the_webhook(
    synth_config: Callable[..., SynthResult], example_config: Callable[[str], dict[str, Any]]
) -> None:
    config = _cf_config(
        example_config,
        workersDev=False,
        customDomain={"zoneId": "a" * 32, "hostname": "agents.example.com"},
    )
    result = synth_config("cf-domain", config)
    domain = result.one("cloudflare:index/workersCustomDomain:WorkersCustomDomain").inputs
    assert domain["hostname"] == "agents.example.com" and domain["zoneId"] == "a" * 32
    assert domain["service"] == "claude-managed-agents-dev"
    assert (
        result.one("cloudflare:index/workersScriptSubdomain:WorkersScriptSubdomain").inputs["enabled"]
        is False
    )
    assert result.outputs["webhookUrl"] == "https://agents.example.com/webhooks"


def test_the_egress_policy_is_seeded_where_the_template_reads_it(
    synth_stack: Callable[[str], SynthResult],
) -> None:
    result = synth_stack("cf-dev")
    entry = result.one("cloudflare:index/workersKv:WorkersKv").inputs
    egress_kv = next(
        r
        for r in result.by_type("cloudflare:index/workersKvNamespace:WorkersKvNamespace")
        if "egress" in r.name
    )
    assert entry["keyName"] == "policy:pol_stockade"
    assert entry["namespaceId"].startswith(egress_kv.name)
    policy = json.loads(entry["value"])
    assert policy["appliesToAll"] is True and policy["applyTo"] == []
    assert {"type": "deny", "host": "pastebin.com"} in policy["egressRules"]
    assert [r["host"] for r in policy["egressRules"] if r["type"] == "allow"] == sorted(
        ["api.anthropic.com", "pypi.org", "files.pythonhosted.org", "registry.npmjs.org"]
    )
    assert entry["value"] == result.outputs["egressPolicy"]


def test_policy_document_is_deterministic() -> None:
    first = policy_document("pol_a", ["b.example.com", "a.example.com"], ["c.example.com"])
    assert first == policy_document(
        "pol_a", ["a.example.com", "b.example.com", "a.example.com"], ["c.example.com"]
    )


def test_a_missing_bundle_stops_the_program_with_the_key_and_the_fix(
    example_config: Callable[[str], dict[str, Any]],
) -> None:
    config = example_config("cf-dev")
    config["stockade:sandboxes"]["cloudflare"]["bundle"] = {"mainModule": "build/worker/missing.js"}
    with pytest.raises(SynthError) as caught:
        synthesize_config("cf-missing", config)
    message = str(caught.value)
    assert "stockade:sandboxes.cloudflare.bundle.mainModule = 'build/worker/missing.js'" in message
    assert "never builds" in message


def test_extra_modules_upload_under_their_relative_names(
    tmp_path: Path, synth_config: Callable[..., SynthResult], example_config: Callable[[str], dict[str, Any]]
) -> None:
    build = tmp_path / "build"
    (build / "chunks").mkdir(parents=True)
    (build / "index.js").write_text("export default {};\n")
    (build / "chunks" / "a.js").write_text("export const a = 1;\n")
    (build / "engine.wasm").write_bytes(b"\0asm\1\0\0\0")
    bundle = {"mainModule": f"{build}/index.js", "modules": [f"{build}/chunks/a.js", f"{build}/engine.wasm"]}
    result = synth_config("cf-modules", _cf_config(example_config, bundle=bundle))
    files = result.one(SCRIPT).inputs["files"]
    assert files["chunks/a.js"]["contentType"] == "application/javascript+module"
    assert files["engine.wasm"]["contentType"] == "application/wasm"
    assert files["engine.wasm"]["contentSha256"] == hashlib.sha256(b"\0asm\1\0\0\0").hexdigest()


def test_cf_dev_reports_only_the_org_key_and_a_wide_config_reports_more(
    synth_stack: Callable[[str], SynthResult],
    synth_config: Callable[..., SynthResult],
    example_config: Callable[[str], dict[str, Any]],
) -> None:
    # The template needs the organization API key in the Worker; that is always reported.
    [org_key] = synth_stack("cf-dev").weakenings
    assert org_key.startswith("sandboxes.cloudflare.anthropicApiKey is set")
    config = _cf_config(example_config, browserRendering=True, egress={})
    result = synth_config("cf-wide", config)
    assert len(result.weakenings) == 3
    assert "BROWSER:browser" in result.outputs["cloudflareBindings"]


def test_cf_dev_synth_is_byte_identical_across_runs() -> None:
    assert synthesize("cf-dev", PROJECT_DIR).to_json() == synthesize("cf-dev", PROJECT_DIR).to_json()
