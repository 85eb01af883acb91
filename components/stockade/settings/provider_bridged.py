"""`stockade:sandboxes.daytona` / `.modal`: polling orchestrators run by `stockade:aws:ProviderBridge`.

The environment variable names follow each provider's reference orchestrator
(daytonaio/daytona guides/python/claude/claude-managed-agents `.env.example`;
the Modal client's `MODAL_TOKEN_ID`/`MODAL_TOKEN_SECRET`).
"""

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated, ClassVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from stockade.settings.base import DEFERRED, SettingsModel, empty_dict, empty_list
from stockade.settings.problems import invalid
from stockade.settings.secrets import PulumiSecret, SecretInput, SecretReference
from stockade.settings.types import DomainName, ImageRef

DAYTONA_API_URL = "https://app.daytona.io/api"
"""Daytona's SDK default for `DAYTONA_API_URL` (daytona.io/docs/en/configuration)."""
MODAL_API_HOST = "api.modal.com"
"""The Modal client's default `server_url` host (modal-labs/modal-client, modal/config.py)."""

EnvName = Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]{0,127}$")]


def _https_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
        raise invalid("not an https:// URL", "write https://host[/path], e.g. https://app.daytona.io/api")
    return value.rstrip("/")


HttpsUrl = Annotated[str, AfterValidator(_https_url)]


class BridgeMode(StrEnum):
    """How the orchestrator learns about work."""

    POLLING = "polling"
    """Long-polls the environment's work queue: outbound HTTPS only."""
    WEBHOOK = "webhook"
    """Receives Anthropic webhooks: needs a public HTTPS endpoint. Refused for the bridge,
    which has no ingress by design."""


class OrchestratorKind(StrEnum):
    """Which program the bridge runs."""

    STOCKADE = "stockade"
    """Stockade's orchestrator (`stockade-orchestrator`, images/orchestrator): one provider
    sandbox per work item from `sessionImage`, with a cap, retention and an egress allowlist."""
    CUSTOM = "custom"
    """Your own image (for example the provider's reference orchestrator), run with `command`
    and `environment` as given; Stockade cannot check what it does."""


class SessionRetention(StrEnum):
    """What Stockade's orchestrator does with a session's sandbox when the session ends."""

    DELETE = "delete"
    """Delete it (nothing of the session stays at the provider)."""
    KEEP = "keep"
    """Stop it and keep its filesystem for `maxIdleDays`, then delete it (Daytona only)."""


class BridgeCpuArchitecture(StrEnum):
    """Spelled like `sandboxes.cpuArchitecture`, so one stack file uses one vocabulary."""

    X86_64 = "x86_64"
    ARM64 = "arm64"

    @property
    def ecs_value(self) -> str:
        """The task definition's `runtimePlatform.cpuArchitecture`."""
        return self.value.upper()


_RESERVED_ENV = re.compile(r"^(ANTHROPIC_|ENVIRONMENT_ID$|DAYTONA_API_KEY$|MODAL_TOKEN_)")
# Set by Stockade for its own orchestrator, from the typed keys below.
_ORCHESTRATOR_ENV = re.compile(r"^(STOCKADE_|MAX_IDLE_DAYS$)")
_STOCKADE_ONLY = {
    "session_image": "sessionImage",
    "max_concurrent_sessions": "maxConcurrentSessions",
    "retention": "retention",
    "max_idle_days": "maxIdleDays",
    "sandbox_allowed_domains": "sandboxAllowedDomains",
}


class BridgeSettings(SettingsModel, ABC):
    """What every bridged orchestrator shares: its image, size and extra environment."""

    model_config = SettingsModel.model_config | DEFERRED

    orchestrator: OrchestratorKind = OrchestratorKind.STOCKADE
    """`stockade` (Stockade's orchestrator, built from images/orchestrator) or `custom`."""

    image: ImageRef | None = None
    """The orchestrator image: Stockade's (images/orchestrator) or, with `orchestrator: custom`,
    your own. Pin it by digest, which prod requires."""

    command: list[str] | None = None
    """`orchestrator: custom` only: override the image's command, e.g.
    `["python", "host_orchestrator_polling.py"]`. Stockade's orchestrator gets `--provider <name>`."""

    session_image: ImageRef | None = None
    """Stockade's orchestrator: the per-session image each provider sandbox is created from
    (Linux, `/bin/bash`, `ant` on the PATH; docs/providers.md). The provider must be able to
    pull it. Daytona gets it as the snapshot `stockade-session-<sha12 of the reference>`."""

    max_concurrent_sessions: Annotated[int, Field(ge=1, le=1000)] = 10
    """Stockade's orchestrator: sandboxes running at once; further work stays queued."""

    retention: SessionRetention = SessionRetention.DELETE
    """Stockade's orchestrator: `delete` a session's sandbox when it ends, or `keep` it stopped
    for `maxIdleDays` (Daytona only)."""

    max_idle_days: Annotated[int, Field(ge=1, le=365)] = 7
    """`retention: keep`: days a stopped sandbox is kept before it is deleted."""

    sandbox_allowed_domains: list[DomainName] = Field(default_factory=empty_list, max_length=100)
    """Stockade's orchestrator: hosts session sandboxes may reach (the provider's domain
    allowlist; the API host is added). Empty leaves their egress open, reported as a weakening."""

    mode: BridgeMode = BridgeMode.POLLING
    """Only `polling` runs behind the bridge; see BridgeMode."""

    cpu: Annotated[int, Field(le=16384)] = 512
    """Fargate CPU units of the orchestrator task."""

    memory_mib: Annotated[int, Field(le=122880)] = 1024
    """Fargate memory of the orchestrator task; must fit the CPU size."""

    cpu_architecture: BridgeCpuArchitecture = BridgeCpuArchitecture.X86_64
    """CPU architecture the image is built for."""

    environment: dict[EnvName, Annotated[str, Field(max_length=4096)]] = Field(default_factory=empty_dict)
    """Extra plain (non-secret) environment for tuning, e.g. `JANITOR_SECONDS`. Names that carry
    credentials or IDs Stockade sets itself are refused."""

    extra_api_hosts: list[DomainName] = Field(default_factory=empty_list, max_length=20)
    """Hosts the orchestrator reaches besides the provider API and api.anthropic.com (for example
    a regional proxy host the provider's SDK uses). Each must be in the network's allowlist."""

    def rule_errors(self) -> Iterator[PydanticCustomError]:
        from stockade.settings.sandboxes import FARGATE_MEMORY_MIB

        if self.mode is BridgeMode.WEBHOOK:
            yield invalid(
                "webhook mode needs a public HTTPS endpoint, and the provider bridge has no ingress "
                "(zero-ingress security group, private subnets, no load balancer)",
                "use mode: polling (same sandboxes, outbound HTTPS only)",
                field="mode",
            )
        if self.cpu not in FARGATE_MEMORY_MIB:
            yield invalid(
                f"{self.cpu} is not a Fargate CPU size",
                "use one of " + ", ".join(str(c) for c in FARGATE_MEMORY_MIB),
                field="cpu",
            )
        else:
            low, high = FARGATE_MEMORY_MIB[self.cpu]
            if not low <= self.memory_mib <= high:
                yield invalid(
                    f"memoryMib {self.memory_mib} does not fit cpu {self.cpu}",
                    f"with cpu {self.cpu}, use memoryMib between {low} and {high}",
                    field="memoryMib",
                )
        stockade = self.orchestrator is OrchestratorKind.STOCKADE
        if stockade:
            yield from self._required(
                "sessionImage",
                self.session_image,
                "Stockade's orchestrator needs the per-session image its sandboxes run",
                "set sessionImage to an image with /bin/bash and `ant` (docs/providers.md, "
                "'The session image'), pinned by digest",
            )
            if self.command is not None:
                yield invalid(
                    "Stockade's orchestrator takes no command override (the bridge passes --provider)",
                    "remove command, or set orchestrator: custom to run your own image",
                    field="command",
                )
        else:
            for name in sorted(self.model_fields_set & set(_STOCKADE_ONLY)):
                yield invalid(
                    f"{_STOCKADE_ONLY[name]} is only read by Stockade's orchestrator",
                    "remove it, or set orchestrator: stockade",
                    field=_STOCKADE_ONLY[name],
                )
        if "max_idle_days" in self.model_fields_set and self.retention is not SessionRetention.KEEP:
            yield invalid(
                "maxIdleDays is only read with retention: keep",
                "remove maxIdleDays, or set retention: keep",
                field="maxIdleDays",
            )
        for name in self.environment:
            if stockade and _ORCHESTRATOR_ENV.match(name):
                yield invalid(
                    f"{name} is set by Stockade for its orchestrator",
                    "use the typed keys instead (maxConcurrentSessions, retention, maxIdleDays, "
                    "sandboxAllowedDomains)",
                    field=f"environment.{name}",
                )
            if _RESERVED_ENV.match(name):
                yield invalid(
                    f"{name} is set by Stockade (or carries a credential) and cannot be overridden here",
                    "remove it; credentials go in the provider's secret settings",
                    field=f"environment.{name}",
                )

    @property
    def container_command(self) -> list[str] | None:
        """The bridge container's command: `--provider <name>` for Stockade's orchestrator."""
        if self.orchestrator is OrchestratorKind.STOCKADE:
            return ["--provider", self.provider_name]
        return self.command

    def orchestrator_environment(self) -> dict[str, str]:
        """What Stockade's orchestrator reads (stockade.orchestrators.config); empty for custom."""
        if self.orchestrator is not OrchestratorKind.STOCKADE:
            return {}
        assert self.session_image is not None  # enforced by validation
        env = {
            "STOCKADE_SESSION_IMAGE": self.session_image,
            "STOCKADE_MAX_CONCURRENT_SESSIONS": str(self.max_concurrent_sessions),
            "STOCKADE_RETENTION": self.retention.value,
        }
        if self.retention is SessionRetention.KEEP:
            env["MAX_IDLE_DAYS"] = str(self.max_idle_days)
        if self.sandbox_allowed_domains:
            env["STOCKADE_SANDBOX_ALLOWED_DOMAINS"] = ",".join(self.sandbox_allowed_domains)
        return env

    provider_name: ClassVar[str]

    @property
    def api_hosts(self) -> list[str]:
        """Every host besides the vendor API the orchestrator must reach on 443."""
        return sorted({*self._provider_hosts(), *self.extra_api_hosts})

    def _required(self, key: str, value: object, message: str, fix: str) -> Iterator[PydanticCustomError]:
        if value is None:
            yield invalid(message, fix, field=key)

    @abstractmethod
    def _provider_hosts(self) -> list[str]:
        """The provider API's host(s)."""

    @abstractmethod
    def plain_environment(self, environment_id: str) -> dict[str, str]:
        """Plain environment variables of the orchestrator container."""

    @abstractmethod
    def secret_environment(
        self, environment_key: PulumiSecret | SecretReference
    ) -> dict[str, PulumiSecret | SecretReference]:
        """Secret environment variables (delivered as ECS secrets, never plain env)."""


class DaytonaTarget(StrEnum):
    US = "us"
    EU = "eu"


class DaytonaSettings(BridgeSettings):
    """`provider: daytona`: a polling orchestrator that starts Daytona sandboxes, run by the bridge."""

    provider_name: ClassVar[str] = "daytona"

    api_key: SecretInput | None = None
    """`DAYTONA_API_KEY`: a Pulumi secret or an existing Secrets Manager secret's ARN."""

    api_url: HttpsUrl = DAYTONA_API_URL
    """`DAYTONA_API_URL`; its host feeds the egress allowlist check."""

    target: DaytonaTarget | None = None
    """`DAYTONA_TARGET`: the region sandboxes are created in (`us` or `eu`)."""

    default_snapshot_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,128}$")] | None = None
    """`DEFAULT_SNAPSHOT_NAME`: the per-session sandbox snapshot (default: the reference's
    hash-named `byoc-env-default-<sha8>`)."""

    def rule_errors(self) -> Iterator[PydanticCustomError]:
        yield from super().rule_errors()
        yield from self._required(
            "image",
            self.image,
            "the Daytona bridge needs the orchestrator image",
            "build images/orchestrator/Dockerfile (docs/providers.md), push it to ECR and set "
            "sandboxes.daytona.image (pinned by digest)",
        )
        yield from self._required(
            "apiKey",
            self.api_key,
            "the Daytona bridge needs DAYTONA_API_KEY",
            "run `pulumi config set --secret --path 'stockade:sandboxes.daytona.apiKey' dtn_...` "
            "or give an existing secret's ARN",
        )

    def _provider_hosts(self) -> list[str]:
        return [urlsplit(self.api_url).hostname or ""]

    def plain_environment(self, environment_id: str) -> dict[str, str]:
        env = {
            **self.environment,
            **self.orchestrator_environment(),
            "ENVIRONMENT_ID": environment_id,
            "DAYTONA_API_URL": self.api_url,
        }
        if self.target is not None:
            env["DAYTONA_TARGET"] = self.target.value
        if self.default_snapshot_name is not None:
            env["DEFAULT_SNAPSHOT_NAME"] = self.default_snapshot_name
        return env

    def secret_environment(
        self, environment_key: PulumiSecret | SecretReference
    ) -> dict[str, PulumiSecret | SecretReference]:
        assert self.api_key is not None  # enforced by validation
        return {"ANTHROPIC_ENVIRONMENT_KEY": environment_key, "DAYTONA_API_KEY": self.api_key}


class ModalSettings(BridgeSettings):
    """`provider: modal`: a polling orchestrator that starts Modal Sandboxes, run by the bridge."""

    provider_name: ClassVar[str] = "modal"

    token_id: Annotated[str, Field(pattern=r"^ak-[A-Za-z0-9]+$")] | None = None
    """`MODAL_TOKEN_ID` (`ak-...`): identifies the token; not secret on its own."""

    token_secret: SecretInput | None = None
    """`MODAL_TOKEN_SECRET` (`as-...`): a Pulumi secret or an existing secret's ARN."""

    environment_name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")] | None = None
    """`MODAL_ENVIRONMENT`: the Modal environment sandboxes are created in."""

    def rule_errors(self) -> Iterator[PydanticCustomError]:
        yield from super().rule_errors()
        yield from self._required(
            "image",
            self.image,
            "the Modal bridge needs the orchestrator image",
            "build images/orchestrator/Dockerfile (docs/providers.md), push it to ECR and set "
            "sandboxes.modal.image (pinned by digest)",
        )
        if self.retention is SessionRetention.KEEP:
            yield invalid(
                "Modal Sandboxes cannot be stopped and kept; a session's files end with its Sandbox",
                "use retention: delete",
                field="retention",
            )
        yield from self._required(
            "tokenId",
            self.token_id,
            "the Modal bridge needs MODAL_TOKEN_ID",
            "create a token in Modal (Settings -> API Tokens) and set sandboxes.modal.tokenId: ak-...",
        )
        yield from self._required(
            "tokenSecret",
            self.token_secret,
            "the Modal bridge needs MODAL_TOKEN_SECRET",
            "run `pulumi config set --secret --path 'stockade:sandboxes.modal.tokenSecret' as-...` "
            "or give an existing secret's ARN",
        )

    def _provider_hosts(self) -> list[str]:
        return [MODAL_API_HOST]

    def plain_environment(self, environment_id: str) -> dict[str, str]:
        assert self.token_id is not None  # enforced by validation
        env = {
            **self.environment,
            **self.orchestrator_environment(),
            "ANTHROPIC_ENVIRONMENT_ID": environment_id,
            "MODAL_TOKEN_ID": self.token_id,
        }
        if self.environment_name is not None:
            env["MODAL_ENVIRONMENT"] = self.environment_name
        return env

    def secret_environment(
        self, environment_key: PulumiSecret | SecretReference
    ) -> dict[str, PulumiSecret | SecretReference]:
        assert self.token_secret is not None  # enforced by validation
        return {"ANTHROPIC_ENVIRONMENT_KEY": environment_key, "MODAL_TOKEN_SECRET": self.token_secret}
