"""The tunnel's settings as plain component args, and back.

`TunnelGatewayArgs.tunnel` must be something Pulumi's schema inference accepts (plain
values, nested TypedDicts, string Literals), so a TypeScript or YAML program can fill it.
The fields mirror `stockade:tunnel` in the stack file, in snake_case. The component turns
them back into `TunnelSettings` with the very validation the stack file gets, so a
program in any language hits the same rules, and the same messages, as `stockade validate`.

Secrets stay out of that round trip: `token` and `certificates.server_key` are
`SecretArgs` (an ARN or a secret Output), which a settings model cannot hold; validation
sees a placeholder for them, and the component stores or references the real thing.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

import pydantic

from stockade.aws.shared.alarm_topic import AlarmSubscriptionArgs, subscription_args
from stockade.aws.shared.secrets import SecretArgs, secret_args
from stockade.settings.secrets import PulumiSecret
from stockade.settings.tunnel import TunnelSettings


class RouteArgs(TypedDict):
    """One route: the MCP server and the network its name resolves into."""

    upstream: str
    """`scheme://host:port` of the MCP server."""

    target_cidr: str
    """The IPv4 network the upstream resolves into (its own /32 for an address)."""


class UpstreamTlsArgs(TypedDict, total=False):
    """How the proxy trusts HTTPS upstreams (`tunnel.upstreamTls`)."""

    ca_certificate_pem: str
    """CA bundle (PEM) for HTTPS upstreams."""

    include_system_cas: bool
    """Also trust the image's system CAs."""


class CertificateArgs(TypedDict, total=False):
    """Where the inner TLS certificate comes from (`tunnel.certificates`)."""

    source: Literal["generated", "provided", "setup"]
    """`generated` (pulumi-tls), `provided` (yours) or `setup` (the vendor's setup task)."""

    validity_hours: int
    """Generated server certificate lifetime."""

    renew_before_hours: int
    """Renew a generated certificate this long before it expires."""

    ca_validity_hours: int
    """Generated CA lifetime."""

    server_key_algorithm: Literal["ECDSA", "RSA"]
    """Key algorithm of the generated server certificate."""

    server_certificate_pem: str
    """`provided`: the server certificate (PEM, public)."""

    server_key: SecretArgs
    """`provided`: the server's private key: a Secrets Manager ARN or a secret value."""


class SetupArgs(TypedDict, total=False):
    """The vendor's setup task run on Fargate (`tunnel.setup`)."""

    enabled: bool
    """Run the vendor's setup task (WIF): it creates the tunnel, its CA and credentials."""
    federation_rule_id: str
    """The workload identity federation rule (`fdrl_...`)."""
    organization_id: str
    """The Anthropic organization."""
    workspace_id: str
    """The workspace (`wrkspc_...`)."""
    audience: str
    """Audience of the WIF token."""
    tunnel_id: str
    """An existing tunnel (`tnl_...`) to adopt instead of creating one."""
    api_cidrs: list[str]
    """Where the setup task reaches the Anthropic API (HTTPS)."""
    renew_schedule: str
    """EventBridge Scheduler expression of the certificate renewal."""


class TunnelImagesArgs(TypedDict, total=False):
    """Images of the gateway (`tunnel.images`), pinned by digest."""

    proxy: str
    """The vendor's mcp-proxy image."""
    cloudflared: str
    """The cloudflared image."""
    init: str
    """The image of the init container that writes the config and TLS files."""
    aws_cli: str
    """The AWS CLI image the setup task uses (setup only)."""
    mirror: bool
    """Copy public images into ECR (default true)."""


class TunnelAlarmArgs(TypedDict, total=False):
    """The gateway's alarms (`tunnel.alarms`)."""

    enabled: bool
    """Alarm on no running task and on repeated IP validation failures."""
    ip_validation_failures: int
    """Refused upstream addresses per period that count as a probe."""
    period_minutes: int
    """Length of one period."""
    sustained_periods: int
    """Periods in a row before the alarm fires."""
    subscriptions: list[AlarmSubscriptionArgs]
    """Who hears of the alarms (with the gateway's own topic)."""


class TunnelArgs(TypedDict):
    """The MCP tunnel, as in the stack file's `stockade:tunnel` (snake_case), always enabled.

    docs/configuration.md documents every field and its bounds; the gateway validates
    these args with exactly those rules.
    """

    routes: dict[str, RouteArgs]
    """Route name (bare subdomain or full hostname) to its upstream."""

    tunnel_domain: NotRequired[str]
    """`xxxx.tunnel.anthropic.com`, as the Console shows it."""

    token: NotRequired[SecretArgs]
    """The tunnel token (not with `certificates.source: setup`)."""

    token_version: NotRequired[int]
    """Bump after rotating the token: a new task revision and a rolling deploy."""

    log_level: NotRequired[Literal["debug", "info", "warn", "error"]]
    """The proxy's log level."""
    replicas: NotRequired[int]
    """Gateway tasks, spread over the subnets (1-10; production wants 2 or more)."""
    allowed_ips: NotRequired[list[str]]
    """Networks the proxy may dial; default: exactly the routes' target CIDRs."""
    disable_ip_validation: NotRequired[bool]
    """Turn the proxy's SSRF check off (a weakening)."""
    allow_wide_targets: NotRequired[bool]
    """Allow route targets wider than a /16."""
    health_check: NotRequired[bool]
    """cloudflared's readiness check as the container health check."""
    task_cpu: NotRequired[int]
    """Fargate CPU units of a gateway task."""
    task_memory_mib: NotRequired[int]
    """Fargate memory of a gateway task (MiB)."""
    upstream_tls: NotRequired[UpstreamTlsArgs]
    """How the proxy trusts HTTPS upstreams."""
    images: NotRequired[TunnelImagesArgs]
    """The gateway's images."""
    certificates: NotRequired[CertificateArgs]
    """Where the inner TLS certificate comes from."""
    setup: NotRequired[SetupArgs]
    """The vendor's setup task."""
    alarms: NotRequired[TunnelAlarmArgs]
    """The gateway's alarms."""


_SECRET_FIELDS = ("token", "certificates.server_key")


def tunnel_args(settings: TunnelSettings) -> TunnelArgs:
    """Validated tunnel settings as component args (the perimeter's side of the round trip)."""
    data = settings.model_dump(
        mode="json", exclude={"enabled", "routes", "token", "alarms"}, exclude_none=True
    )
    data["certificates"].pop("server_key", None)
    data["routes"] = {
        name: {"upstream": route.upstream.url, "target_cidr": str(route.target_cidr)}
        for name, route in settings.routes.items()
    }
    if settings.token is not None:
        data["token"] = secret_args(settings.token, field="tunnel.token")
    if settings.certificates.server_key is not None:
        data["certificates"]["server_key"] = secret_args(
            settings.certificates.server_key, field="tunnel.certificates.serverKey"
        )
    alarms = settings.alarms.model_dump(mode="json", exclude={"subscriptions"})
    alarms["subscriptions"] = [subscription_args(s) for s in settings.alarms.subscriptions]
    data["alarms"] = alarms
    return data  # type: ignore[return-value]


def tunnel_settings(name: str, args: TunnelArgs) -> TunnelSettings:
    """The args validated as `stockade:tunnel` would be; a ValueError names every bad field."""
    data: dict[str, Any] = {key: value for key, value in dict(args).items() if key != "token"}
    data["enabled"] = True
    if "token" in args:
        data["token"] = PulumiSecret()  # presence only: validation never sees the value
    certificates = dict(data.get("certificates") or {})
    if "server_key" in certificates:
        certificates["server_key"] = PulumiSecret()
    data["certificates"] = certificates
    try:
        return TunnelSettings.model_validate(data)
    except pydantic.ValidationError as error:
        problems = "; ".join(
            f"tunnel.{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in error.errors()
        )
        raise ValueError(f"{name}: invalid tunnel args: {problems}") from None


def secret_field(args: TunnelArgs, path: str) -> SecretArgs | None:
    """One of the secret fields, as given."""
    assert path in _SECRET_FIELDS
    if path == "token":
        return args.get("token")
    return (args.get("certificates") or {}).get("server_key")
