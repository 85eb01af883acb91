"""Stockade's CrossGuard policy pack.

The rules live in the Stockade package (`stockade.guardrails.rules`) so that
`stockade policy --stack S` runs exactly the same functions offline. This file
only serves them to the Pulumi engine.
"""

import sys
from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyPack

try:
    import stockade  # noqa: F401
except ImportError:
    # Running from a checkout without the package installed: use its sources.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "components"))

from stockade.guardrails.pack import PACK_NAME, build_policies

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=build_policies(),
    description=(
        "Stockade perimeter guardrails; each policy's config comes from `stockade policy --emit-config`."
    ),
)
