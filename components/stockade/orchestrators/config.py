"""The orchestrator's configuration, read from the ProviderBridge container's environment.

Errors name the variable and the expected shape, never the value (some variables are secrets).
docs/providers.md lists every variable; stockade:aws:ProviderBridge sets them from
`stockade:sandboxes.<provider>`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from stockade.dispatcher.env import base_url
from stockade.orchestrators.provider import RetentionMode
from stockade.workqueue import env
from stockade.workqueue.errors import ConfigError
from stockade.workqueue.workitem import Secret

GRACE_SECONDS = 30.0
"""The contract's shutdown grace (docs/vendor-interface.md §1.8): SIGTERM, then 30 s."""
_DOMAIN = re.compile(r"^(\*\.)?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_IMAGE = re.compile(r"^[a-z0-9][A-Za-z0-9._/:@-]{0,511}$")


def _domains(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = environ.get(name, "").strip()
    items = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    for position, item in enumerate(items, start=1):
        if not _DOMAIN.fullmatch(item):
            raise ConfigError(f"{name}: item {position} is not a domain name (e.g. api.example.com)")
    return items


@dataclass(frozen=True)
class OrchestratorConfig:
    environment_id: str
    environment_key: Secret
    base_url: str | None
    session_image: str
    max_concurrent: int
    retention: RetentionMode
    max_idle_days: int
    heartbeat_seconds: float
    lease_ttl_seconds: int
    poll_block_ms: int
    call_timeout: float
    launch_timeout: float
    session_timeout_seconds: int
    janitor_seconds: float
    grace_seconds: float
    allowed_domains: tuple[str, ...]
    worker_id: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> OrchestratorConfig:
        environment_id = (
            environ.get("ANTHROPIC_ENVIRONMENT_ID", "").strip() or environ.get("ENVIRONMENT_ID", "").strip()
        )
        if not environment_id:
            raise ConfigError("ANTHROPIC_ENVIRONMENT_ID is not set; the ProviderBridge sets it")
        if not env.ENVIRONMENT_ID.fullmatch(environment_id):
            raise ConfigError("ANTHROPIC_ENVIRONMENT_ID is not an environment ID (env_...)")
        key = env.required(environ, "ANTHROPIC_ENVIRONMENT_KEY")
        retention = environ.get("STOCKADE_RETENTION", "delete").strip() or "delete"
        if retention not in {m.value for m in RetentionMode}:
            raise ConfigError("STOCKADE_RETENTION is not 'delete' or 'keep'")
        heartbeat = env.seconds(environ, "STOCKADE_HEARTBEAT_SECONDS", 10.0, 1.0, 300.0)
        ttl = env.integer(environ, "STOCKADE_LEASE_TTL_SECONDS", 60, 10, 3600)
        if ttl < 2 * heartbeat:
            raise ConfigError(
                "STOCKADE_LEASE_TTL_SECONDS must be at least twice STOCKADE_HEARTBEAT_SECONDS, "
                "so one late heartbeat does not lose the lease"
            )
        return cls(
            environment_id=environment_id,
            environment_key=Secret(key),
            base_url=base_url(environ, "ANTHROPIC_BASE_URL"),
            session_image=env.matching(
                environ, "STOCKADE_SESSION_IMAGE", _IMAGE, "an image reference (registry/repo@sha256:...)"
            ),
            max_concurrent=env.integer(environ, "STOCKADE_MAX_CONCURRENT_SESSIONS", 10, 1, 1000),
            retention=RetentionMode(retention),
            max_idle_days=env.integer(environ, "MAX_IDLE_DAYS", 7, 1, 365),
            heartbeat_seconds=heartbeat,
            lease_ttl_seconds=ttl,
            poll_block_ms=env.integer(environ, "STOCKADE_POLL_BLOCK_MS", 999, 1, 999),
            call_timeout=env.seconds(environ, "STOCKADE_CALL_TIMEOUT_SECONDS", 30.0, 1.0, 300.0),
            launch_timeout=env.seconds(environ, "STOCKADE_LAUNCH_TIMEOUT_SECONDS", 300.0, 5.0, 3600.0),
            session_timeout_seconds=env.integer(
                environ, "STOCKADE_SESSION_TIMEOUT_SECONDS", 86400, 60, 86400
            ),
            janitor_seconds=env.seconds(environ, "JANITOR_SECONDS", 300.0, 10.0, 86400.0),
            grace_seconds=env.seconds(environ, "STOCKADE_STOP_GRACE_SECONDS", GRACE_SECONDS, 30.0, 600.0),
            allowed_domains=_domains(environ, "STOCKADE_SANDBOX_ALLOWED_DOMAINS"),
            worker_id=f"stockade-orchestrator-{uuid.uuid4().hex[:12]}",
        )
