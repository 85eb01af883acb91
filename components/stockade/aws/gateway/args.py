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
    federation_rule_id: str
    organization_id: str
    workspace_id: str
    audience: str
    tunnel_id: str
    api_cidrs: list[str]
    renew_schedule: str


class TunnelImagesArgs(TypedDict, total=False):
    """Images of the gateway (`tunnel.images`), pinned by digest."""

    proxy: str
    cloudflared: str
    init: str
    aws_cli: str
    mirror: bool
    """Copy public images into ECR (default true)."""


class TunnelAlarmArgs(TypedDict, total=False):
    """The gateway's alarms (`tunnel.alarms`)."""

    enabled: bool
    ip_validation_failures: int
    period_minutes: int
    sustained_periods: int
    subscriptions: list[AlarmSubscriptionArgs]


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
    replicas: NotRequired[int]
    allowed_ips: NotRequired[list[str]]
    disable_ip_validation: NotRequired[bool]
    allow_wide_targets: NotRequired[bool]
    health_check: NotRequired[bool]
    task_cpu: NotRequired[int]
    task_memory_mib: NotRequired[int]
    upstream_tls: NotRequired[UpstreamTlsArgs]
    images: NotRequired[TunnelImagesArgs]
    certificates: NotRequired[CertificateArgs]
    setup: NotRequired[SetupArgs]
    alarms: NotRequired[TunnelAlarmArgs]


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
