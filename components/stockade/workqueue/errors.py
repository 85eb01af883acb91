"""Expected failures and the exit codes they map to (docs/dispatcher.md, docs/docker-host.md).

Both dispatchers exit with these numbers, so an on-work failure in `ant`'s log means the same
on either target.
"""

from __future__ import annotations

from typing import Any, ClassVar

EXIT_OK = 0
EXIT_FAILED = 1
"""Anything unexpected: a bug, or a platform error with no better category."""
EXIT_INVALID = 2
"""Bad configuration or a malformed work item: retrying the same input cannot help."""
EXIT_NO_SLOT = 3
"""Every sandbox slot stayed taken for the whole wait."""
EXIT_LAUNCH = 4
"""The sandbox (or the work secret it needs) could not be started."""


class DispatchError(Exception):
    """A failure the program reports in one clear line and an exit code, never a traceback.

    Messages must never contain a secret value: they name variables and fields, not their
    contents. Log redaction, where a program has it, is a second line of defence, not the first.

    A subclass names its exit code and log event as class keywords, e.g.
    `class NoSlotError(DispatchError, exit_code=EXIT_NO_SLOT, event="slot.timeout")`.
    """

    exit_code: ClassVar[int] = EXIT_FAILED
    event: ClassVar[str] = "dispatch.failed"

    def __init_subclass__(
        cls, *, exit_code: int | None = None, event: str | None = None, **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        if exit_code is not None:
            cls.exit_code = exit_code
        if event is not None:
            cls.event = event


class ConfigError(DispatchError, exit_code=EXIT_INVALID, event="config.invalid"):
    """A required environment variable is missing or malformed."""


class WorkItemError(DispatchError, exit_code=EXIT_INVALID, event="work_item.invalid"):
    """The work item (stdin, its identifiers in the environment, or a broker request) is unusable."""


class NoSlotError(DispatchError, exit_code=EXIT_NO_SLOT, event="slot.timeout"):
    """No sandbox slot freed up within the configured wait."""


class LaunchError(DispatchError, exit_code=EXIT_LAUNCH, event="launch.failed"):
    """The sandbox (or the work secret it needs) could not be started."""
