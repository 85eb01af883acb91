"""`stockade:tunnel`: the MCP tunnel gateway (vendor contract section 2)."""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator

from stockade.settings.base import SettingsModel
from stockade.settings.problems import invalid
from stockade.settings.secrets import SecretInput
from stockade.settings.types import DomainName, ImageRef, Ipv4Cidr

# The digests the vendor documents (contract 2.1, Aug-Sep 2026 pages). No tags are published.
DEFAULT_PROXY_IMAGE = (
    "us-docker.pkg.dev/anthropic-public-registry/images/mcp-proxy"
    "@sha256:efb27b299d627e4134815663cb8896641eeaee025d734c0f695582b4df38f013"
)
DEFAULT_CLOUDFLARED_IMAGE = (
    "cloudflare/cloudflared@sha256:6b599ca3e974349ead3286d178da61d291961182ec3fe9c505e1dd02c8ac31b0"
)
# cloudflared's edge (contract 2.5). Only the IPv4 range is usable from an IPv4-only VPC.
CLOUDFLARED_EDGE_CIDRS = ("198.41.192.0/19",)
CLOUDFLARED_EDGE_PORT = 7844
_ROUTE_KEY = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9-]{1,63})*$")


class Upstream(SettingsModel):
    """One MCP server behind the tunnel, parsed from `scheme://host:port`."""

    scheme: str
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def ip(self) -> ipaddress.IPv4Address | None:
        try:
            return ipaddress.IPv4Address(self.host)
        except ValueError:
            return None


def parse_upstream(value: Any) -> Upstream:
    """Parse an upstream exactly as the proxy's config loader accepts it (contract 2.2)."""
    if isinstance(value, Upstream):
        return value
    if not isinstance(value, str):
        raise invalid("an upstream is a string", "write it as scheme://host:port")
    fix = "write exactly scheme://host:port, e.g. http://10.1.2.3:8080"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise invalid("the upstream scheme must be http or https", fix)
    if parts.path not in ("",) or parts.query or parts.fragment:
        raise invalid(
            "an upstream has no path; the proxy rejects it at config load",
            fix + " (the request path passes through unchanged)",
        )
    if parts.username or parts.password:
        raise invalid("an upstream carries no credentials", fix)
    host = parts.hostname or ""
    if ":" in host or value.count("[") or host.startswith("["):
        raise invalid("only IPv4 upstreams work", "use an IPv4 address or a name that resolves to one")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not host or port is None:
        raise invalid("the upstream needs a host and an explicit port", fix)
    return Upstream(scheme=parts.scheme, host=host, port=port)


UpstreamUrl = Annotated[
    Upstream,
    BeforeValidator(parse_upstream),
    WithJsonSchema({"type": "string", "pattern": r"^https?://[^/:\s]+:\d{1,5}$"}),
]


class Route(SettingsModel):
    """A route whose target is a DNS name: the CIDR it resolves into must be stated."""

    upstream: UpstreamUrl
    """`scheme://host:port` of the MCP server."""

    target_cidr: Ipv4Cidr
    """The IPv4 network the upstream's name resolves into; feeds `allowed_ips` and egress."""


def _route(value: Any) -> Any:
    if isinstance(value, str):
        upstream = parse_upstream(value)
        if upstream.ip is None:
            raise invalid(
                "a route to a DNS name needs the network it resolves into",
                f"write {{upstream: {value}, targetCidr: <cidr>}} so allowed_ips and egress "
                "stay exact",
            )
        return {"upstream": upstream, "targetCidr": f"{upstream.ip}/32"}
    return value


RouteSpec = Annotated[
    Route,
    BeforeValidator(_route),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "string", "pattern": r"^https?://\d+\.\d+\.\d+\.\d+:\d{1,5}$"},
                {
                    "type": "object",
                    "properties": {
                        "upstream": {"type": "string"},
                        "targetCidr": {"type": "string", "format": "ipv4-cidr"},
                    },
                    "required": ["upstream", "targetCidr"],
                    "additionalProperties": False,
                },
            ]
        }
    ),
]


def _routes_map(value: Any) -> Any:
    if isinstance(value, list):
        raise invalid(
            "routes must be a map of route name to upstream, not a list "
            "(the proxy fails with 'cannot unmarshal !!seq into map[string]string')",
            "write routes as `wiki: http://10.1.2.3:8080` entries",
        )
    return value


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARN = "warn"
    ERROR = "error"


class CertificateSource(StrEnum):
    GENERATED = "generated"
    """Stockade generates the CA (ECDSA P-256) and the wildcard server certificate."""
    PROVIDED = "provided"
    """The customer brings the server certificate and key (manual or setup-job flow)."""


class UpstreamTlsSettings(SettingsModel):
    """How the proxy verifies HTTPS upstreams."""

    ca_certificate_pem: str | None = None
    """PEM of the CA that signs HTTPS upstreams (rendered to `upstream.tls.ca_file`)."""

    include_system_cas: bool = False
    """Also trust the image's system CAs for upstreams."""


class CertificateSettings(SettingsModel):
    """The inner-TLS certificates Anthropic verifies (contract 2.3)."""

    source: CertificateSource = CertificateSource.GENERATED
    """`generated` (Stockade makes and renews them) or `provided`."""

    validity_hours: Annotated[int, Field(ge=24, le=8760)] = 2160
    """Server certificate lifetime (setup's default is 2160h, 90 days)."""

    renew_before_hours: Annotated[int, Field(ge=1, le=8760)] = 720
    """A `pulumi up` within this window of expiry re-issues the server certificate."""

    server_certificate_pem: str | None = None
    """Provided source: the server certificate PEM (public)."""

    server_key: SecretInput | None = None
    """Provided source: the server private key, as a secret."""

    @model_validator(mode="after")
    def _source_inputs(self) -> CertificateSettings:
        if self.renew_before_hours >= self.validity_hours:
            raise invalid(
                "renewBeforeHours must be shorter than validityHours",
                "e.g. validityHours: 2160 with renewBeforeHours: 720",
                field="renewBeforeHours",
            )
        if self.source is CertificateSource.PROVIDED:
            if not self.server_certificate_pem or self.server_key is None:
                raise invalid(
                    "a provided certificate needs serverCertificatePem and serverKey",
                    "set both, or use source: generated",
                    field="serverKey" if self.server_certificate_pem else "serverCertificatePem",
                )
        elif self.server_certificate_pem or self.server_key is not None:
            raise invalid(
                "serverCertificatePem/serverKey are only read with source: provided",
                "remove them, or set source: provided",
                field="source",
            )
        return self


class SetupSettings(SettingsModel):
    """The vendor's `setup` component, authenticated with workload identity federation."""

    enabled: bool = False
    """Run `setup init` as a one-off task and `renew-cert` on a schedule."""

    federation_rule_id: Annotated[str, Field(pattern=r"^fdrl_[A-Za-z0-9]+$")] | None = None
    """`ANTHROPIC_FEDERATION_RULE_ID` (`fdrl_...`)."""

    organization_id: Annotated[str, Field(min_length=8, max_length=64)] | None = None
    """`ANTHROPIC_ORGANIZATION_ID`."""

    workspace_id: Annotated[str, Field(pattern=r"^wrkspc_[A-Za-z0-9]+$")] | None = None
    """`ANTHROPIC_WORKSPACE_ID` when the tunnel lives in a non-default workspace."""

    audience: str = "https://api.anthropic.com"
    """WIF token audience; must match the federation rule byte for byte."""

    @model_validator(mode="after")
    def _wif_inputs(self) -> SetupSettings:
        if self.enabled:
            for name, value in (
                ("federationRuleId", self.federation_rule_id),
                ("organizationId", self.organization_id),
            ):
                if value is None:
                    raise invalid(
                        "the setup task needs WIF settings",
                        f"set tunnel.setup.{name} (see docs/tunnel-gateway.md, WIF steps)",
                        field=name,
                    )
        return self


class TunnelImages(SettingsModel):
    """The two images of the tunnel stack, pinned by digest by default."""

    proxy: ImageRef = DEFAULT_PROXY_IMAGE
    cloudflared: ImageRef = DEFAULT_CLOUDFLARED_IMAGE


class TunnelSettings(SettingsModel):
    """The MCP tunnel gateway: mcp-proxy plus cloudflared, outbound only."""

    enabled: bool = False
    """Deploy the gateway on this stack."""

    routes: Annotated[dict[str, RouteSpec], BeforeValidator(_routes_map)] = Field(
        default_factory=dict
    )
    """Map of route name (bare subdomain or full hostname) to upstream `scheme://host:port`,
    or to `{upstream, targetCidr}` when the host is a DNS name."""

    tunnel_domain: DomainName | None = None
    """The tunnel's domain (`xxxx.tunnel.anthropic.com`); needed when route keys are bare."""

    log_level: LogLevel = LogLevel.INFO
    """Proxy log level."""

    replicas: Annotated[int, Field(ge=1, le=10)] = 2
    """Identical gateway tasks across AZs; prod needs at least 2."""

    allowed_ips: list[Ipv4Cidr] | None = None
    """`upstream.allowed_ips`. Default: exactly the routes' target CIDRs (not all of RFC1918),
    the main SSRF defence. Setting it wider is reported."""

    disable_ip_validation: bool = False
    """Turns off the proxy's SSRF check. Excludes allowedIps; reported as a weakening."""

    upstream_tls: UpstreamTlsSettings = Field(default_factory=UpstreamTlsSettings)
    """CA settings for HTTPS upstreams."""

    images: TunnelImages = Field(default_factory=TunnelImages)
    """mcp-proxy and cloudflared images."""

    token: SecretInput | None = None
    """The tunnel token (`TUNNEL_TOKEN`), a secret."""

    token_version: Annotated[int, Field(ge=1)] = 1
    """Bump to roll the service onto a rotated token."""

    certificates: CertificateSettings = Field(default_factory=CertificateSettings)
    """Inner-TLS certificates."""

    setup: SetupSettings = Field(default_factory=SetupSettings)
    """Optional WIF-authenticated setup and renew-cert task."""

    @model_validator(mode="after")
    def _contract_rules(self) -> TunnelSettings:
        for name in self.routes:
            if not _ROUTE_KEY.match(name):
                raise invalid(
                    f"route name '{name}' is not a subdomain or hostname",
                    "use lowercase letters, digits and hyphens, e.g. wiki or wiki.example.com",
                    field=f"routes.{name}",
                )
        if not self.enabled:
            return self
        if not self.routes:
            raise invalid("an enabled tunnel needs at least one route", "add tunnel.routes", field="routes")
        if any("." not in name for name in self.routes) and self.tunnel_domain is None:
            raise invalid(
                "bare route names need the tunnel domain",
                "set tunnel.tunnelDomain to the domain the Console shows (xxxx.tunnel.anthropic.com)",
                field="tunnelDomain",
            )
        if self.allowed_ips is not None and self.disable_ip_validation:
            raise invalid(
                "allowedIps and disableIpValidation are mutually exclusive",
                "remove disableIpValidation (recommended) or allowedIps",
                field="disableIpValidation",
            )
        https = [n for n, r in self.routes.items() if r.upstream.scheme == "https"]
        tls = self.upstream_tls
        if https and not (tls.ca_certificate_pem or tls.include_system_cas):
            raise invalid(
                f"HTTPS upstreams ({', '.join(sorted(https))}) need a CA to verify them",
                "set tunnel.upstreamTls.caCertificatePem or includeSystemCas: true",
                field="upstreamTls",
            )
        if self.token is None:
            raise invalid(
                "an enabled tunnel needs its token",
                "run `pulumi config set --secret --path 'stockade:tunnel.token' <token>`",
                field="token",
            )
        return self

    @property
    def route_cidrs(self) -> list[ipaddress.IPv4Network]:
        """The routes' target networks, sorted and de-duplicated."""
        return sorted({r.target_cidr for r in self.routes.values()})

    @property
    def effective_allowed_ips(self) -> list[ipaddress.IPv4Network]:
        """What the proxy enforces: the explicit list, else exactly the route targets."""
        return list(self.allowed_ips) if self.allowed_ips is not None else self.route_cidrs
