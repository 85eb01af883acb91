"""A per-user, on-disk cache for the offline engine's deterministic but costly results.

What it keeps is never a secret: emulated keys and certificates are derived from stack and
resource names alone and are never used outside the offline engine. The cache still lives
in directories only their owner can read and write. Each entry is written to a temporary
file and renamed into place, so a reader never sees half an entry, and carries a digest of
its key and value, so a damaged entry reads as a miss and is computed again. A cache that
cannot be read or written only costs time.

Location: `$STOCKADE_CACHE_DIR`, else `$XDG_CACHE_HOME/stockade`, else `~/.cache/stockade`,
one subdirectory per kind of entry. Deleting any of it is always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def cache_root() -> Path:
    explicit = os.environ.get("STOCKADE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stockade"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _digest(key: str, value: Any) -> str:
    return hashlib.sha256(f"{key}\0{_canonical(value)}".encode()).hexdigest()


class DiskCache:
    """JSON values by string key, under `<cache root>/<kind>/`."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    @property
    def directory(self) -> Path:
        # Read from the environment at each use, so a test (or a user) can point it elsewhere.
        return cache_root() / self.kind

    def _path(self, key: str) -> Path:
        return self.directory / (hashlib.sha256(key.encode()).hexdigest() + ".json")

    def read(self, key: str) -> Any | None:
        """The value stored under `key`, or None when there is none that checks out."""
        try:
            entry = json.loads(self._path(key).read_text(encoding="utf-8"))
            value, digest = entry["value"], entry["digest"]
        except (OSError, RuntimeError, ValueError, KeyError, TypeError):
            return None
        if digest != _digest(key, value):
            return None
        return value

    def write(self, key: str, value: Any) -> None:
        """Store `value` (JSON-serializable) under `key`; a failure to write is ignored."""
        try:
            directory = self.directory
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            # The key itself is not stored (it may spell out a resource's inputs): the file is
            # named by its hash, and the digest ties the value to it.
            entry = _canonical({"value": value, "digest": _digest(key, value)})
            fd, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(entry)
                Path(temporary).replace(self._path(key))
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except (OSError, RuntimeError):  # RuntimeError: no home directory to put it in
            return
