"""The offline engine: run the real Pulumi program under the mock runtime and record it.

Every offline tool (synth, diff, policy, the test fixture) stands on `synthesize`.
"""

from stockade.engine.model import SynthResource, SynthResult
from stockade.engine.synth import SynthError, synthesize, synthesize_config

__all__ = ["SynthError", "SynthResource", "SynthResult", "synthesize", "synthesize_config"]
