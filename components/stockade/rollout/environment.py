"""The environment each stack's worker starts with, and its private Pulumi home.

A worker must not see the operator's own AWS credentials (it could otherwise deploy into
whatever account they reach), so every credential-bearing AWS variable is dropped and the
shared credential/config files and instance metadata are switched off. The stack's
assumed-role credentials arrive later, in its job.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

# Harmless knobs about how to talk to AWS, not who to be.
_AWS_PASSTHROUGH = frozenset(
    {
        "AWS_CA_BUNDLE",
        "AWS_STS_REGIONAL_ENDPOINTS",
        "AWS_USE_FIPS_ENDPOINT",
        "AWS_USE_DUALSTACK_ENDPOINT",
        "AWS_MAX_ATTEMPTS",
        "AWS_RETRY_MODE",
    }
)

CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def worker_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The parent's environment minus every AWS identity, plus `extra` (e.g. a PATH for tests)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") or key in _AWS_PASSTHROUGH
    }
    env.pop("PULUMI_HOME", None)  # each stack gets its own, see pulumi_home_for
    env.update(
        {
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


def source_pulumi_home() -> Path:
    configured = os.environ.get("PULUMI_HOME")
    return Path(configured) if configured else Path.home() / ".pulumi"


def pulumi_home_for(state_dir: Path, stack: str, source: Path | None = None) -> Path:
    """A PULUMI_HOME of the stack's own, sharing the operator's login and plugins.

    `pulumi stack select` records the current stack in <PULUMI_HOME>/workspaces/, one file
    per project directory; stacks of one project running at once would overwrite each
    other's file (pulumi/pulumi#8186). A home per stack gives each its own workspaces/
    while the links keep the backend login and the installed plugins shared.
    """
    source = source or source_pulumi_home()
    home = state_dir / "homes" / stack
    (home / "workspaces").mkdir(parents=True, exist_ok=True)
    for name in ("credentials.json", "plugins", "bin"):
        link = home / name
        target = source / name
        if target.exists() and not link.is_symlink() and not link.exists():
            link.symlink_to(target)
    return home
