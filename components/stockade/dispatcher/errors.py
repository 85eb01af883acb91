"""Expected failures and the exit codes they map to (documented in docs/dispatcher.md)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
"""Anything unexpected: a bug, or an AWS error with no better category."""
EXIT_INVALID = 2
"""Bad configuration or a malformed work item: retrying the same input cannot help."""
EXIT_NO_SLOT = 3
"""The concurrency cap stayed full for the whole wait."""
EXIT_LAUNCH = 4
"""The sandbox task (or its work secret) could not be started."""


class DispatchError(Exception):
    """A failure the program reports in one clear line and an exit code, never a traceback.

    Messages must never contain a secret value: they name variables and fields, not their
    contents. The log redaction in `logs` is a second line of defence, not the first.
    """

    exit_code = EXIT_FAILED
    event = "dispatch.failed"


class ConfigError(DispatchError):
    """A required environment variable is missing or malformed."""

    exit_code = EXIT_INVALID
    event = "config.invalid"


class WorkItemError(DispatchError):
    """The work item on stdin (or its identifiers in the environment) is unusable."""

    exit_code = EXIT_INVALID
    event = "work_item.invalid"


class NoSlotError(DispatchError):
    """No sandbox slot freed up within the configured wait."""

    exit_code = EXIT_NO_SLOT
    event = "slot.timeout"


class LaunchError(DispatchError):
    """RunTask (or the work secret it needs) failed for good."""

    exit_code = EXIT_LAUNCH
    event = "launch.failed"
