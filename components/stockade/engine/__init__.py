"""The offline engine: run the real Pulumi program under the mock runtime and record it.

Every offline tool (synth, diff, policy, the test fixture) stands on `synthesize`.

The public names load lazily, so that importing a leaf module (``stockade.engine.context``,
``stockade.engine.redact``) does not pull in the Pulumi runtime.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stockade.engine.errors import SynthError
    from stockade.engine.model import SynthResource, SynthResult
    from stockade.engine.synth import synthesize, synthesize_config

_LAZY = {
    "SynthResource": "stockade.engine.model",
    "SynthResult": "stockade.engine.model",
    "SynthError": "stockade.engine.errors",
    "synthesize": "stockade.engine.synth",
    "synthesize_config": "stockade.engine.synth",
}

__all__ = ["SynthError", "SynthResource", "SynthResult", "synthesize", "synthesize_config"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(module), name)
