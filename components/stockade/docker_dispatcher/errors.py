"""Expected failures and their exit codes (the same numbers as the AWS dispatcher's)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
"""Anything unexpected: a bug, or an engine error with no better category."""
EXIT_INVALID = 2
"""Bad configuration or a malformed work item: retrying the same input cannot help."""
EXIT_NO_SLOT = 3
"""Every sandbox slot stayed taken for the whole wait."""
EXIT_LAUNCH = 4
"""The broker (or the Docker engine behind it) could not start the sandbox."""


class DispatchError(Exception):
    """A failure reported as one clear line and an exit code, never a traceback.

    Messages never contain a secret: they name variables and fields, not their contents.
    """

    exit_code = EXIT_FAILED


class ConfigError(DispatchError):
    """A required environment variable is missing or malformed."""

    exit_code = EXIT_INVALID


class WorkItemError(DispatchError):
    """The work item (stdin, environment or broker request) is unusable."""

    exit_code = EXIT_INVALID


class NoSlotError(DispatchError):
    """No sandbox slot freed up within the wait."""

    exit_code = EXIT_NO_SLOT


class LaunchError(DispatchError):
    """The sandbox could not be started."""

    exit_code = EXIT_LAUNCH


class EngineError(DispatchError):
    """The Docker Engine API (through the socket proxy) answered with an error."""

    exit_code = EXIT_LAUNCH

    def __init__(self, operation: str, status: int, message: str) -> None:
        self.operation = operation
        self.status = status
        super().__init__(f"docker {operation}: HTTP {status}: {message}")
