"""The dispatcher's failures and exit codes, which now live in stockade.workqueue.errors.

This module keeps the old import path working for session_entry and its tests; new code
imports from stockade.workqueue.errors.
"""

from __future__ import annotations

from stockade.workqueue.errors import (
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_LAUNCH,
    EXIT_NO_SLOT,
    EXIT_OK,
    ConfigError,
    DispatchError,
    LaunchError,
    NoSlotError,
    WorkItemError,
)

__all__ = [
    "EXIT_FAILED",
    "EXIT_INVALID",
    "EXIT_LAUNCH",
    "EXIT_NO_SLOT",
    "EXIT_OK",
    "ConfigError",
    "DispatchError",
    "LaunchError",
    "NoSlotError",
    "WorkItemError",
]
