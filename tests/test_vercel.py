"""stockade:vercel:FunctionProject under the offline engine, and the optional extra's error."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from stockade.engine import SynthError, SynthResult, synthesize_config
from stockade.engine.synth import PLACEHOLDER_PREFIX
from stockade.vercel.sdk import INSTALL_HINT, VercelExtraMissingError, vercel_sdk

from .conftest import PROJECT_DIR

ENV_VAR = "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable"
CIPHERTEXTS = ("dmVyY2VsLWVudmlyb25tZW50LWtleQ==", "dmVyY2VsLXdlYmhvb2stc2VjcmV0")


def vercel_config(**section: Any) -> dict[str, Any]:
    return {
        "stockade:target": "vercel",
        "stockade:environment": "dev",
        "stockade:sandboxes": {
            "provider": "vercel",
            "environmentId": "env_01VercelExample",
            "environmentKey": {"secure": f"v1:AAAAAAAAAAAAAAAA:{CIPHERTEXTS[0]}"},
            "vercel": {
                "projectName": "agents-control",
                "teamId": "team_0123456789",
                "gitRepository": {"type": "github", "repo": "acme/cma-vercel-sandbox"},
                "webhookSigningKey": {"secure": f"v1:AAAAAAAAAAAAAAAA:{CIPHERTEXTS[1]}"},
                "sandboxAllowedDomains": ["pypi.org", "api.anthropic.com"],
                **section,
            },
        },
    }


@pytest.fixture
def vercel(synth_config: Callable[..., SynthResult]) -> SynthResult:
    return synth_config("vercel-dev", vercel_config())


def test_the_project_runs_node_22_with_oidc_and_protected_previews(vercel: SynthResult) -> None:
    project = vercel.one("vercel:index/project:Project").inputs
    assert project["name"] == "agents-control" and project["teamId"] == "team_0123456789"
    assert project["nodeVersion"] == "22.x"
    assert project["oidcTokenConfig"] == {"issuerMode": "team"}
    assert project["vercelAuthentication"] == {"deploymentType": "standard_protection_new"}
    assert project["gitRepository"] == {
        "type": "github",
        "repo": "acme/cma-vercel-sandbox",
        "productionBranch": "main",
    }


def test_the_environment_key_is_a_sensitive_production_only_variable(vercel: SynthResult) -> None:
    variables = {r.inputs["key"]: r.inputs for r in vercel.by_type(ENV_VAR)}
    assert set(variables) == {
        "ANTHROPIC_ENVIRONMENT_ID",
        "ANTHROPIC_ENVIRONMENT_KEY",
        "ANTHROPIC_WEBHOOK_SIGNING_KEY",
        "SANDBOX_ALLOWED_DOMAINS",
    }
    for name in ("ANTHROPIC_ENVIRONMENT_KEY", "ANTHROPIC_WEBHOOK_SIGNING_KEY"):
        assert variables[name]["sensitive"] is True and variables[name]["value"] == "[secret]"
    # pulumiverse-vercel wraps every variable's value as a Pulumi secret, so synth hides even
    # the plain ones; what differs is Vercel's `sensitive` flag (never readable back).
    for name in ("ANTHROPIC_ENVIRONMENT_ID", "SANDBOX_ALLOWED_DOMAINS"):
        assert variables[name]["sensitive"] is False and variables[name]["value"] == "[secret]"
    for variable in variables.values():
        assert variable["targets"] == ["production"]
    text = vercel.to_json()
    assert PLACEHOLDER_PREFIX not in text and not any(c in text for c in CIPHERTEXTS)


def test_no_deployment_is_faked_and_the_webhook_url_is_exported(vercel: SynthResult) -> None:
    assert not vercel.by_type("vercel:index/deployment:Deployment")
    assert not any(r.type.startswith("aws:") for r in vercel.resources)
    assert vercel.outputs["webhookUrl"] == "https://agents-control.vercel.app/api/webhook"


def test_a_custom_domain_and_renamed_variables(synth_config: Callable[..., SynthResult]) -> None:
    config = vercel_config(
        productionDomain="agents.example.com",
        webhookPath="/api/anthropic",
        envNames={"environmentKey": "CMA_ENVIRONMENT_KEY"},
    )
    result = synth_config("vercel-domain", config)
    assert result.one("vercel:index/projectDomain:ProjectDomain").inputs["domain"] == "agents.example.com"
    assert "CMA_ENVIRONMENT_KEY" in {r.inputs["key"] for r in result.by_type(ENV_VAR)}
    assert result.outputs["webhookUrl"] == "https://agents.example.com/api/anthropic"


def test_without_the_extra_the_error_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes `import pulumiverse_vercel` raise ImportError.
    monkeypatch.setitem(sys.modules, "pulumiverse_vercel", None)
    with pytest.raises(VercelExtraMissingError, match=r"pip install 'stockade\[vercel\]'"):
        vercel_sdk()
    with pytest.raises(SynthError) as caught:
        synthesize_config("vercel-missing", vercel_config())
    assert INSTALL_HINT in str(caught.value)


def test_the_extra_is_not_imported_by_other_stacks() -> None:
    code = (
        "import sys; from stockade.engine import synthesize; synthesize('cf-dev'); "
        "print('pulumiverse_vercel' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120, cwd=PROJECT_DIR
    )
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_the_function_is_deployed_from_its_directory_by_path_size_and_sha1(
    synth_config: Callable[..., SynthResult],
) -> None:
    import hashlib

    result = synth_config("vercel-dev", vercel_config(functionDirectory="providers/vercel-function"))
    deployment = result.one("vercel:index/deployment:Deployment")
    inputs = deployment.inputs
    assert inputs["production"] is True and inputs["pathPrefix"] == "providers/vercel-function"
    files = inputs["files"]
    assert "providers/vercel-function/api/webhook.ts" in files
    assert "providers/vercel-function/package-lock.json" in files
    assert not [f for f in files if "/node_modules/" in f or "/dist/" in f]
    content = (PROJECT_DIR / "providers/vercel-function/src/handler.ts").read_bytes()
    expected = f"{len(content)}~{hashlib.sha1(content, usedforsecurity=False).hexdigest()}"
    assert files["providers/vercel-function/src/handler.ts"] == expected
    # The first build must see the variables: the deployment waits for every one of them.
    variables = {r.urn for r in result.by_type(ENV_VAR)}
    assert variables and variables <= set(deployment.depends_on)


def test_without_a_function_directory_nothing_is_deployed(vercel: SynthResult) -> None:
    assert vercel.by_type("vercel:index/deployment:Deployment") == []


def test_a_function_directory_without_package_json_stops_the_program_with_the_key() -> None:
    with pytest.raises(SynthError) as caught:
        synthesize_config("vercel-missing", vercel_config(functionDirectory="docs"))
    assert "stockade:sandboxes.vercel.functionDirectory = 'docs': no package.json" in str(caught.value)


@pytest.mark.parametrize("value", ["/abs/path", "../outside", "a/../../b", "has space"])
def test_a_function_directory_outside_the_project_is_refused(value: str) -> None:
    from stockade.settings.load import validate
    from stockade.settings.problems import SettingsError

    with pytest.raises(SettingsError) as caught:
        validate("t", vercel_config(functionDirectory=value))
    assert "functionDirectory" in str(caught.value)
