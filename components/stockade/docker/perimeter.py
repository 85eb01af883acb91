"""Compose the Docker-host perimeter from a stack's settings."""

from __future__ import annotations

from typing import Any

from stockade.settings import StackSettings


def build_docker_perimeter(settings: StackSettings) -> dict[str, Any]:
    outputs: dict[str, Any] = {}
    return outputs
