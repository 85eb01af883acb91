"""How long a per-session sandbox gets between SIGTERM and SIGKILL, on both targets.

`ant`'s final memory-store flush can take 30 s (docs/vendor-interface.md §1.6), and after it
the session's deliverables must still upload (AWS: session_entry uploads /workspace). Fargate
allows a container stopTimeout of at most 120 s, so the sandbox gets all of it; the Docker
sandbox gets the same, so a session stops the same way on either target.
"""

from __future__ import annotations

MEMORY_FLUSH_SECONDS = 30
"""The longest final memory flush the vendor documents."""

SESSION_STOP_TIMEOUT_SECONDS = 120
"""Fargate's maximum stopTimeout; the Docker sandbox's StopTimeout too."""

KILL_MARGIN_SECONDS = 5
"""The upload ends this long before the kill, so the exit code and last log lines get out."""

UPLOAD_DEADLINE_SECONDS = SESSION_STOP_TIMEOUT_SECONDS - KILL_MARGIN_SECONDS
"""After a stop, the upload must end this many seconds after the signal (flush included)."""

UPLOAD_WINDOW_AFTER_FLUSH_SECONDS = UPLOAD_DEADLINE_SECONDS - MEMORY_FLUSH_SECONDS
"""What is left for the upload when the flush takes its documented maximum: 85 s."""
