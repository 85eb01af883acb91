"""The sandbox fleet: pollers or dispatchers, per-session tasks, artifacts, alarms and images."""

from stockade.aws.fleet.sandbox_fleet import SandboxFleet, SandboxFleetArgs
from stockade.aws.fleet.sandbox_image import SandboxImage, SandboxImageArgs

__all__ = ["SandboxFleet", "SandboxFleetArgs", "SandboxImage", "SandboxImageArgs"]
