"""`stockade:sandboxes.<provider>`: the managed sandbox providers (docs/vendor-interface.md §3).

One section per provider, read only when `sandboxes.provider` names it:

* `cloudflare` - the account-side resources of the Cloudflare Workers template
  (settings/provider_cloudflare.py);
* `daytona`, `modal` - a polling orchestrator container run by `stockade:aws:ProviderBridge`
  (settings/provider_bridged.py);
* `vercel` - the Vercel project that hosts the integration's Function
  (settings/provider_vercel.py).

This module holds the rules: which section each provider needs, which target it runs
on, and what the network must allow. Each rule names the key to change and how.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from pydantic_core import PydanticCustomError

from stockade.settings.problems import ConfigProblem, describe_value, invalid
from stockade.settings.provider_bridged import (
    BridgeSettings,
    DaytonaSettings,
    ModalSettings,
    OrchestratorKind,
)
from stockade.settings.provider_cloudflare import CloudflareSettings
from stockade.settings.provider_vercel import VercelSettings
from stockade.settings.secrets import SecretReference
from stockade.settings.types import is_pinned

if TYPE_CHECKING:
    from stockade.settings.sandboxes import SandboxSettings
    from stockade.settings.stack import StackSettings

__all__ = [
    "BRIDGED_PROVIDERS",
    "MANAGED_SECTIONS",
    "CloudflareSettings",
    "DaytonaSettings",
    "ModalSettings",
    "VercelSettings",
    "bridge_settings",
    "provider_problems",
    "provider_section_errors",
    "provider_weakenings",
]

# Names of the sandbox sections, equal to the `provider` value that reads each one.
MANAGED_SECTIONS = ("cloudflare", "daytona", "modal", "vercel")
BRIDGED_PROVIDERS = ("daytona", "modal")
"""Providers whose orchestrator Stockade runs as an ECS service (stockade:aws:ProviderBridge)."""
# Keys of `stockade:sandboxes` a managed provider reads.
_MANAGED_KEEPS = frozenset({"provider", "environment_id", "environment_key", *MANAGED_SECTIONS})
_TARGET_OF_PROVIDER = {
    "cloudflare": "cloudflare",
    "vercel": "vercel",
    "daytona": "aws",
    "modal": "aws",
}


def _registry_hosts(image: str | None, region: str | None) -> list[str]:
    """Registry hosts an image pull needs through the egress filter.

    The Network already admits ECR in the stack's own region (its endpoint names);
    any other registry must be listed like the provider's API.
    """
    from stockade.netplan.egress_policy import registry_domains

    if image is None or region is None:
        return []  # without a region the stack is already refused (aws:region)
    hosts = registry_domains(image)
    if all(h.endswith(f".dkr.ecr.{region}.amazonaws.com") for h in hosts):
        return []
    return hosts


def _covered(host: str, allowed: list[str]) -> bool:
    return any(host == d or (d.startswith("*.") and host.endswith(d[1:])) for d in allowed)


def provider_section_errors(sandboxes: SandboxSettings) -> Iterator[PydanticCustomError]:
    """The section matching `provider` is required; the others are refused.

    Yields every problem; SandboxSettings' rules call it.
    """
    provider = sandboxes.provider.value
    for section in MANAGED_SECTIONS:
        if section != provider and getattr(sandboxes, section) is not None:
            yield invalid(
                f"sandboxes.{section} is only read with provider: {section}",
                f"remove sandboxes.{section}, or set provider: {section}",
                field=section,
            )
    if provider not in MANAGED_SECTIONS:
        return
    if getattr(sandboxes, provider) is None:
        yield invalid(
            f"provider {provider} needs its settings section",
            f"add sandboxes.{provider} (see docs/providers.md for the required keys)",
            field=provider,
        )
        return
    if sandboxes.environment_id is None:
        yield invalid(
            f"provider {provider} needs the environment ID",
            "set sandboxes.environmentId to the env_... ID of a self_hosted environment",
            field="environmentId",
        )
    if sandboxes.environment_key is None:
        yield invalid(
            f"provider {provider} needs the environment key",
            "run `pulumi config set --secret --path 'stockade:sandboxes.environmentKey' sk-ant-oat01-...`",
            field="environmentKey",
        )
    elif provider not in BRIDGED_PROVIDERS and isinstance(sandboxes.environment_key, SecretReference):
        yield invalid(
            f"{provider} cannot read AWS Secrets Manager, so the key must be a Pulumi secret",
            "run `pulumi config set --secret --path 'stockade:sandboxes.environmentKey' sk-ant-oat01-...`",
            field="environmentKey",
        )
    # Every other key of the section configures the self-hosted fleet; set here it would
    # silently do nothing, so it is an error (names follow the model, whatever it grows).
    for name in sorted(sandboxes.model_fields_set - _MANAGED_KEEPS):
        alias = type(sandboxes).model_fields[name].alias or name
        yield invalid(
            f"sandboxes.{alias} is only read with provider: self-hosted",
            f"remove it; the {provider} settings live under sandboxes.{provider}",
            field=alias,
        )


def bridge_settings(sandboxes: SandboxSettings) -> BridgeSettings | None:
    """The bridged provider's section, when the provider runs behind a ProviderBridge."""
    provider = sandboxes.provider.value
    if provider not in BRIDGED_PROVIDERS:
        return None
    section = getattr(sandboxes, provider)
    return section if isinstance(section, BridgeSettings) else None


def provider_problems(settings: StackSettings) -> list[ConfigProblem]:
    """Rules spanning the provider and the rest of the stack (target, network, environment)."""
    problems: list[ConfigProblem] = []

    def add(key: str, value: object, message: str, fix: str) -> None:
        problems.append(ConfigProblem(key, describe_value(value), message, fix))

    target = settings.target.value
    provider = settings.sandboxes.provider.value
    wanted = _TARGET_OF_PROVIDER.get(provider)
    if wanted is not None and target != wanted:
        add(
            "stockade:target",
            target,
            f"provider {provider} runs on target {wanted}",
            f"set stockade:target: {wanted} (one stack per provider; see docs/providers.md)",
        )
    if target in ("cloudflare", "vercel"):
        if provider != target:
            add(
                "stockade:sandboxes.provider",
                provider,
                f"a {target} stack runs the {target} provider only",
                f"set sandboxes.provider: {target}, or pick target aws or docker",
            )
        if settings.tunnel.enabled:
            add(
                "stockade:tunnel.enabled",
                True,
                f"the MCP tunnel runs on an aws or docker stack, not on {target}",
                "set tunnel.enabled: false here and run the tunnel from an aws or docker stack",
            )
        if settings.aws is not None:
            add(
                "stockade:aws",
                "(set)",
                f"AWS account settings have no meaning on the {target} target",
                "remove stockade:aws",
            )
        network = settings.network
        for name in sorted(network.model_fields_set):
            alias = type(network).model_fields[name].alias or name
            add(
                f"stockade:network.{alias}",
                getattr(network, name),
                f"VPC settings have no meaning on the {target} target",
                "remove it; sandbox egress is set under sandboxes." + target,
            )
        if settings.tags:
            add(
                "stockade:tags",
                dict(settings.tags),
                f"the {target} resources Stockade creates take no tags",
                "remove stockade:tags",
            )
    bridge = bridge_settings(settings.sandboxes)
    if bridge is not None and target == "aws":
        egress = settings.network.egress
        if egress.mode.value == "filtered":
            needed = [*bridge.api_hosts, *_registry_hosts(bridge.image, settings.aws_region)]
            missing = [h for h in needed if not _covered(h, list(egress.allowed_domains))]
            if missing:
                add(
                    "stockade:network.egress.allowedDomains",
                    list(egress.allowed_domains),
                    f"the {provider} orchestrator must reach {', '.join(missing)} (provider API and "
                    "image registry hosts), which the network's domain filter would block",
                    f"add {', '.join(missing)} to network.egress.allowedDomains",
                )
        for key, role, image in (
            ("image", "orchestrator", bridge.image),
            ("sessionImage", "session", bridge.session_image),
        ):
            if settings.is_production and image is not None and not is_pinned(image):
                add(
                    f"stockade:sandboxes.{provider}.{key}",
                    image,
                    f"a prod {role} image must be pinned by digest",
                    "use <registry>/<repository>@sha256:<digest>",
                )
    return problems


def provider_weakenings(settings: StackSettings) -> list[str]:
    """Provider settings that trade safety for something else, in plain words."""
    found: list[str] = []
    sandboxes = settings.sandboxes
    if sandboxes.cloudflare is not None:
        cloudflare = sandboxes.cloudflare
        if cloudflare.anthropic_api_key is not None:
            found.append(
                "sandboxes.cloudflare.anthropicApiKey is set: an organization API key lives in the Worker "
                "(the template needs it); docs/vendor-interface.md §1.3 says to keep it off worker hosts"
            )
        if not cloudflare.egress.allow:
            found.append(
                "sandboxes.cloudflare.egress.allow is empty: no allowlist is seeded, sandboxes reach "
                "whatever the template allows by default"
            )
        if cloudflare.browser_rendering:
            found.append(
                "sandboxes.cloudflare.browserRendering is true: agents drive a Cloudflare-hosted browser "
                "that fetches the web outside the sandbox egress policy"
            )
    if sandboxes.vercel is not None:
        found.append(
            "sandboxes.provider is 'vercel': the environment key is stored in the Vercel project, and "
            "keeping it out of Sandboxes and applying the egress allowlist depend on the deployed "
            "Function's code (Stockade ships providers/vercel-function but cannot check what is deployed)"
        )
        if not sandboxes.vercel.sandbox_allowed_domains:
            found.append(
                "sandboxes.vercel.sandboxAllowedDomains is empty: the Function gets no egress allowlist "
                "to apply to its Sandboxes"
            )
    bridge = bridge_settings(sandboxes)
    if bridge is not None:
        provider = sandboxes.provider.value
        found.append(
            f"sandboxes.provider is '{provider}': session sandboxes and their files live in "
            f"{provider.capitalize()}'s "
            "cloud, outside network.egress and the stack's KMS key; their egress is limited only by "
            f"sandboxes.{provider}.sandboxAllowedDomains, enforced by {provider.capitalize()}"
        )
        if bridge.orchestrator is OrchestratorKind.CUSTOM:
            found.append(
                f"sandboxes.{provider}.orchestrator is 'custom': your own image runs with the environment "
                "key; one sandbox per session, the concurrency cap, retention and keeping secrets out of "
                "logs depend on its code, which Stockade cannot check"
            )
        elif not bridge.sandbox_allowed_domains:
            found.append(
                f"sandboxes.{provider}.sandboxAllowedDomains is empty: session sandboxes reach any host "
                f"{provider.capitalize()}'s network allows"
            )
    return found
