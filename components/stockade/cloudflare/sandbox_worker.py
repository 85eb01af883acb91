"""`stockade:cloudflare:SandboxWorker`: the account-side half of Cloudflare's Claude Managed Agents template.

What it provisions, and the binding names the template reads (its `wrangler.jsonc`):

* D1 `DB` (webhook events, session metadata), KV `SECRETS` and `EGRESS_POLICIES`;
* R2 `BACKUP_BUCKET` for MicroVM snapshots, with a lifecycle rule (microvm backend only);
* the Worker script from the customer's built bundle, with Durable Object bindings and a
  SQLite migration for each exported class;
* secrets as `secret_text` bindings, always wrapped as Pulumi secrets;
* the route Anthropic's webhook posts to (workers.dev and/or a Workers Custom Domain);
* the cleanup cron trigger, and the seeded egress policy.

What it cannot provision (pulumi-cloudflare has no resource for it) is listed in
docs/providers.md: the MicroVM container application, Worker Loader bindings, D1
schema migrations, the Access application and the Anthropic-side webhook.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import pulumi
import pulumi_cloudflare as cloudflare

from stockade.cloudflare.bundle import BundleFile, LoadedBundle
from stockade.cloudflare.egress_policy import policy_document, policy_key

MIGRATION_TAG = "v1"
# Routes the template serves from the Worker even when a static asset could match.
WORKER_FIRST_PATHS = ("/api/*", "/webhooks", "/ws/*", "/openapi.json", "/openapi")


class CustomDomain(TypedDict):
    """A Workers Custom Domain."""

    zone_id: str
    """Zone that owns the hostname."""

    hostname: str
    """Hostname served by the Worker."""


class BundleFileArgs(TypedDict):
    """One uploaded part of the bundle."""

    part_name: str
    """Its name in the upload (what the Worker imports)."""

    path: str
    """Where it is: relative to the project directory when inside it."""

    sha256: str
    """Hex SHA-256 of its content: a rebuilt bundle shows as a changed hash."""

    content_type: str
    """MIME type of the part."""


class BundleArgs(TypedDict):
    """The built Worker bundle, resolved and hashed (`bundle_args(load_bundle(...))`)."""

    main: BundleFileArgs
    """The main module."""

    modules: Sequence[BundleFileArgs]
    """Further modules the main one imports."""

    assets_directory: str | None
    """Static assets served by the Worker, or None."""


def bundle_args(bundle: LoadedBundle) -> BundleArgs:
    """A loaded bundle (stockade.cloudflare.bundle.load_bundle) as component args."""

    def part(file: BundleFile) -> BundleFileArgs:
        return {
            "part_name": file.part_name,
            "path": file.path,
            "sha256": file.sha256,
            "content_type": file.content_type,
        }

    return {
        "main": part(bundle.main),
        "modules": [part(m) for m in bundle.modules],
        "assets_directory": bundle.assets_directory,
    }


class SandboxWorkerArgs(TypedDict):
    """Inputs of a SandboxWorker."""

    account_id: str
    """Cloudflare account that owns every resource."""

    worker_name: str
    """Worker script name; other resource names derive from it."""

    bundle: BundleArgs
    """The built bundle, already resolved and hashed (`bundle_args`)."""

    compatibility_date: str
    """Workers runtime compatibility date."""

    compatibility_flags: Sequence[str]
    """Workers runtime compatibility flags."""

    durable_object_classes: Sequence[str]
    """Durable Object classes the bundle exports; each is bound under its own name."""

    microvm: bool
    """True for the MicroVM backend: creates the snapshot bucket and binds it."""

    plain_text: Mapping[str, str]
    """Non-secret variables (`ENVIRONMENT_ID`, `CF_ACCESS_*`, ...), bound as `plain_text`."""

    secret_text: Mapping[str, pulumi.Input[str]]
    """Secret variables; every value is wrapped with `Output.secret` before Pulumi sees it."""

    snapshot_bucket_name: str
    """R2 bucket for MicroVM snapshots (ignored without `microvm`)."""

    snapshot_expire_days: int
    """Days before a snapshot object is deleted."""

    jurisdiction: str | None
    """Data jurisdiction for D1, KV and R2 (`eu`, `fedramp`), or None."""

    workers_dev: bool
    """Serve on `<worker>.<subdomain>.workers.dev`."""

    custom_domain: CustomDomain | None
    """Also (or only) serve on this hostname."""

    webhook_url: str
    """The URL Anthropic's webhook must use (exported; the subscription is made in the Console)."""

    cleanup_schedule: str
    """Cron schedule of the template's retention cleanup."""

    egress_policy_id: str
    """ID of the seeded egress policy."""

    egress_allow: Sequence[str]
    """Hosts the seeded policy allows."""

    egress_deny: Sequence[str]
    """Hosts the seeded policy denies."""

    browser_rendering: bool
    """Bind Browser Rendering as `BROWSER`."""

    workers_ai: bool
    """Bind Workers AI as `AI`."""


class SandboxWorker(pulumi.ComponentResource):
    """The Worker, its storage, bindings, secrets, routes and default egress policy."""

    script_name: pulumi.Output[str]
    """The Worker script."""
    database_id: pulumi.Output[str]
    """The D1 database of sessions."""
    binding_summary: pulumi.Output[list[str]]
    """The Worker's bindings, by name and type (no values)."""
    webhook_url: pulumi.Output[str]
    """The URL Anthropic's webhook must use."""
    egress_policy: pulumi.Output[str]
    """The seeded egress policy (allowed and denied hosts)."""

    def __init__(
        self, name: str, args: SandboxWorkerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stockade:cloudflare:SandboxWorker", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = args["account_id"]
        worker = args["worker_name"]
        jurisdiction = args["jurisdiction"]

        database = cloudflare.D1Database(
            f"{name}-db",
            account_id=account,
            name=f"{worker}-db",
            jurisdiction=jurisdiction,
            opts=child,
        )
        secrets_kv = cloudflare.WorkersKvNamespace(
            f"{name}-secrets-kv",
            account_id=account,
            title=f"{worker}-secrets",
            jurisdiction=jurisdiction,
            opts=child,
        )
        egress_kv = cloudflare.WorkersKvNamespace(
            f"{name}-egress-kv",
            account_id=account,
            title=f"{worker}-egress-policies",
            jurisdiction=jurisdiction,
            opts=child,
        )

        bindings: list[dict[str, Any]] = [
            {"name": "DB", "type": "d1", "id": database.id},
            {"name": "SECRETS", "type": "kv_namespace", "namespace_id": secrets_kv.id},
            {"name": "EGRESS_POLICIES", "type": "kv_namespace", "namespace_id": egress_kv.id},
        ]
        bindings += [
            {"name": cls, "type": "durable_object_namespace", "class_name": cls}
            for cls in args["durable_object_classes"]
        ]
        if args["microvm"]:
            bucket = cloudflare.R2Bucket(
                f"{name}-snapshots",
                account_id=account,
                name=args["snapshot_bucket_name"],
                jurisdiction=jurisdiction,
                opts=child,
            )
            cloudflare.R2BucketLifecycle(
                f"{name}-snapshots-expiry",
                account_id=account,
                bucket_name=bucket.name,
                jurisdiction=jurisdiction,
                rules=[
                    {
                        "id": "expire-snapshots",
                        "enabled": True,
                        "conditions": {"prefix": ""},
                        "delete_objects_transition": {
                            "condition": {"type": "Age", "max_age": args["snapshot_expire_days"] * 86400}
                        },
                    }
                ],
                opts=pulumi.ResourceOptions(parent=bucket),
            )
            bindings.append(
                {"name": "BACKUP_BUCKET", "type": "r2_bucket", "bucket_name": bucket.name}
                | ({"jurisdiction": jurisdiction} if jurisdiction else {})
            )
        if args["browser_rendering"]:
            bindings.append({"name": "BROWSER", "type": "browser"})
        if args["workers_ai"]:
            bindings.append({"name": "AI", "type": "ai"})
        bindings += [
            {"name": key, "type": "plain_text", "text": value}
            for key, value in sorted(args["plain_text"].items())
        ]
        bindings += [
            # Wrapped here, whatever the caller passed: state stores it encrypted and every
            # preview, synth and diff shows [secret].
            {"name": key, "type": "secret_text", "text": pulumi.Output.secret(value)}
            for key, value in sorted(args["secret_text"].items())
        ]

        bundle = args["bundle"]
        assets: dict[str, Any] | None = None
        if bundle["assets_directory"] is not None:
            bindings.append({"name": "ASSETS", "type": "assets"})
            assets = {
                "directory": bundle["assets_directory"],
                "config": {
                    "not_found_handling": "single-page-application",
                    "run_worker_first": list(WORKER_FIRST_PATHS),
                },
            }
        script = cloudflare.WorkersScript(
            f"{name}-script",
            account_id=account,
            script_name=worker,
            main_module=bundle["main"]["part_name"],
            # The bundle goes up by path and hash, never inline: synth stays small and a
            # rebuilt bundle shows as exactly one changed hash.
            content_file=bundle["main"]["path"],
            content_sha256=bundle["main"]["sha256"],
            files={
                module["part_name"]: {
                    "content_type": module["content_type"],
                    "content_file": module["path"],
                    "content_sha256": module["sha256"],
                }
                for module in bundle["modules"]
            }
            or None,
            assets=assets,
            bindings=bindings,
            compatibility_date=args["compatibility_date"],
            compatibility_flags=list(args["compatibility_flags"]),
            migrations={"new_tag": MIGRATION_TAG, "new_sqlite_classes": list(args["durable_object_classes"])},
            observability={"enabled": True},
            logpush=False,
            opts=child,
        )
        script_child = pulumi.ResourceOptions(parent=script)

        cloudflare.WorkersScriptSubdomain(
            f"{name}-workers-dev",
            account_id=account,
            script_name=script.script_name,
            enabled=args["workers_dev"],
            # Preview URLs would expose unreviewed versions of the webhook endpoint.
            previews_enabled=False,
            opts=script_child,
        )
        custom_domain = args["custom_domain"]
        if custom_domain is not None:
            cloudflare.WorkersCustomDomain(
                f"{name}-domain",
                account_id=account,
                hostname=custom_domain["hostname"],
                service=script.script_name,
                zone_id=custom_domain["zone_id"],
                opts=script_child,
            )
        cloudflare.WorkersCronTrigger(
            f"{name}-cleanup",
            account_id=account,
            script_name=script.script_name,
            schedules=[{"cron": args["cleanup_schedule"]}],
            opts=script_child,
        )
        document = policy_document(args["egress_policy_id"], args["egress_allow"], args["egress_deny"])
        cloudflare.WorkersKv(
            f"{name}-egress-policy",
            account_id=account,
            namespace_id=egress_kv.id,
            key_name=policy_key(args["egress_policy_id"]),
            value=document,
            opts=pulumi.ResourceOptions(parent=egress_kv),
        )

        self.script_name = script.script_name
        # Pulumi marks the whole `bindings` input secret once any text in it is; this
        # name:type list keeps what the Worker is bound to reviewable in synth and previews.
        self.binding_summary = pulumi.Output.from_input([f"{b['name']}:{b['type']}" for b in bindings])
        self.database_id = database.id
        self.webhook_url = pulumi.Output.from_input(args["webhook_url"])
        self.egress_policy = pulumi.Output.from_input(document)
        self.register_outputs(
            {
                "script_name": self.script_name,
                "database_id": self.database_id,
                "binding_summary": self.binding_summary,
                "webhook_url": self.webhook_url,
                "egress_policy": self.egress_policy,
            }
        )
