"""The offline engine skips the SDK's per-resource stack walk, only while it synthesizes."""

from __future__ import annotations

import pulumi
import pytest
from pulumi.runtime import resource as resource_runtime

from stockade.engine import SynthError, synthesize_config
from stockade.settings.load import read_stack_file

from .conftest import PROJECT_DIR

CONFIG = read_stack_file(PROJECT_DIR, "local").config


def test_stack_walk_is_skipped_during_synth_and_restored_after() -> None:
    original = resource_runtime._get_stack_trace
    seen = []

    def program() -> None:
        seen.append(resource_runtime._get_stack_trace)
        pulumi.export("answer", 42)

    result = synthesize_config("local", CONFIG, program)
    assert result.outputs["answer"] == 42
    assert seen and seen[0] is not original
    assert len(seen[0]().frames) == 0
    assert resource_runtime._get_stack_trace is original


def test_restored_after_a_failing_program() -> None:
    original = resource_runtime._get_stack_trace

    def program() -> None:
        raise ValueError("boom")

    with pytest.raises(SynthError):
        synthesize_config("local", CONFIG, program)
    assert resource_runtime._get_stack_trace is original
