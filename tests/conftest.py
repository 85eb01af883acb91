"""Shared fixtures: every test synthesizes through the same offline engine the CLI uses."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stockade.engine import SynthResult, synthesize, synthesize_config
from stockade.settings.load import read_stack_file

PROJECT_DIR = Path(__file__).resolve().parents[1]
EXAMPLE_STACKS = (
    "local",
    "dev",
    "staging",
    "prod-use1",
    "prod-euw1",
    "cf-dev",
    "daytona-dev",
    "modal-dev",
    "vercel-dev",
    "team-dev",
)
_CACHE: dict[str, SynthResult] = {}


def minimal_aws_config() -> dict[str, Any]:
    """A small valid `dev` config for the aws target (pool mode): for tests that synthesize a
    program of their own and need only some valid settings around it. A fresh copy each call."""
    return {
        "aws:region": "eu-west-1",
        "stockade:target": "aws",
        "stockade:environment": "dev",
        "stockade:aws": {"accountId": "123456789012"},
        "stockade:sandboxes": {
            "mode": "pool",
            "environmentId": "env_01Example",
            "environmentKey": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:stockade/env-key-AbCdEf",
            "workerImage": "registry.example.com/worker@sha256:" + "a" * 64,
        },
    }


def _checked(result: SynthResult) -> SynthResult:
    # A synth that registered nothing means the program never ran; a test asserting
    # "no bad resources" over it would pass vacuously.
    if not result.resources:
        raise AssertionError(f"stack {result.stack}: the program registered no resources")
    return result


@pytest.fixture(scope="session")
def project_dir() -> Path:
    return PROJECT_DIR


@pytest.fixture
def synth_stack() -> Callable[[str], SynthResult]:
    """Synthesize an example stack (cached per session: results are read-only)."""

    def run(stack: str) -> SynthResult:
        if stack not in _CACHE:
            _CACHE[stack] = _checked(synthesize(stack, PROJECT_DIR))
        return _CACHE[stack]

    return run


@pytest.fixture
def example_config() -> Callable[[str], dict[str, Any]]:
    """A deep copy of an example stack's `config:`, for a test to change one thing in."""

    def load(stack: str) -> dict[str, Any]:
        return copy.deepcopy(read_stack_file(PROJECT_DIR, stack).config)

    return load


@pytest.fixture
def synth_config() -> Callable[..., SynthResult]:
    """Synthesize arbitrary config through the real program, each call in a fresh runtime."""

    def run(stack: str, config: dict[str, Any], program: Callable[[], None] | None = None) -> SynthResult:
        return _checked(synthesize_config(stack, config, program))

    return run
