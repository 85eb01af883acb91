"""Load the optional pulumiverse-vercel SDK, or say exactly how to install it."""

from __future__ import annotations

import importlib
from types import ModuleType

INSTALL_HINT = "pip install 'stockade[vercel]'"


class VercelExtraMissingError(ImportError):
    """pulumiverse-vercel is not installed; only Vercel stacks need it."""


def vercel_sdk() -> ModuleType:
    """`pulumiverse_vercel`, imported on first use so other stacks never need it."""
    try:
        return importlib.import_module("pulumiverse_vercel")
    except ImportError:
        raise VercelExtraMissingError(
            "the vercel provider needs the community Pulumi provider pulumiverse-vercel, which is "
            f"not installed; run `{INSTALL_HINT}` (or add the `vercel` extra to your install)"
        ) from None
