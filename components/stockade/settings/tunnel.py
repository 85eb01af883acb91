"""`stockade:tunnel`: the MCP tunnel gateway (docs/vendor-interface.md §2)."""

import ipaddress
import re
from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from stockade.netplan.aws_limits import MAX_UPSTREAM_TARGETS, SECURITY_GROUP_RULE_QUOTA
from stockade.settings.base import SettingsModel, empty_dict, empty_list
from stockade.settings.problems import invalid
from stockade.settings.sandboxes import AlarmSubscription
from stockade.settings.secrets import SecretInput
from stockade.settings.types import DomainName, ImageRef, Ipv4Cidr, is_pinned

# The digests the vendor documents (docs/vendor-interface.md §2.1, Aug-Sep 2026 pages); no tags exist.
DEFAULT_PROXY_IMAGE = (
    "us-docker.pkg.dev/anthropic-public-registry/images/mcp-proxy"
    "@sha256:efb27b299d627e4134815663cb8896641eeaee025d734c0f695582b4df38f013"
)
DEFAULT_CLOUDFLARED_IMAGE = (
    "cloudflare/cloudflared@sha256:6b599ca3e974349ead3286d178da61d291961182ec3fe9c505e1dd02c8ac31b0"
)
# busybox 1.36.1 (Docker Hub's multi-arch index digest, as recorded in several public projects in
# 2026; verify with `crane digest busybox:1.36.1` before relying on it). Only `sh`, `printf` and
# `chmod` are used.
DEFAULT_INIT_IMAGE = "busybox@sha256:73aaf090f3d85aa34ee199857f03fa3a95c8ede2ffd4cc2cdb5b94e566b11662"
# Where api.anthropic.com receives connections (P+api/ip-addresses, inbound IPv4).
ANTHROPIC_API_CIDRS = ("160.79.104.0/23",)
# cloudflared's edge (docs/vendor-interface.md §2.5). Only the IPv4 range is usable from an IPv4-only VPC.
CLOUDFLARED_EDGE_CIDRS = ("198.41.192.0/19",)
CLOUDFLARED_EDGE_PORT = 7844
# Networks no upstream may be in: the proxy dials from inside the gateway task, where 169.254/16
# holds the Fargate task metadata and credentials endpoint and 127/8 the task's own containers
# (cloudflared's metrics, the proxy itself). The rest are not unicast hosts at all.
FORBIDDEN_TARGETS: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (ipaddress.IPv4Network("0.0.0.0/8"), "'this network', not a host"),
    (ipaddress.IPv4Network("127.0.0.0/8"), "loopback: the gateway task's own containers"),
    (ipaddress.IPv4Network("169.254.0.0/16"), "link-local: the Fargate task metadata and credentials"),
    (ipaddress.IPv4Network("224.0.0.0/4"), "multicast"),
    (ipaddress.IPv4Network("240.0.0.0/4"), "reserved and broadcast"),
)
# A route's targetCidr becomes the proxy's allowed_ips (its SSRF check) and the gateway's egress;
# a /16 is already a whole VPC-sized network, so anything wider needs tunnel.allowWideTargets.
WIDEST_TARGET_PREFIX = 16
# Wider than one subnet-sized /24 is accepted but reported.
REPORTED_TARGET_PREFIX = 24
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
    """Parse an upstream exactly as the proxy's config loader accepts it (docs/vendor-interface.md §2.2)."""
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
    if not host or not port:
        raise invalid("the upstream needs a host and an explicit port (1-65535)", fix)
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

    def rule_errors(self) -> Iterator[PydanticCustomError]:
        overlapped = [
            f"{network} ({why})" for network, why in FORBIDDEN_TARGETS if self.target_cidr.overlaps(network)
        ]
        if overlapped:
            yield invalid(
                f"the target {self.target_cidr} overlaps {', '.join(overlapped)}; the proxy must never "
                "be allowed to dial it",
                "point the route at the MCP server's own address or subnet",
                field="targetCidr",
            )
        ip = self.upstream.ip
        if ip is not None and ip not in self.target_cidr:
            yield invalid(
                f"the upstream {ip} is outside its targetCidr {self.target_cidr}",
                f"set targetCidr to a network holding {ip}, e.g. {ip}/32",
                field="targetCidr",
            )


def _route(value: Any) -> Any:
    if isinstance(value, str):
        upstream = parse_upstream(value)
        if upstream.ip is None:
            raise invalid(
                "a route to a DNS name needs the network it resolves into",
                f"write {{upstream: {value}, targetCidr: <cidr>}} so allowed_ips and egress stay exact",
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
    """Stockade generates the CA (ECDSA P-256) and the wildcard server certificate with pulumi-tls."""
    PROVIDED = "provided"
    """The customer brings the server certificate and key (made by hand or by `setup` elsewhere)."""
    SETUP = "setup"
    """The setup task (`tunnel.setup`) generates, registers and renews them and publishes the
    token; Stockade only delivers what it published."""


class ServerKeyAlgorithm(StrEnum):
    ECDSA = "ECDSA"
    """ECDSA P-256, like the CA."""
    RSA = "RSA"
    """RSA 4096, what the vendor's setup generates."""


class UpstreamTlsSettings(SettingsModel):
    """How the proxy verifies HTTPS upstreams."""

    ca_certificate_pem: str | None = None
    """PEM of the CA that signs HTTPS upstreams (rendered to `upstream.tls.ca_file`)."""

    include_system_cas: bool = False
    """Also trust the image's system CAs for upstreams."""

    def rule_errors(self) -> Iterator[PydanticCustomError]:
        if self.ca_certificate_pem is not None:
            from stockade.tunnel.certificate_rules import load_certificates

            try:
                load_certificates(self.ca_certificate_pem)
            except ValueError as exc:
                yield invalid(str(exc), "paste the CA certificate PEM", field="caCertificatePem")


class CertificateSettings(SettingsModel):
    """The inner-TLS certificates Anthropic verifies (docs/vendor-interface.md §2.3)."""

    source: CertificateSource = CertificateSource.GENERATED
    """`generated` (Stockade makes and renews them), `provided` or `setup`."""

    validity_hours: Annotated[int, Field(ge=24, le=8760)] = 2160
    """Server certificate lifetime (setup's default is 2160h, 90 days)."""

    renew_before_hours: Annotated[int, Field(ge=1, le=8760)] = 720
    """A `pulumi up` (generated) or the renew-cert schedule (setup) within this window of expiry
    re-issues the server certificate."""

    ca_validity_hours: Annotated[int, Field(ge=8760, le=87600)] = 43800
    """Generated source: CA lifetime (setup's CA lives 5 years, 43800h). A new CA must be
    registered with Anthropic before it is used (docs/runbooks/tunnel-rotation.md)."""

    server_key_algorithm: ServerKeyAlgorithm = ServerKeyAlgorithm.ECDSA
    """Generated source: the server key type (`ECDSA` P-256 or `RSA` 4096)."""

    server_certificate_pem: str | None = None
    """Provided source: the server certificate PEM (public)."""

    server_key: SecretInput | None = None
    """Provided source: the server private key, as a secret."""

    def rule_errors(self) -> Iterator[PydanticCustomError]:
        if self.renew_before_hours >= self.validity_hours:
            yield invalid(
                "renewBeforeHours must be shorter than validityHours",
                "e.g. validityHours: 2160 with renewBeforeHours: 720",
                field="renewBeforeHours",
            )
        if self.source is CertificateSource.PROVIDED:
            if not self.server_certificate_pem or self.server_key is None:
                yield invalid(
                    "a provided certificate needs serverCertificatePem and serverKey",
                    "set both, or use source: generated",
                    field="serverKey" if self.server_certificate_pem else "serverCertificatePem",
                )
            if not self.server_certificate_pem:
                return
            from stockade.tunnel.certificate_rules import load_certificates

            try:
                load_certificates(self.server_certificate_pem)
            except ValueError as exc:
                yield invalid(str(exc), "paste the server certificate PEM", field="serverCertificatePem")
        elif self.server_certificate_pem or self.server_key is not None:
            yield invalid(
                "serverCertificatePem/serverKey are only read with source: provided",
                "remove them, or set source: provided",
                field="source",
            )


class SetupSettings(SettingsModel):
    """The vendor's `setup` component, authenticated with workload identity federation (AWS target)."""

    enabled: bool = False
    """Create the setup task (`setup init`, run on demand) and the scheduled `renew-cert` task.
    Without `tunnelId`, its first run creates a tunnel; an organization may have at most 10
    active tunnels (archive unused ones: docs/runbooks/destroy-an-environment.md)."""

    federation_rule_id: Annotated[str, Field(pattern=r"^fdrl_[A-Za-z0-9]+$")] | None = None
    """`ANTHROPIC_FEDERATION_RULE_ID` (`fdrl_...`)."""

    organization_id: Annotated[str, Field(min_length=8, max_length=64)] | None = None
    """`ANTHROPIC_ORGANIZATION_ID`."""

    workspace_id: Annotated[str, Field(pattern=r"^wrkspc_[A-Za-z0-9]+$")] | None = None
    """`ANTHROPIC_WORKSPACE_ID` when the tunnel lives in a non-default workspace."""

    audience: Annotated[str, Field(min_length=1, max_length=256)] = "https://api.anthropic.com"
    """WIF token audience; must match the federation rule byte for byte (the AWS page uses
    `https://api.anthropic.com`, the Helm chart's default is `api.anthropic.com`)."""

    tunnel_id: Annotated[str, Field(pattern=r"^tnl_[A-Za-z0-9]+$")] | None = None
    """`TUNNEL_ID` of an existing tunnel to attach to; unset creates one on the first run
    (which counts against the organization's limit of 10 active tunnels)."""

    api_cidrs: Annotated[list[Ipv4Cidr], Field(min_length=1, max_length=10)] = Field(
        default_factory=lambda: [ipaddress.IPv4Network(c) for c in ANTHROPIC_API_CIDRS]
    )
    """Where `api.anthropic.com` answers (the vendor's published inbound range); the setup task
    may reach only these on 443."""

    renew_schedule: Annotated[str, Field(pattern=r"^(rate|cron)\(.+\)$")] = "rate(1 day)"
    """EventBridge Scheduler expression for `renew-cert --renew-before <renewBeforeHours>h`."""

    def rule_errors(self) -> Iterator[PydanticCustomError]:
        if self.enabled:
            for name, value in (
                ("federationRuleId", self.federation_rule_id),
                ("organizationId", self.organization_id),
            ):
                if value is None:
                    yield invalid(
                        "the setup task needs WIF settings",
                        f"set tunnel.setup.{name} (see docs/tunnel-gateway.md, WIF steps)",
                        field=name,
                    )
        if self.audience != self.audience.strip():
            yield invalid(
                "the audience has leading or trailing spaces; it must match the federation rule "
                "byte for byte",
                "write it exactly as the rule has it, e.g. https://api.anthropic.com",
                field="audience",
            )


class TunnelImages(SettingsModel):
    """The tunnel stack's images, each pinned by digest (the vendor publishes no tags)."""

    proxy: ImageRef = DEFAULT_PROXY_IMAGE
    """mcp-proxy (also carries the `/setup` binary)."""

    cloudflared: ImageRef = DEFAULT_CLOUDFLARED_IMAGE
    """cloudflared."""

    init: ImageRef = DEFAULT_INIT_IMAGE
    """A busybox that writes the proxy's config and TLS files into the task's volumes at start."""

    aws_cli: ImageRef | None = None
    """AWS CLI v2 (2.31 or later, for `sts get-web-identity-token`); needed by the setup task."""

    mirror: bool = True
    """AWS target: pull every image from ECR repositories Stockade creates in this account (copy
    the images there by digest first, see docs/tunnel-gateway.md), so pulls stay on the VPC
    endpoints. Images already in a private ECR registry are used as they are. `false` pulls from
    the public registries, which opens HTTPS to any address from the gateway; reported."""

    def rule_errors(self) -> Iterator[PydanticCustomError]:
        for name in ("proxy", "cloudflared", "init", "aws_cli"):
            image = getattr(self, name)
            if image is not None and not is_pinned(image):
                alias = "awsCli" if name == "aws_cli" else name
                yield invalid(
                    "tunnel images must be pinned by digest (the vendor publishes no tags, and a tag "
                    "can change under a running tunnel)",
                    "append @sha256:<digest>, e.g. `crane digest <image>` tells you the current one",
                    field=alias,
                )


class TunnelAlarmSettings(SettingsModel):
    """CloudWatch alarms on the gateway (AWS target)."""

    enabled: bool = True
    """Create the alarms and their SNS topic."""

    ip_validation_failures: Annotated[int, Field(ge=1, le=10000)] = 5
    """`IP validation failed` lines per period that count as a probe (a possible SSRF attempt)."""

    period_minutes: Annotated[int, Field(ge=1, le=60)] = 5
    """Length of one evaluation period."""

    sustained_periods: Annotated[int, Field(ge=1, le=24)] = 3
    """Consecutive periods over the threshold before the alarm fires."""

    subscriptions: list[AlarmSubscription] = Field(default_factory=empty_list, max_length=10)
    """Subscriptions to the (KMS-encrypted) alarm topic. Email subscriptions must be confirmed
    from the inbox before they deliver."""


# Fargate's CPU units and the memory each allows (MiB), as the ECS API accepts them.
FARGATE_MEMORY: dict[int, range] = {
    256: range(512, 2049, 512),
    512: range(1024, 4097, 1024),
    1024: range(2048, 8193, 1024),
    2048: range(4096, 16385, 1024),
    4096: range(8192, 30721, 1024),
}


class TunnelSettings(SettingsModel):
    """The MCP tunnel gateway: mcp-proxy plus cloudflared, outbound only."""

    enabled: bool = False
    """Deploy the gateway on this stack."""

    routes: Annotated[dict[str, RouteSpec], BeforeValidator(_routes_map)] = Field(default_factory=empty_dict)
    """Map of route name (bare subdomain or full hostname) to upstream `scheme://host:port`,
    or to `{upstream, targetCidr}` when the host is a DNS name."""

    tunnel_domain: DomainName | None = None
    """The tunnel's domain (`xxxx.tunnel.anthropic.com`); needed when route keys are bare, and
    the generated server certificate is `*.<tunnelDomain>`."""

    log_level: LogLevel = LogLevel.INFO
    """Proxy log level."""

    replicas: Annotated[int, Field(ge=1, le=10)] = 2
    """Identical gateway tasks across AZs; prod needs at least 2."""

    allowed_ips: list[Ipv4Cidr] | None = None
    """`upstream.allowed_ips`. Default: exactly the routes' target CIDRs (not all of RFC1918),
    the main SSRF defence. Setting it wider is reported."""

    disable_ip_validation: bool = False
    """Turns off the proxy's SSRF check. Excludes allowedIps; reported as a weakening."""

    allow_wide_targets: bool = False
    """Accept route targetCidrs wider than /16 (they become the proxy's allowed_ips and the
    gateway's egress, so a /8 lets the proxy reach a whole private network). Reported."""

    upstream_tls: UpstreamTlsSettings = Field(default_factory=UpstreamTlsSettings)
    """CA settings for HTTPS upstreams."""

    images: TunnelImages = Field(default_factory=TunnelImages)
    """Images of the gateway and setup tasks."""

    token: SecretInput | None = None
    """The tunnel token (`TUNNEL_TOKEN`), a secret. Not set with certificates.source: setup,
    where the setup task publishes it."""

    token_version: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    """Bump to roll the service onto a rotated token (and, with setup, to rotate it)."""

    certificates: CertificateSettings = Field(default_factory=CertificateSettings)
    """Inner-TLS certificates."""

    setup: SetupSettings = Field(default_factory=SetupSettings)
    """Optional WIF-authenticated setup and renew-cert tasks."""

    health_check: bool = False
    """Container health check on cloudflared (`cloudflared tunnel --metrics ... ready`, a command
    added in late 2024, cloudflare/cloudflared#1135). Off by default: Stockade has not verified
    that the pinned cloudflared digest has `ready`, and without it ECS would replace every gateway
    task forever. Turn on once `docker run --rm <image> tunnel ready --help` works for your digest."""

    task_cpu: Literal[256, 512, 1024, 2048, 4096] = 512
    """Fargate CPU units per gateway task."""

    task_memory_mib: Annotated[int, Field(ge=512, le=30720)] = 1024
    """Fargate memory per gateway task; must suit taskCpu."""

    alarms: TunnelAlarmSettings = Field(default_factory=TunnelAlarmSettings)
    """Alarms on the gateway."""

    allow_plain_http_to_public_targets: bool = False
    """Accept `http://` routes whose targetCidr is a public network: the MCP traffic then
    crosses the internet unencrypted after the proxy. Reported as a weakening."""

    def rule_errors(self) -> Iterator[PydanticCustomError]:
        for name in self.routes:
            if not _ROUTE_KEY.match(name):
                yield invalid(
                    f"route name '{name}' is not a subdomain or hostname",
                    "use lowercase letters, digits and hyphens, e.g. wiki or wiki.example.com",
                    field=f"routes.{name}",
                )
        if self.task_memory_mib not in FARGATE_MEMORY[self.task_cpu]:
            allowed = FARGATE_MEMORY[self.task_cpu]
            yield invalid(
                f"this size does not exist on Fargate: {self.task_cpu} CPU units with "
                f"{self.task_memory_mib} MiB",
                f"pick {allowed.start}-{allowed.stop - 1} MiB in steps of {allowed.step}",
                field="taskMemoryMib",
            )
        if not self.allow_wide_targets:
            for name, route in sorted(self.routes.items()):
                if route.target_cidr.prefixlen < WIDEST_TARGET_PREFIX:
                    yield invalid(
                        f"the target {route.target_cidr} is wider than /{WIDEST_TARGET_PREFIX}; it becomes "
                        "the proxy's allowed_ips, so the SSRF check would pass almost anything",
                        "narrow targetCidr to the network the MCP server's name resolves into, or set "
                        "tunnel.allowWideTargets: true (reported as a weakening)",
                        field=f"routes.{name}.targetCidr",
                    )
        yield from self._public_plain_http_errors()
        targets = len(self.upstream_targets)
        if targets > MAX_UPSTREAM_TARGETS:
            yield invalid(
                f"the routes name {targets} distinct (targetCidr, port) pairs; each is one outbound rule "
                f"of the gateway's security group, which AWS caps at {SECURITY_GROUP_RULE_QUOTA} rules by "
                f"default (quota 'Inbound or outbound rules per security group', L-0EA8095F), and "
                f"{SECURITY_GROUP_RULE_QUOTA - MAX_UPSTREAM_TARGETS} are taken by the edge and AWS APIs",
                f"group routes onto shared targetCidrs and ports (at most {MAX_UPSTREAM_TARGETS} pairs), "
                "or split them across stacks",
                field="routes",
            )
        if not self.enabled:
            return
        if not self.routes:
            yield invalid(
                "an enabled tunnel needs at least one route", "add stockade:tunnel.routes", field="routes"
            )
        yield from self._route_name_errors()
        if self.allowed_ips is not None and self.disable_ip_validation:
            yield invalid(
                "allowedIps and disableIpValidation are mutually exclusive",
                "remove disableIpValidation (recommended) or allowedIps",
                field="disableIpValidation",
            )
        if self.allowed_ips is not None:
            outside = [
                f"{name} ({route.target_cidr})"
                for name, route in sorted(self.routes.items())
                if not any(route.target_cidr.subnet_of(allowed) for allowed in self.allowed_ips)
            ]
            if outside:
                yield invalid(
                    "allowedIps leaves out route targets, so the proxy would refuse them "
                    f"('IP validation failed'): {', '.join(outside)}",
                    "remove allowedIps (it defaults to exactly the route targets) or add those CIDRs",
                    field="allowedIps",
                )
        https = [n for n, r in self.routes.items() if r.upstream.scheme == "https"]
        tls = self.upstream_tls
        if https and not (tls.ca_certificate_pem or tls.include_system_cas):
            yield invalid(
                f"routes to HTTPS upstreams ({', '.join(sorted(https))}) need a CA to verify them",
                "set tunnel.upstreamTls.caCertificatePem or includeSystemCas: true",
                field="upstreamTls",
            )
        yield from self._credential_errors()

    def _public_plain_http_errors(self) -> Iterator[PydanticCustomError]:
        if self.allow_plain_http_to_public_targets:
            return
        for name, route in sorted(self.routes.items()):
            if route.upstream.scheme == "http" and route.target_cidr.is_global:
                yield invalid(
                    f"the route sends plain HTTP to a public network ({route.target_cidr}): anyone on the "
                    "path reads and changes the MCP traffic",
                    f"use https:// for stockade:tunnel.routes.{name}, or spell out "
                    "stockade:tunnel.allowPlainHttpToPublicTargets: true (reported as a weakening)",
                    field=f"routes.{name}",
                )

    def _route_name_errors(self) -> Iterator[PydanticCustomError]:
        domain = self.tunnel_domain
        if domain is None:
            # With setup, the first run has no domain yet: the setup task creates the tunnel and
            # prints it; the gateway waits at zero tasks until tunnelDomain is set.
            if self.certificates.source is CertificateSource.SETUP:
                return
            if any("." not in name for name in self.routes):
                yield invalid(
                    "bare route names need the tunnel domain",
                    "set tunnel.tunnelDomain to the domain the Console shows (xxxx.tunnel.anthropic.com)",
                    field="tunnelDomain",
                )
            return
        for name in self.routes:
            if "." in name and (not name.endswith(f".{domain}") or "." in name[: -len(domain) - 1]):
                yield invalid(
                    f"route '{name}' is not one label under the tunnel domain {domain}; Anthropic "
                    f"only sends <route>.{domain}, and the certificate covers exactly one label",
                    f"use a bare name such as '{name.split('.')[0]}'",
                    field=f"routes.{name}",
                )

    def _credential_errors(self) -> Iterator[PydanticCustomError]:
        source = self.certificates.source
        if source is CertificateSource.SETUP:
            if not self.setup.enabled:
                yield invalid(
                    "certificates.source: setup needs the setup task",
                    "set tunnel.setup.enabled: true with its WIF settings, or use source: generated",
                    field="certificates.source",
                )
            if self.token is not None:
                yield invalid(
                    "with certificates.source: setup the setup task publishes the token",
                    "remove tunnel.token",
                    field="token",
                )
        elif self.setup.enabled:
            yield invalid(
                "the setup task generates and registers its own CA and certificate, so the gateway "
                "must use what it publishes",
                "set tunnel.certificates.source: setup (and remove tunnel.token), or disable setup",
                field="certificates.source",
            )
        elif self.token is None:
            yield invalid(
                "an enabled tunnel needs its token",
                "run `pulumi config set --secret --path 'stockade:tunnel.token' <token>`",
                field="token",
            )
        if self.setup.enabled and self.images.aws_cli is None:
            yield invalid(
                "the setup task needs an AWS CLI image to fetch its WIF token and publish its output",
                "set tunnel.images.awsCli to an AWS CLI v2 (2.31+) image pinned by digest",
                field="images.awsCli",
            )
        if source is CertificateSource.PROVIDED and self.certificates.server_certificate_pem:
            from stockade.tunnel.certificate_rules import server_problems

            found = server_problems(self.certificates.server_certificate_pem, hostnames=self.hostnames)
            if found:
                yield invalid(
                    "the provided server certificate would be refused: " + "; ".join(found),
                    "issue it for *.<tunnelDomain> (or each <route>.<tunnelDomain>) with serverAuth",
                    field="certificates.serverCertificatePem",
                )

    def weakenings(self, *, aws_target: bool) -> list[str]:
        """Tunnel settings that trade safety for something else (see StackSettings.weakenings)."""
        found = []
        if self.enabled and aws_target and not self.images.mirror:
            found.append(
                "tunnel.images.mirror is false: the tunnel gateway may reach any public address on 443 "
                "to pull its images"
            )
        if self.enabled and self.allow_wide_targets:
            found.append(
                "tunnel.allowWideTargets is true: route targets wider than "
                f"/{WIDEST_TARGET_PREFIX} are accepted"
            )
        wide = [
            f"{name} ({route.target_cidr})"
            for name, route in sorted(self.routes.items())
            if route.target_cidr.prefixlen < REPORTED_TARGET_PREFIX
        ]
        if self.enabled and wide:
            found.append(
                f"tunnel routes target networks wider than /{REPORTED_TARGET_PREFIX}, all of which the proxy "
                "may dial: " + ", ".join(wide)
            )
        if self.enabled and self.allow_plain_http_to_public_targets:
            plain = [
                f"{name} ({route.target_cidr})"
                for name, route in sorted(self.routes.items())
                if route.upstream.scheme == "http" and route.target_cidr.is_global
            ]
            found.append(
                "tunnel.allowPlainHttpToPublicTargets is true: routes may send unencrypted HTTP across "
                "the internet" + (": " + ", ".join(plain) if plain else "")
            )
        if self.enabled and not self.alarms.enabled:
            found.append("tunnel.alarms.enabled is false: nobody is told when the gateway stops or is probed")
        return found

    @property
    def hostnames(self) -> list[str]:
        """The names Anthropic requests: `<route>.<tunnelDomain>`, or the route key as written."""
        domain = self.tunnel_domain
        return sorted(name if "." in name or domain is None else f"{name}.{domain}" for name in self.routes)

    @property
    def route_cidrs(self) -> list[ipaddress.IPv4Network]:
        """The routes' target networks, sorted and de-duplicated."""
        return sorted({r.target_cidr for r in self.routes.values()})

    @property
    def upstream_targets(self) -> list[tuple[ipaddress.IPv4Network, int]]:
        """Each (network, port) the proxy dials, sorted and de-duplicated: the gateway's egress."""
        return sorted({(r.target_cidr, r.upstream.port) for r in self.routes.values()})

    @property
    def effective_allowed_ips(self) -> list[ipaddress.IPv4Network]:
        """What the proxy enforces: the explicit list, else exactly the route targets."""
        return list(self.allowed_ips) if self.allowed_ips is not None else self.route_cidrs
