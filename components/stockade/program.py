"""The Pulumi program: read the stack's settings, compose the components, export outputs.

Nothing else lives here, so the same program runs under `pulumi up` and under
the offline engine (`stockade synth`) without a branch between them.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from stockade.settings import SettingsError, StackSettings
from stockade.settings.load import settings_from_engine
from stockade.settings.stack import Target

WEAKENING_LOG_PREFIX = "stockade: weakened setting: "
"""How the program logs each weakening, so `pulumi preview` and `up` show it."""


def load_settings() -> StackSettings:
    """Validate the engine's config; a bad stack stops here with every problem listed."""
    config: dict[str, Any] = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret_keys = {k for k in config if runtime_config.is_config_secret(k)}
    secret_keys |= set(runtime_config.get_config_secret_keys_env())
    try:
        return settings_from_engine(pulumi.get_stack(), config, secret_keys)
    except SettingsError as exc:
        raise pulumi.RunError(exc.render()) from None


def compose(settings: StackSettings) -> dict[str, Any]:
    """Build the target's perimeter and return its stack outputs."""
    if settings.target is Target.AWS:
        from stockade.aws.perimeter import build_aws_perimeter

        return build_aws_perimeter(settings)
    if settings.target is Target.CLOUDFLARE:
        from stockade.cloudflare.perimeter import build_cloudflare_perimeter

        return build_cloudflare_perimeter(settings)
    if settings.target is Target.VERCEL:
        from stockade.vercel.perimeter import build_vercel_perimeter

        return build_vercel_perimeter(settings)
    from stockade.docker.perimeter import build_docker_perimeter

    return build_docker_perimeter(settings)


def run() -> None:
    settings = load_settings()
    for weakening in settings.weakenings():
        # Shows in `pulumi preview`/`up` output, so a reviewer cannot miss it.
        pulumi.log.warn(f"{WEAKENING_LOG_PREFIX}{weakening}")
    outputs = compose(settings)
    outputs["weakenings"] = settings.weakenings()
    for key in sorted(outputs):
        pulumi.export(key, outputs[key])
