"""Compose a `target: cloudflare` stack: one SandboxWorker in the customer's Cloudflare account.

The Cloudflare provider reads its API token from `cloudflare:apiToken` (set it with
`pulumi config set --secret cloudflare:apiToken ...`); nothing here touches AWS.
"""

from __future__ import annotations

from typing import Any

import pulumi

from stockade.settings import StackSettings
from stockade.settings.provider_cloudflare import CloudflareBackend, CloudflareSettings
from stockade.settings.secrets import PulumiSecret, SecretReference

BASE_NAME = "stockade"


def _secret_value(key: str, setting: PulumiSecret | SecretReference | None) -> str:
    # Validation guarantees a Pulumi secret here; its value exists only under the engine.
    if not isinstance(setting, PulumiSecret) or setting.value is None:
        raise pulumi.RunError(f"stockade:{key}: the secret's value is not available to the program")
    return setting.value


def secret_bindings(settings: StackSettings, cloudflare: CloudflareSettings) -> dict[str, str]:
    """Binding name -> secret value, exactly the secrets the template reads."""
    values = {
        "ANTHROPIC_ENVIRONMENT_KEY": _secret_value(
            "sandboxes.environmentKey", settings.sandboxes.environment_key
        ),
        "ANTHROPIC_API_KEY": _secret_value(
            "sandboxes.cloudflare.anthropicApiKey", cloudflare.anthropic_api_key
        ),
        "WEBHOOK_SECRET": _secret_value("sandboxes.cloudflare.webhookSecret", cloudflare.webhook_secret),
    }
    if cloudflare.backend is CloudflareBackend.MICROVM:
        snapshots = cloudflare.snapshots
        values["R2_ACCESS_KEY_ID"] = _secret_value(
            "sandboxes.cloudflare.snapshots.accessKeyId", snapshots.access_key_id
        )
        values["R2_SECRET_ACCESS_KEY"] = _secret_value(
            "sandboxes.cloudflare.snapshots.secretAccessKey", snapshots.secret_access_key
        )
    return values


def plain_bindings(settings: StackSettings, cloudflare: CloudflareSettings) -> dict[str, str]:
    """Binding name -> plain value: identifiers, never credentials."""
    assert settings.sandboxes.environment_id is not None and cloudflare.access is not None
    assert cloudflare.account_id is not None  # all enforced by validation
    values = {
        "ENVIRONMENT_ID": settings.sandboxes.environment_id,
        "CF_ACCESS_TEAM_DOMAIN": cloudflare.access.team_domain,
        "CF_ACCESS_AUD": cloudflare.access.aud,
    }
    if cloudflare.backend is CloudflareBackend.MICROVM:
        # The template reads these as variables next to the R2 keys; they name the bucket
        # and account, so they are derived here rather than typed twice.
        values["BACKUP_BUCKET_NAME"] = cloudflare.snapshots.bucket_name
        values["CLOUDFLARE_ACCOUNT_ID"] = cloudflare.account_id
    return values


def build_cloudflare_perimeter(settings: StackSettings) -> dict[str, Any]:
    from stockade.cloudflare.bundle import BundleError, load_bundle, project_root
    from stockade.cloudflare.sandbox_worker import SandboxWorker, bundle_args

    cloudflare = settings.sandboxes.cloudflare
    assert cloudflare is not None and cloudflare.bundle is not None and cloudflare.account_id is not None
    try:
        bundle = load_bundle(cloudflare.bundle, project_root())
    except BundleError as exc:
        raise pulumi.RunError(str(exc)) from None
    custom = cloudflare.custom_domain
    worker = SandboxWorker(
        f"{BASE_NAME}-cloudflare",
        {
            "account_id": cloudflare.account_id,
            "worker_name": cloudflare.worker_name,
            "bundle": bundle_args(bundle),
            "compatibility_date": cloudflare.bundle.compatibility_date,
            "compatibility_flags": cloudflare.bundle.compatibility_flags,
            "durable_object_classes": cloudflare.bundle.durable_object_classes,
            "microvm": cloudflare.backend is CloudflareBackend.MICROVM,
            "plain_text": plain_bindings(settings, cloudflare),
            "secret_text": secret_bindings(settings, cloudflare),
            "snapshot_bucket_name": cloudflare.snapshots.bucket_name,
            "snapshot_expire_days": cloudflare.snapshots.expire_days,
            "jurisdiction": cloudflare.jurisdiction.value if cloudflare.jurisdiction else None,
            "workers_dev": cloudflare.workers_dev,
            "custom_domain": {"zone_id": custom.zone_id, "hostname": custom.hostname} if custom else None,
            "webhook_url": cloudflare.webhook_url,
            "cleanup_schedule": cloudflare.cleanup_schedule,
            "egress_policy_id": cloudflare.egress.policy_id,
            "egress_allow": cloudflare.egress.allow,
            "egress_deny": cloudflare.egress.deny,
            "browser_rendering": cloudflare.browser_rendering,
            "workers_ai": cloudflare.workers_ai,
        },
    )
    return {
        "sandboxProvider": "cloudflare",
        "cloudflareWorker": worker.script_name,
        "cloudflareDatabaseId": worker.database_id,
        "cloudflareBindings": worker.binding_summary,
        "webhookUrl": worker.webhook_url,
        "egressPolicy": worker.egress_policy,
    }
