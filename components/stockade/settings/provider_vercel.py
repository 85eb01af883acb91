"""`stockade:sandboxes.vercel`: the Vercel project hosting the integration's webhook Function."""

from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from stockade.settings.base import DEFERRED, SettingsModel, empty_list
from stockade.settings.problems import invalid
from stockade.settings.provider_bridged import EnvName
from stockade.settings.secrets import PulumiSecretInput
from stockade.settings.types import DomainName


class GitProvider(StrEnum):
    GITHUB = "github"
    GITLAB = "gitlab"
    BITBUCKET = "bitbucket"


class VercelGitRepository(SettingsModel):
    """The repository whose production branch Vercel builds and deploys."""

    model_config = SettingsModel.model_config | DEFERRED

    type: GitProvider
    """`github`, `gitlab` or `bitbucket`."""

    repo: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")]
    """`owner/name`."""

    production_branch: Annotated[str, Field(min_length=1, max_length=255)] = "main"
    """Commits here become production deployments."""


class VercelEnvNames(SettingsModel):
    """Names of the environment variables the Function reads (defaults follow the vendor SDK)."""

    model_config = SettingsModel.model_config | DEFERRED

    environment_id: EnvName = "ANTHROPIC_ENVIRONMENT_ID"
    environment_key: EnvName = "ANTHROPIC_ENVIRONMENT_KEY"
    webhook_signing_key: EnvName = "ANTHROPIC_WEBHOOK_SIGNING_KEY"
    sandbox_allowed_domains: EnvName = "SANDBOX_ALLOWED_DOMAINS"
    sandbox_image: EnvName = "SANDBOX_IMAGE"

    def rule_errors(self) -> Iterator[PydanticCustomError]:
        seen: dict[str, str] = {}
        for field_name, value in self.model_dump().items():
            if value in seen:
                yield invalid(
                    f"{to_camel(field_name)} and {to_camel(seen[value])} are both {value}",
                    "give each variable its own name",
                    field=to_camel(field_name),
                )
            seen.setdefault(value, field_name)


def _project_directory(value: str) -> str:
    parts = value.split("/")
    if (
        not value
        or value.startswith("/")
        or ".." in parts
        or len(value) > 255
        or not all(ch.isalnum() or ch in "._/-" for ch in value)
    ):
        raise invalid(
            "not a directory path inside the project",
            "write a relative path without '..', e.g. providers/vercel-function",
        )
    return value.rstrip("/")


class VercelSettings(SettingsModel):
    """`provider: vercel`: the Vercel project hosting the integration's webhook Function."""

    model_config = SettingsModel.model_config | DEFERRED

    project_name: Annotated[str, Field(pattern=r"^[a-z0-9](?:[a-z0-9._-]{0,98}[a-z0-9])?$")] = (
        "claude-managed-agents"
    )
    """Vercel project name; the default URL is `https://<name>.vercel.app`."""

    team_id: Annotated[str, Field(pattern=r"^team_[A-Za-z0-9]+$")] | None = None
    """Vercel team (`team_...`) owning the project; else the provider's default team."""

    framework: Annotated[str, Field(pattern=r"^[a-z0-9-]+$")] = "nextjs"
    """Vercel framework preset of the Function's app."""

    node_version: Annotated[str, Field(pattern=r"^(2[2-9]|[3-9]\d)\.x$")] = "22.x"
    """Node.js runtime (the integration needs Node 22+)."""

    root_directory: str | None = None
    """Directory of the app inside the repository."""

    git_repository: VercelGitRepository | None = None
    """Connect the project to a repository so pushes deploy; without it, deploy with the
    Vercel CLI (Stockade does not create deployments)."""

    function_region: Annotated[str, Field(pattern=r"^[a-z]{3}\d$")] | None = None
    """Region of the Function (e.g. `iad1`)."""

    production_domain: DomainName | None = None
    """A custom production hostname; the webhook URL uses it instead of `<name>.vercel.app`."""

    webhook_path: Annotated[str, Field(pattern=r"^/[A-Za-z0-9/_.-]*$")] = "/api/webhook"
    """Path of the Function that receives `session.status_run_started`."""

    webhook_signing_key: PulumiSecretInput | None = None
    """The Anthropic webhook's signing secret (`whsec_...`), stored as a sensitive variable."""

    sandbox_allowed_domains: list[DomainName] = Field(default_factory=empty_list, max_length=500)
    """Hosts the per-session Sandbox may reach, passed to the Function as a comma-separated
    variable for its `networkPolicy`. Empty is reported as a weakening."""

    sandbox_image: Annotated[str, Field(pattern=r"^[a-z0-9][A-Za-z0-9._/:@-]{0,511}$")] | None = None
    """The Vercel Container Registry image each session's Sandbox starts from (it must have
    `ant` on the PATH; docs/providers.md), passed as `SANDBOX_IMAGE`. Stockade's Function
    (providers/vercel-function) needs it; pin it by digest (`repo@sha256:...`)."""

    function_directory: Annotated[str, AfterValidator(_project_directory)] | None = None
    """Deploy the Function from this project-relative directory on `pulumi up` (a production
    deployment of its sources; Vercel installs and builds them), e.g. `providers/vercel-function`,
    Stockade's Function. Unset: a connected repository or `vercel deploy` deploys it."""

    env_names: VercelEnvNames = Field(default_factory=VercelEnvNames)
    """Variable names, when the Function reads different ones."""

    def rule_errors(self) -> Iterator[PydanticCustomError]:
        yield from super().rule_errors()
        if self.webhook_signing_key is None:
            yield invalid(
                "the Vercel Function needs the Anthropic webhook's signing secret",
                "create the webhook (docs/providers.md, Vercel), then `pulumi config set --secret "
                "--path 'stockade:sandboxes.vercel.webhookSigningKey' whsec_...`",
                field="webhookSigningKey",
            )

    @property
    def webhook_url(self) -> str:
        host = self.production_domain or f"{self.project_name}.vercel.app"
        return f"https://{host}{self.webhook_path}"
