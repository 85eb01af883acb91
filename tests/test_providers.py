"""Managed sandbox providers: each provider's required settings, and the rules across sections."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stockade.settings import SettingsError, StackSettings
from stockade.settings.load import validate
from stockade.settings.problems import MASK
from stockade.settings.provider_bridged import DaytonaSettings, ModalSettings
from stockade.settings.providers import provider_weakenings
from stockade.settings.secrets import PulumiSecret, SecretReference

SECURE = {"secure": "v1:7ciZ2Kj2Bblmq0s+:djE6YzJWamNtVjBejZ0VqRmSLgFY33uG45vO"}
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:stockade/key-AbCdEf"
PINNED = "123456789012.dkr.ecr.us-east-1.amazonaws.com/orchestrator@sha256:" + "a" * 64
ACCESS = {"teamDomain": "acme.cloudflareaccess.com", "aud": "f" * 64}


def cloudflare_stack(**section: Any) -> dict[str, Any]:
    cloudflare = {
        "accountId": "0123456789abcdef0123456789abcdef",
        "bundle": {"mainModule": "build/worker/index.js"},
        "anthropicApiKey": SECURE,
        "webhookSecret": SECURE,
        "access": ACCESS,
        "workersDevSubdomain": "acme",
        **section,
    }
    return {
        "stockade:target": "cloudflare",
        "stockade:environment": "dev",
        "stockade:sandboxes": {
            "provider": "cloudflare",
            "environmentId": "env_01Example",
            "environmentKey": SECURE,
            "cloudflare": cloudflare,
        },
    }


def bridged_stack(provider: str, **section: Any) -> dict[str, Any]:
    base: dict[str, Any] = (
        {"image": PINNED, "sessionImage": PINNED, "apiKey": SECURE}
        if provider == "daytona"
        else {"image": PINNED, "sessionImage": PINNED, "tokenId": "ak-1234abcd", "tokenSecret": SECURE}
    )
    host = "app.daytona.io" if provider == "daytona" else "api.modal.com"
    return {
        "aws:region": "us-east-1",
        "stockade:target": "aws",
        "stockade:environment": "dev",
        "stockade:aws": {"accountId": "123456789012"},
        "stockade:network": {"egress": {"allowedDomains": [host]}},
        "stockade:sandboxes": {
            "provider": provider,
            "environmentId": "env_01Example",
            "environmentKey": SECURE,
            provider: {**base, **section},
        },
    }


def vercel_stack(**section: Any) -> dict[str, Any]:
    return {
        "stockade:target": "vercel",
        "stockade:environment": "dev",
        "stockade:sandboxes": {
            "provider": "vercel",
            "environmentId": "env_01Example",
            "environmentKey": SECURE,
            "vercel": {"webhookSigningKey": SECURE, "sandboxAllowedDomains": ["pypi.org"], **section},
        },
    }


STACKS = {
    "cloudflare": cloudflare_stack,
    "daytona": lambda **s: bridged_stack("daytona", **s),
    "modal": lambda **s: bridged_stack("modal", **s),
    "vercel": vercel_stack,
}


def without(config: dict[str, Any], *path: str) -> dict[str, Any]:
    changed = copy.deepcopy(config)
    node = changed
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]
    return changed


def problems(config: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(SettingsError) as caught:
        validate("t", config)
    return {p.key: p for p in caught.value.problems}


@pytest.mark.parametrize("provider", sorted(STACKS))
def test_each_provider_has_a_valid_minimal_stack(provider: str) -> None:
    settings = validate("t", STACKS[provider]())
    assert settings.sandboxes.provider.value == provider
    assert getattr(settings.sandboxes, provider) is not None


MISSING = [
    # (provider, path under stockade:sandboxes, reported key, words the fix must contain)
    ("cloudflare", ("cloudflare", "accountId"), "cloudflare.accountId", "32 hex digits"),
    ("cloudflare", ("cloudflare", "bundle"), "cloudflare.bundle", "mainModule"),
    ("cloudflare", ("cloudflare", "anthropicApiKey"), "cloudflare.anthropicApiKey", "config set --secret"),
    ("cloudflare", ("cloudflare", "webhookSecret"), "cloudflare.webhookSecret", "whsec_"),
    ("cloudflare", ("cloudflare", "access"), "cloudflare.access", "teamDomain"),
    ("cloudflare", ("cloudflare", "workersDevSubdomain"), "cloudflare.workersDevSubdomain", "Overview"),
    ("daytona", ("daytona", "image"), "daytona.image", "pinned by digest"),
    ("daytona", ("daytona", "apiKey"), "daytona.apiKey", "config set --secret"),
    ("modal", ("modal", "image"), "modal.image", "sandboxes.modal.image"),
    ("modal", ("modal", "tokenId"), "modal.tokenId", "ak-"),
    ("modal", ("modal", "tokenSecret"), "modal.tokenSecret", "config set --secret"),
    ("vercel", ("vercel", "webhookSigningKey"), "vercel.webhookSigningKey", "whsec_"),
]


@pytest.mark.parametrize(("provider", "path", "key", "fix_words"), MISSING, ids=[m[2] for m in MISSING])
def test_missing_provider_setting_names_its_key_and_fix(
    provider: str, path: tuple[str, ...], key: str, fix_words: str
) -> None:
    found = problems(without(STACKS[provider](), "stockade:sandboxes", *path))
    assert list(found) == [f"stockade:sandboxes.{key}"]
    assert fix_words in found[f"stockade:sandboxes.{key}"].fix


ENVIRONMENT_FIXES = {
    "environmentId": "env_",
    "environmentKey": "sk-ant-oat01",
    "section": "docs/providers.md",
}


@pytest.mark.parametrize("provider", sorted(STACKS))
@pytest.mark.parametrize("field", sorted(ENVIRONMENT_FIXES))
def test_every_provider_needs_the_environment_and_its_section(provider: str, field: str) -> None:
    name = provider if field == "section" else field
    found = problems(without(STACKS[provider](), "stockade:sandboxes", name))
    assert list(found) == [f"stockade:sandboxes.{name}"]
    assert ENVIRONMENT_FIXES[field] in found[f"stockade:sandboxes.{name}"].fix


def test_another_providers_section_is_refused() -> None:
    config = cloudflare_stack()
    config["stockade:sandboxes"]["daytona"] = {"image": PINNED, "sessionImage": PINNED, "apiKey": SECURE}
    found = problems(config)
    assert list(found) == ["stockade:sandboxes.daytona"]
    assert "only read with provider: daytona" in found["stockade:sandboxes.daytona"].message


@pytest.mark.parametrize(
    ("key", "value"), [("workerImage", PINNED), ("mode", "pool"), ("maxConcurrentSessions", 5)]
)
def test_self_hosted_keys_are_refused_for_a_managed_provider(key: str, value: object) -> None:
    config = bridged_stack("daytona")
    config["stockade:sandboxes"][key] = value
    found = problems(config)
    assert list(found) == [f"stockade:sandboxes.{key}"]
    assert "only read with provider: self-hosted" in found[f"stockade:sandboxes.{key}"].message


@pytest.mark.parametrize("provider", ["cloudflare", "vercel"])
def test_providers_outside_aws_refuse_a_secrets_manager_arn_for_the_key(provider: str) -> None:
    config = STACKS[provider]()
    config["stockade:sandboxes"]["environmentKey"] = ARN
    found = problems(config)
    assert list(found) == ["stockade:sandboxes.environmentKey"]
    assert "cannot read AWS Secrets Manager" in found["stockade:sandboxes.environmentKey"].message
    assert found["stockade:sandboxes.environmentKey"].value == MASK


def test_bridged_providers_accept_secret_references() -> None:
    config = bridged_stack("daytona", apiKey=ARN)
    config["stockade:sandboxes"]["environmentKey"] = ARN
    settings = validate("t", config)
    daytona = settings.sandboxes.daytona
    assert daytona is not None
    secrets = daytona.secret_environment(settings.sandboxes.environment_key)  # type: ignore[arg-type]
    assert secrets == {
        "ANTHROPIC_ENVIRONMENT_KEY": SecretReference(ARN),
        "DAYTONA_API_KEY": SecretReference(ARN),
    }


def test_a_plaintext_provider_secret_is_refused_and_masked() -> None:
    with pytest.raises(SettingsError) as caught:
        validate("t", cloudflare_stack(anthropicApiKey="sk-ant-api03-clear-text"))
    [problem] = caught.value.problems
    assert problem.key == "stockade:sandboxes.cloudflare.anthropicApiKey"
    assert problem.value == MASK and "plaintext secret" in problem.message
    assert "clear-text" not in caught.value.render()


@pytest.mark.parametrize("provider", ["daytona", "modal"])
def test_webhook_mode_is_refused_because_the_bridge_has_no_ingress(provider: str) -> None:
    found = problems(bridged_stack(provider, mode="webhook"))
    problem = found[f"stockade:sandboxes.{provider}.mode"]
    assert "no ingress" in problem.message and "polling" in problem.fix


@pytest.mark.parametrize(("provider", "host"), [("daytona", "app.daytona.io"), ("modal", "api.modal.com")])
def test_the_network_allowlist_must_admit_the_provider_api(provider: str, host: str) -> None:
    config = bridged_stack(provider)
    config["stockade:network"] = {"egress": {"allowedDomains": ["pypi.org"]}}
    found = problems(config)
    problem = found["stockade:network.egress.allowedDomains"]
    assert host in problem.message and f"add {host}" in problem.fix


def test_a_wildcard_or_open_egress_satisfies_the_allowlist_rule() -> None:
    config = bridged_stack("daytona", extraApiHosts=["proxy.app.daytona.io"])
    config["stockade:network"] = {"egress": {"allowedDomains": ["*.daytona.io", "app.daytona.io"]}}
    validate("t", config)
    config["stockade:network"] = {"egress": {"mode": "open"}}
    settings = validate("t", config)
    assert any("open" in w for w in settings.weakenings())


def test_daytona_api_url_host_and_extra_hosts_feed_the_allowlist() -> None:
    config = bridged_stack(
        "daytona", apiUrl="https://eu.daytona.example.com/api", extraApiHosts=["p.example.com"]
    )
    found = problems(config)
    message = found["stockade:network.egress.allowedDomains"].message
    assert "eu.daytona.example.com" in message and "p.example.com" in message


def test_an_image_outside_the_regions_ecr_needs_its_registry_allowed() -> None:
    other_region = PINNED.replace("us-east-1", "eu-west-1")
    for image, host in (
        (other_region, "123456789012.dkr.ecr.eu-west-1.amazonaws.com"),
        ("ghcr.io/acme/orchestrator@sha256:" + "c" * 64, "ghcr.io"),
    ):
        found = problems(bridged_stack("daytona", image=image))
        assert host in found["stockade:network.egress.allowedDomains"].fix
    validate("t", bridged_stack("daytona"))  # ECR in the stack's own region rides the endpoints


def test_prod_requires_a_pinned_orchestrator_image() -> None:
    config = bridged_stack("daytona", image="ghcr.io/acme/orchestrator:1.0")
    config["stockade:environment"] = "prod"
    config["stockade:network"]["availabilityZones"] = 2
    found = problems(config)
    assert "pinned by digest" in found["stockade:sandboxes.daytona.image"].message


@pytest.mark.parametrize(
    ("target", "provider", "key"),
    [
        ("docker", "daytona", "stockade:target"),
        ("cloudflare", "self-hosted", "stockade:sandboxes.provider"),
        ("aws", "cloudflare", "stockade:target"),
        ("aws", "vercel", "stockade:target"),
    ],
)
def test_each_provider_runs_on_its_own_target(target: str, provider: str, key: str) -> None:
    if provider == "self-hosted":
        config: dict[str, Any] = {
            "stockade:target": target,
            "stockade:environment": "dev",
            "stockade:sandboxes": {
                "provider": "self-hosted",
                "mode": "pool",
                "environmentId": "env_01Example",
                "environmentKey": SECURE,
                "workerImage": PINNED,
            },
        }
    else:
        config = STACKS[provider]()
        config["stockade:target"] = target
        if target == "aws":
            config["aws:region"] = "us-east-1"
            config["stockade:aws"] = {"accountId": "123456789012"}
    assert key in problems(config)


@pytest.mark.parametrize("provider", ["cloudflare", "vercel"])
def test_provider_targets_refuse_the_tunnel_and_aws_settings(provider: str) -> None:
    config = STACKS[provider]()
    config["stockade:tunnel"] = {
        "enabled": True,
        "routes": {"wiki.example.com": "http://10.1.2.3:8080"},
        "token": SECURE,
    }
    config["stockade:aws"] = {"accountId": "123456789012"}
    found = problems(config)
    assert "aws or docker stack" in found["stockade:tunnel.enabled"].fix
    assert "stockade:aws" in found


@pytest.mark.parametrize("provider", ["cloudflare", "vercel"])
def test_provider_targets_refuse_vpc_settings_and_tags(provider: str) -> None:
    config = STACKS[provider]()
    config["stockade:network"] = {"cidr": "10.9.0.0/16", "egress": {"allowedDomains": ["pypi.org"]}}
    config["stockade:tags"] = {"owner": "platform"}
    found = problems(config)
    assert {"stockade:network.cidr", "stockade:network.egress", "stockade:tags"} <= set(found)
    assert f"sandboxes.{provider}" in found["stockade:network.egress"].fix


def test_microvm_needs_both_r2_keys_and_isolate_refuses_them() -> None:
    found = problems(cloudflare_stack(backend="microvm", snapshots={"accessKeyId": SECURE}))
    assert list(found) == ["stockade:sandboxes.cloudflare.snapshots.secretAccessKey"]
    assert "hibernation" in found["stockade:sandboxes.cloudflare.snapshots.secretAccessKey"].message
    found = problems(cloudflare_stack(snapshots={"accessKeyId": SECURE, "secretAccessKey": SECURE}))
    assert list(found) == ["stockade:sandboxes.cloudflare.backend"]


@pytest.mark.parametrize(
    ("section", "key", "words"),
    [
        ({"egress": {"allow": ["pypi.org"], "deny": ["pypi.org"]}}, "cloudflare.egress.deny", "both allowed"),
        ({"bundle": {"mainModule": "build/worker/index.ts"}}, "cloudflare.bundle.mainModule", "module file"),
        ({"bundle": {"mainModule": "../outside/index.js"}}, "cloudflare.bundle.mainModule", "'..'"),
        (
            {"bundle": {"mainModule": "build/index.js", "modules": ["other/chunk.js"]}},
            "cloudflare.bundle.modules",
            "not under",
        ),
        ({"workersDev": False}, "cloudflare.workersDev", "needs a URL"),
        ({"cleanupSchedule": "daily"}, "cloudflare.cleanupSchedule", "cron"),
        (
            {"access": {"teamDomain": "acme.example.com", "aud": "f" * 64}},
            "cloudflare.access.teamDomain",
            "Access",
        ),
    ],
)
def test_cloudflare_settings_are_checked(section: dict[str, Any], key: str, words: str) -> None:
    found = problems(cloudflare_stack(**section))
    assert list(found) == [f"stockade:sandboxes.{key}"]
    problem = found[f"stockade:sandboxes.{key}"]
    assert words in problem.message + problem.fix


def test_custom_domain_gives_the_webhook_url_without_workers_dev() -> None:
    config = cloudflare_stack(
        workersDev=False,
        customDomain={"zoneId": "f" * 32, "hostname": "agents.example.com"},
    )
    del config["stockade:sandboxes"]["cloudflare"]["workersDevSubdomain"]
    settings = validate("t", config)
    assert settings.sandboxes.cloudflare is not None
    assert settings.sandboxes.cloudflare.webhook_url == "https://agents.example.com/webhooks"


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"cpu": 300}, "cpu"),
        ({"cpu": 256, "memoryMib": 8192}, "memoryMib"),
        ({"environment": {"DAYTONA_API_KEY": "x"}}, "environment.DAYTONA_API_KEY"),
        ({"environment": {"ANTHROPIC_API_KEY": "x"}}, "environment.ANTHROPIC_API_KEY"),
        ({"apiUrl": "http://app.daytona.io/api"}, "apiUrl"),
        ({"sessionImage": None}, "sessionImage"),
        ({"command": ["python", "x.py"]}, "command"),
        ({"maxIdleDays": 3}, "maxIdleDays"),
        ({"retention": "forever"}, "retention"),
        ({"maxConcurrentSessions": 0}, "maxConcurrentSessions"),
        ({"sandboxAllowedDomains": ["not a domain"]}, "sandboxAllowedDomains[0]"),
        ({"environment": {"STOCKADE_RETENTION": "keep"}}, "environment.STOCKADE_RETENTION"),
        ({"environment": {"MAX_IDLE_DAYS": "3"}}, "environment.MAX_IDLE_DAYS"),
        ({"orchestrator": "custom"}, "sessionImage"),
    ],
)
def test_bridge_settings_are_checked(section: dict[str, Any], key: str) -> None:
    assert f"stockade:sandboxes.daytona.{key}" in problems(bridged_stack("daytona", **section))


def test_modal_cannot_keep_sandboxes() -> None:
    found = problems(bridged_stack("modal", retention="keep"))
    assert "cannot be stopped and kept" in found["stockade:sandboxes.modal.retention"].message


def test_prod_requires_a_pinned_session_image() -> None:
    config = bridged_stack("daytona", sessionImage="ghcr.io/acme/session:1.0")
    config["stockade:environment"] = "prod"
    found = problems(config)
    assert "a prod session image must be pinned" in found["stockade:sandboxes.daytona.sessionImage"].message


def test_orchestrator_environment_follows_the_reference_names() -> None:
    key = PulumiSecret("sk-ant-oat01-x")
    daytona = DaytonaSettings.model_validate(
        {
            "orchestrator": "custom",
            "image": PINNED,
            "apiKey": SECURE,
            "target": "eu",
            "environment": {"JANITOR_SECONDS": "30"},
        }
    )
    assert daytona.plain_environment("env_01A") == {
        "ENVIRONMENT_ID": "env_01A",
        "DAYTONA_API_URL": "https://app.daytona.io/api",
        "DAYTONA_TARGET": "eu",
        "JANITOR_SECONDS": "30",
    }
    assert set(daytona.secret_environment(key)) == {"ANTHROPIC_ENVIRONMENT_KEY", "DAYTONA_API_KEY"}
    assert daytona.api_hosts == ["app.daytona.io"]
    modal = ModalSettings.model_validate(
        {"orchestrator": "custom", "image": PINNED, "tokenId": "ak-1", "tokenSecret": SECURE}
    )
    assert modal.plain_environment("env_01A") == {
        "ANTHROPIC_ENVIRONMENT_ID": "env_01A",
        "MODAL_TOKEN_ID": "ak-1",
    }
    assert set(modal.secret_environment(key)) == {"ANTHROPIC_ENVIRONMENT_KEY", "MODAL_TOKEN_SECRET"}
    assert modal.api_hosts == ["api.modal.com"]
    for environment in (daytona.plain_environment("env_01A"), modal.plain_environment("env_01A")):
        assert "ANTHROPIC_API_KEY" not in environment


def test_provider_weakenings_are_reported() -> None:
    settings: StackSettings = validate("t", cloudflare_stack(browserRendering=True))
    found = " | ".join(settings.weakenings())
    assert "egress.allow is empty" in found and "browserRendering" in found
    settings = validate("t", cloudflare_stack(egress={"allow": ["pypi.org"]}))
    # The organization key is required by the template, so it is always there and always reported.
    (only,) = settings.weakenings()
    assert only.startswith("sandboxes.cloudflare.anthropicApiKey is set: an organization API key")
    settings = validate("t", vercel_stack(sandboxAllowedDomains=[]))
    assert any("sandboxAllowedDomains is empty" in w for w in settings.weakenings())


def test_the_org_key_weakening_follows_the_setting() -> None:
    settings: StackSettings = validate("t", cloudflare_stack(egress={"allow": ["pypi.org"]}))
    assert settings.sandboxes.cloudflare is not None
    without_key = settings.sandboxes.cloudflare.model_copy(update={"anthropic_api_key": None})
    changed = settings.model_copy(
        update={"sandboxes": settings.sandboxes.model_copy(update={"cloudflare": without_key})}
    )
    assert not any("anthropicApiKey" in w for w in provider_weakenings(changed))


def test_vercel_and_bridged_providers_report_where_trust_moves() -> None:
    vercel = validate("t", vercel_stack(sandboxAllowedDomains=["pypi.org"]))
    (only,) = vercel.weakenings()
    assert "environment key is stored in the Vercel project" in only
    for section in ("daytona", "modal"):
        found = provider_weakenings(validate("t", bridged_stack(section)))
        name = section.capitalize()
        assert found == [
            f"sandboxes.provider is '{section}': session sandboxes and their files live in {name}'s "
            "cloud, outside network.egress and the stack's KMS key; their egress is limited only by "
            f"sandboxes.{section}.sandboxAllowedDomains, enforced by {name}",
            f"sandboxes.{section}.sandboxAllowedDomains is empty: session sandboxes reach any host "
            f"{name}'s network allows",
        ]
        allowlisted = provider_weakenings(
            validate("t", bridged_stack(section, sandboxAllowedDomains=["pypi.org"]))
        )
        assert allowlisted == found[:1]
        custom = bridged_stack(section, orchestrator="custom")
        custom["stockade:sandboxes"][section].pop("sessionImage")
        assert "orchestrator is 'custom'" in provider_weakenings(validate("t", custom))[1]
