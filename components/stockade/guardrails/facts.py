"""The stack facts rules need, derived from a stack's settings in exactly one place.

A rule never reads stack files. Under `pulumi preview --policy-pack policy` it
reads its facts from the pack config (`--policy-pack-config FILE`); under
`stockade policy` the offline runner hands it the same config. Both come from
`policy_config(settings)`, so the two cannot drift, and
`stockade policy --stack S --emit-config` prints that file.

Every default is the strict one: a pack run with no config at all treats the
stack as production and allows no weakening.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from ipaddress import IPv4Network
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from stockade.settings import StackSettings
from stockade.settings.network import EgressMode
from stockade.settings.platform import PolicySettings
from stockade.settings.sandboxes import WorkerMode

DEFAULT_REQUIRED_TAGS: tuple[str, ...] = tuple(PolicySettings().required_tags)


class PolicyFacts(BaseModel):
    """What a stack declares that changes a rule's verdict. Keys are camelCase in pack config."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        use_attribute_docstrings=True,
    )

    production: bool = True
    """The stack is a prod stack (`stockade:environment: prod`); turns on prod-only rules."""

    open_egress_allowed: bool = False
    """`network.egress.mode: open` - egress to 0.0.0.0/0 is declared."""

    pool_mode_allowed: bool = False
    """`sandboxes.mode: pool` - sessions run in-process in long-lived workers."""

    api_proxy_disabled_allowed: bool = False
    """`sandboxes.apiProxy.enabled: false` - per-session sandboxes hold the environment key."""
    task_scoping_off_allowed: bool = False
    """`sandboxes.taskScopedAccess: false` - a sandbox may write under every task's prefix."""

    ecs_exec_allowed: bool = False
    """`sandboxes.enableExec: true` - ECS Exec into the sandbox fleet's services."""

    flow_logs_disabled_allowed: bool = False
    """`network.flowLogs.enabled: false` - VPCs without flow logs."""

    ip_validation_disabled_allowed: bool = False
    """`tunnel.disableIpValidation: true` - the proxy's SSRF check is off."""

    permissions_boundary_arn: str | None = None
    """`aws.permissionsBoundaryArn` - every role must carry this boundary."""

    required_tags: list[str] = Field(default_factory=lambda: list(DEFAULT_REQUIRED_TAGS))
    """`policy.requiredTags` - tag keys every taggable AWS resource carries."""

    tunnel_route_cidrs: list[str] = Field(default_factory=list)
    """The tunnel routes' target networks; `allowed_ips` may not be wider."""

    tunnel_declared_allowed_ips: list[str] = Field(default_factory=list)
    """`tunnel.allowedIps` when set explicitly: the widening the stack file spells out."""

    def route_networks(self) -> list[IPv4Network]:
        return [IPv4Network(c) for c in self.tunnel_route_cidrs]

    def declared_networks(self) -> list[IPv4Network]:
        return [IPv4Network(c) for c in self.tunnel_declared_allowed_ips]


def facts_from_settings(settings: StackSettings) -> PolicyFacts:
    """The one function from a stack's settings to the facts every rule reads."""
    tunnel = settings.tunnel
    return PolicyFacts(
        production=settings.is_production,
        open_egress_allowed=settings.network.egress.mode is EgressMode.OPEN,
        pool_mode_allowed=settings.sandboxes.mode is WorkerMode.POOL,
        api_proxy_disabled_allowed=settings.sandboxes.api_proxy_disabled,
        task_scoping_off_allowed=settings.sandboxes.task_scoping_off,
        ecs_exec_allowed=settings.sandboxes.enable_exec,
        flow_logs_disabled_allowed=not settings.network.flow_logs.enabled,
        ip_validation_disabled_allowed=tunnel.enabled and tunnel.disable_ip_validation,
        permissions_boundary_arn=settings.aws.permissions_boundary_arn if settings.aws else None,
        required_tags=list(settings.policy.required_tags),
        tunnel_route_cidrs=[str(c) for c in tunnel.route_cidrs] if tunnel.enabled else [],
        tunnel_declared_allowed_ips=(
            [str(c) for c in tunnel.allowed_ips] if tunnel.enabled and tunnel.allowed_ips else []
        ),
    )


def facts_from_config(config: Mapping[str, Any]) -> PolicyFacts:
    """Facts from one policy's pack config; absent keys take the strict defaults."""
    return PolicyFacts.model_validate(dict(config))


def config_for(facts: PolicyFacts, fields: Iterable[str]) -> dict[str, Any]:
    """The pack-config object for a policy that reads `fields` (snake_case names)."""
    dumped = facts.model_dump(by_alias=True, mode="json")
    return {to_camel(name): dumped[to_camel(name)] for name in fields}


def schema_for(fields: Iterable[str]) -> dict[str, dict[str, Any]]:
    """JSON-schema properties for a policy's config keys, with descriptions from the docstrings."""
    schema = PolicyFacts.model_json_schema(by_alias=True)
    properties: dict[str, dict[str, Any]] = schema["properties"]
    result: dict[str, dict[str, Any]] = {}
    for name in fields:
        prop = dict(properties[to_camel(name)])
        prop.pop("title", None)
        if "anyOf" in prop:  # Optional[str]: keep a schema the Pulumi CLI's validator accepts
            prop = {"type": ["string", "null"], **{k: v for k, v in prop.items() if k != "anyOf"}}
        result[to_camel(name)] = prop
    return result


FACT_FIELDS: tuple[str, ...] = tuple(PolicyFacts.model_fields)
