"""`stockade:sandboxes.cloudflare`: the account-side resources of Cloudflare's integration template.

Binding and secret names follow github.com/cloudflare/claude-managed-agents
(`wrangler.jsonc`, `.dev.vars.example`); docs/providers.md says what Stockade
provisions and what stays manual.
"""

import re
from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from stockade.settings.base import DEFERRED, SettingsModel, empty_list
from stockade.settings.problems import invalid
from stockade.settings.secrets import PulumiSecretInput
from stockade.settings.types import DomainName

_CRON = re.compile(r"^(\S+\s+){4}\S+$")
CloudflareId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
"""A Cloudflare account or zone ID: 32 lowercase hex digits (dashboard URL / Overview page)."""

_MODULE_TYPES = {
    ".js": "application/javascript+module",
    ".mjs": "application/javascript+module",
    ".cjs": "application/javascript",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".txt": "text/plain",
    ".bin": "application/octet-stream",
}


def module_content_type(path: str) -> str:
    """The multipart content type the Workers API expects for a bundle file."""
    return _MODULE_TYPES[path[path.rfind(".") :].lower()]


def _bundle_path(value: str) -> str:
    suffix = value[value.rfind(".") :].lower() if "." in value.rsplit("/", 1)[-1] else ""
    if suffix not in _MODULE_TYPES:
        raise invalid(
            "not a Worker module file",
            "point at a built file ending in " + ", ".join(sorted(_MODULE_TYPES)),
        )
    if "\\" in value or "/../" in f"/{value}":
        raise invalid("bundle paths use forward slashes and no '..'", "write e.g. build/worker/index.js")
    return value


BundlePath = Annotated[str, AfterValidator(_bundle_path)]


class CloudflareBackend(StrEnum):
    """Which sandbox backend the Cloudflare template runs sessions on."""

    ISOLATE = "isolate"
    """Isolate sandboxes: a Durable Object per session with a SQLite-backed workspace.
    Needs no container and no R2 snapshots."""
    MICROVM = "microvm"
    """Cloudflare Containers behind the template's `Sandbox` Durable Object; `/workspace`
    survives hibernation only through R2 snapshots, so the R2 credentials are required."""


class CloudflareJurisdiction(StrEnum):
    """Where D1, KV and R2 keep data durably (set at creation; changing it replaces them)."""

    EU = "eu"
    FEDRAMP = "fedramp"


class WorkerBundle(SettingsModel):
    """The customer-built Worker bundle. Stockade uploads it; it never builds it."""

    model_config = SettingsModel.model_config | DEFERRED

    main_module: BundlePath
    """Path of the built entry module (the file exporting `fetch` and the Durable Object
    classes), relative to the project directory. Checked to exist when the program runs."""

    modules: list[BundlePath] = Field(default_factory=empty_list, max_length=100)
    """Other files the entry module imports, each under the entry module's directory; the
    part name is the path relative to that directory."""

    compatibility_date: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")] = "2026-05-18"
    """Workers runtime compatibility date (the template's `compatibility_date`)."""

    compatibility_flags: list[Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]] = Field(
        default_factory=lambda: ["nodejs_compat"]
    )
    """Workers runtime compatibility flags (the template sets `nodejs_compat`)."""

    assets_directory: str | None = None
    """Optional directory of the dashboard's built static assets, served as a single-page
    app with `/api/*`, `/webhooks`, `/ws/*` and `/openapi*` routed to the Worker first."""

    durable_object_classes: list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]] = Field(
        default_factory=lambda: ["Sandbox", "IsolateRunner"], min_length=1, max_length=20
    )
    """Durable Object classes the bundle exports; each gets a binding of the same name and a
    SQLite-backed namespace (migration tag `v1`)."""

    def rule_errors(self) -> Iterator[PydanticCustomError]:
        names = [self.main_module, *self.modules]
        if len(set(names)) != len(names):
            yield invalid("a bundle file is listed twice", "list each file once", field="modules")
        base = self.main_module.rsplit("/", 1)[0] + "/" if "/" in self.main_module else ""
        for module in self.modules:
            if not module.startswith(base):
                yield invalid(
                    f"module {module} is not under the entry module's directory",
                    f"keep the whole build output under {base or './'}",
                    field="modules",
                )


class CloudflareSnapshots(SettingsModel):
    """R2 snapshots of MicroVM `/workspace` (the template's presigned-URL path)."""

    model_config = SettingsModel.model_config | DEFERRED

    bucket_name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")] = (
        "claude-managed-agents-snapshots"
    )
    """R2 bucket Stockade creates and binds as `BACKUP_BUCKET`; also sent as `BACKUP_BUCKET_NAME`."""

    access_key_id: PulumiSecretInput | None = None
    """`R2_ACCESS_KEY_ID` of an R2 API token with read+write on the bucket (minted in the
    dashboard: R2 -> Manage R2 API Tokens)."""

    secret_access_key: PulumiSecretInput | None = None
    """`R2_SECRET_ACCESS_KEY` of the same token."""

    expire_days: Annotated[int, Field(ge=1, le=3650)] = 30
    """Snapshots older than this are deleted by an R2 lifecycle rule."""


class CloudflareEgress(SettingsModel):
    """The egress policy Stockade seeds into the template's `EGRESS_POLICIES` KV namespace."""

    model_config = SettingsModel.model_config | DEFERRED

    policy_id: Annotated[str, Field(pattern=r"^pol_[A-Za-z0-9._-]{1,64}$")] = "pol_stockade"
    """ID of the seeded policy (`policy:<id>` in KV; the template's API uses the same IDs)."""

    allow: list[DomainName] = Field(default_factory=empty_list, max_length=500)
    """Hosts sandboxes may reach (`*.example.com` allowed). Empty is reported as a weakening."""

    deny: list[DomainName] = Field(default_factory=empty_list, max_length=500)
    """Hosts sandboxes may never reach, whatever else allows them."""

    def rule_errors(self) -> Iterator[PydanticCustomError]:
        both = sorted(set(self.allow) & set(self.deny))
        if both:
            yield invalid(
                f"{', '.join(both)} is both allowed and denied",
                "keep each host in one list",
                field="deny",
            )


class CloudflareAccess(SettingsModel):
    """Cloudflare Access in front of the dashboard and API (`/webhooks` stays HMAC-signed)."""

    model_config = SettingsModel.model_config | DEFERRED

    team_domain: DomainName
    """`CF_ACCESS_TEAM_DOMAIN`, e.g. `acme.cloudflareaccess.com`."""

    aud: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    """`CF_ACCESS_AUD`: the Access application's Application Audience (AUD) tag."""

    def rule_errors(self) -> Iterator[PydanticCustomError]:
        if not self.team_domain.endswith(".cloudflareaccess.com"):
            yield invalid(
                "the Access team domain ends in .cloudflareaccess.com",
                "copy it from Zero Trust -> Settings -> Custom pages, e.g. acme.cloudflareaccess.com",
                field="teamDomain",
            )


class CloudflareCustomDomain(SettingsModel):
    """A hostname on one of the account's zones that serves the Worker (Workers Custom Domain)."""

    model_config = SettingsModel.model_config | DEFERRED

    zone_id: CloudflareId
    """Zone that owns the hostname."""

    hostname: DomainName
    """The hostname; the webhook becomes `https://<hostname>/webhooks`."""


class CloudflareSettings(SettingsModel):
    """`provider: cloudflare`: the Worker, its bindings and its storage."""

    model_config = SettingsModel.model_config | DEFERRED

    account_id: CloudflareId | None = None
    """The Cloudflare account everything is created in (also `CLOUDFLARE_ACCOUNT_ID`)."""

    worker_name: Annotated[str, Field(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")] = (
        "claude-managed-agents"
    )
    """Worker script name; also the `<worker>` in `<worker>.<subdomain>.workers.dev`."""

    backend: CloudflareBackend = CloudflareBackend.ISOLATE
    """`isolate` (default) or `microvm`; microvm needs `snapshots` credentials and a manual
    container deploy (docs/providers.md)."""

    bundle: WorkerBundle | None = None
    """The built Worker bundle to upload."""

    anthropic_api_key: PulumiSecretInput | None = None
    """`ANTHROPIC_API_KEY`: the template resolves each session's agent with it. This puts an
    organization key in the Worker (a trust trade-off, docs/providers.md)."""

    webhook_secret: PulumiSecretInput | None = None
    """`WEBHOOK_SECRET`: the signing secret of the Anthropic webhook pointed at `/webhooks`."""

    access: CloudflareAccess | None = None
    """Cloudflare Access settings; the template refuses dashboard/API requests without them."""

    workers_dev: bool = True
    """Serve the Worker on `<worker>.<subdomain>.workers.dev`."""

    workers_dev_subdomain: Annotated[str, Field(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")] | None = (
        None
    )
    """The account's workers.dev subdomain; needed to state the webhook URL when workersDev
    is the only route."""

    custom_domain: CloudflareCustomDomain | None = None
    """Serve the Worker (and the webhook) on a hostname of your own instead of, or as well as,
    workers.dev."""

    egress: CloudflareEgress = Field(default_factory=CloudflareEgress)
    """The default egress policy for sandbox sessions."""

    snapshots: CloudflareSnapshots = Field(default_factory=CloudflareSnapshots)
    """MicroVM snapshot storage (read only with `backend: microvm`)."""

    jurisdiction: CloudflareJurisdiction | None = None
    """Keep D1, KV and R2 data in this jurisdiction."""

    cleanup_schedule: str = "0 4 * * *"
    """Cron schedule of the template's cleanup of webhook events and sessions older than 24 h."""

    browser_rendering: bool = False
    """Bind Browser Rendering (`BROWSER`): agents get a headless browser. Reported as a weakening."""

    workers_ai: bool = False
    """Bind Workers AI (`AI`), used by the template's image-generation tool."""

    def rule_errors(self) -> Iterator[PydanticCustomError]:
        required: list[tuple[str, object, str, str]] = [
            (
                "accountId",
                self.account_id,
                "the Cloudflare provider needs the account ID",
                "set sandboxes.cloudflare.accountId (32 hex digits, from the dashboard URL)",
            ),
            (
                "bundle",
                self.bundle,
                "the Cloudflare provider needs the built Worker bundle",
                "set sandboxes.cloudflare.bundle.mainModule to the built entry module "
                "(build the template first; Stockade does not build it)",
            ),
            (
                "anthropicApiKey",
                self.anthropic_api_key,
                "the Cloudflare template needs ANTHROPIC_API_KEY",
                "run `pulumi config set --secret --path 'stockade:sandboxes.cloudflare.anthropicApiKey' "
                "sk-ant-api...`",
            ),
            (
                "webhookSecret",
                self.webhook_secret,
                "the Cloudflare template needs the webhook signing secret (WEBHOOK_SECRET)",
                "create the webhook in the Console, then `pulumi config set --secret --path "
                "'stockade:sandboxes.cloudflare.webhookSecret' whsec_...`",
            ),
            (
                "access",
                self.access,
                "the Cloudflare template serves its dashboard and API only behind Cloudflare Access",
                "set sandboxes.cloudflare.access.teamDomain and .aud (docs/providers.md, Access)",
            ),
        ]
        for key, value, message, fix in required:
            if value is None:
                yield invalid(message, fix, field=key)
        if not self.workers_dev and self.custom_domain is None:
            yield invalid(
                "the webhook needs a URL: workers.dev is off and there is no custom domain",
                "set workersDev: true, or set customDomain.zoneId and customDomain.hostname",
                field="workersDev",
            )
        elif self.workers_dev and self.custom_domain is None and self.workers_dev_subdomain is None:
            yield invalid(
                "the webhook URL on workers.dev needs the account's workers.dev subdomain",
                "set sandboxes.cloudflare.workersDevSubdomain (Workers & Pages -> Overview)",
                field="workersDevSubdomain",
            )
        if not _CRON.match(self.cleanup_schedule.strip()):
            yield invalid("not a five-field cron schedule", "write e.g. '0 4 * * *'", field="cleanupSchedule")
        snapshots = self.snapshots
        has_keys = snapshots.access_key_id is not None or snapshots.secret_access_key is not None
        if self.backend is CloudflareBackend.MICROVM:
            for key, value in (
                ("accessKeyId", snapshots.access_key_id),
                ("secretAccessKey", snapshots.secret_access_key),
            ):
                if value is None:
                    yield invalid(
                        "the microvm backend needs R2 snapshot credentials (without them /workspace "
                        "is discarded on every container hibernation)",
                        f"mint an R2 token for the bucket, then `pulumi config set --secret --path "
                        f"'stockade:sandboxes.cloudflare.snapshots.{key}' ...`",
                        field=f"snapshots.{key}",
                    )
        elif has_keys:
            yield invalid(
                "R2 snapshot credentials are only read with backend: microvm",
                "remove snapshots.accessKeyId/secretAccessKey, or set backend: microvm",
                field="backend",
            )

    @property
    def webhook_url(self) -> str:
        """Where Anthropic's webhook must point (custom domain first)."""
        if self.custom_domain is not None:
            return f"https://{self.custom_domain.hostname}/webhooks"
        return f"https://{self.worker_name}.{self.workers_dev_subdomain}.workers.dev/webhooks"
