"""A per-replica record of stopped tasks whose work secret is already deleted.

Every dispatch sweeps, and ECS keeps listing a stopped task for about an hour, so without
a record each sweep would call DeleteSecret again for every task stopped in that hour. The
primary record is a tag on the task (`stockade:secret-deleted`); where IAM allows
ecs:TagResource only at launch, that tag cannot be added, and this file is the fallback.

It lives on the poller's writable /tmp volume, which outlasts the one-shot dispatch
processes. Writes are atomic (temp file, then rename); two dispatches racing can lose an
entry, which costs one repeated "not found" delete, never a missed one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from stockade.dispatcher.logs import emit

log = logging.getLogger(__name__)
DEFAULT_PATH = Path(tempfile.gettempdir()) / "stockade-dispatch" / "swept-tasks.json"


class SweptTasks:
    """Task ARNs already swept by this replica; a missing or unreadable file means none."""

    def __init__(self, path: Path | None) -> None:
        self._path = path

    def load(self) -> set[str]:
        if self._path is None:
            return set()
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return set()
        except (OSError, ValueError) as exc:
            emit(log, logging.DEBUG, "swept.unreadable", path=str(self._path), error=type(exc).__name__)
            return set()
        return {item for item in data if isinstance(item, str)} if isinstance(data, list) else set()

    def save(self, arns: Iterable[str]) -> None:
        if self._path is None:
            return
        temporary: Path | None = None
        try:
            self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=self._path.parent, prefix=".swept-")
            temporary = Path(name)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(sorted(arns), handle)
            temporary.replace(self._path)
        except OSError as exc:
            # A read-only or full /tmp only costs repeated deletes; never fail a dispatch on it.
            emit(log, logging.DEBUG, "swept.unwritable", path=str(self._path), error=type(exc).__name__)
            if temporary is not None:
                with contextlib.suppress(OSError):
                    temporary.unlink()
