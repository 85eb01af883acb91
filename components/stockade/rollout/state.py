"""The rollout state file: each stack's last result per operation, and the commit it ran at.

`--resume` reads it to skip stacks that already succeeded for the same operation at the
same commit. Several rollouts may share one file (on different stacks), so every write
re-reads the file under a lock and replaces it atomically.
"""

from __future__ import annotations

import fcntl
import json
import os
import queue
import subprocess
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from stockade.rollout.operations import Operation
from stockade.rollout.protocol import StackStatus

DEFAULT_STATE_FILE = Path(".stockade") / "rollout-state.json"
FORMAT_VERSION = 1
DIRTY_SUFFIX = "-dirty"


@dataclass(frozen=True)
class StackRecord:
    stack: str
    wave: str
    operation: Operation
    status: StackStatus
    commit: str | None
    started_at: float | None
    finished_at: float | None
    changes: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["operation"] = self.operation.value
        data["status"] = self.status.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StackRecord:
        return cls(
            stack=str(data["stack"]),
            wave=str(data.get("wave", "")),
            operation=Operation(data["operation"]),
            status=StackStatus(data["status"]),
            commit=data.get("commit"),
            started_at=data.get("started_at"),
            finished_at=data.get("finished_at"),
            changes={str(k): int(v) for k, v in (data.get("changes") or {}).items()},
            error=data.get("error"),
        )


def current_commit(project_dir: Path) -> str | None:
    """HEAD's commit, suffixed `-dirty` when tracked or unignored files differ from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=project_dir,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain"],
            cwd=project_dir,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return head + DIRTY_SUFFIX if status.strip() else head


def resumable(commit: str | None) -> bool:
    # A dirty tree's commit does not say what code ran, so its results never count as done.
    return commit is not None and not commit.endswith(DIRTY_SUFFIX)


class StateStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def directory(self) -> Path:
        return self.path.parent

    def records(self, operation: Operation) -> dict[str, StackRecord]:
        results = self._read().get("results", {}).get(operation.value, {})
        return {stack: StackRecord.from_json(data) for stack, data in results.items()}

    def done(self, operation: Operation, commit: str | None) -> dict[str, StackRecord]:
        """The stacks `--resume` may skip: succeeded for this operation at this (clean) commit."""
        if not resumable(commit):
            return {}
        return {
            stack: record
            for stack, record in self.records(operation).items()
            if record.status is StackStatus.SUCCEEDED and record.commit == commit
        }

    def record(self, *records: StackRecord) -> None:
        if not records:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._locked():
            document = self._read()
            document["version"] = FORMAT_VERSION
            results = document.setdefault("results", {})
            for record in records:
                results.setdefault(record.operation.value, {})[record.stack] = record.to_json()
            self._write(document)

    def _read(self) -> dict[str, Any]:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"version": FORMAT_VERSION, "results": {}}
        except json.JSONDecodeError as exc:
            raise StateFileError(
                f"{self.path} is not valid JSON ({exc.msg}); move it aside to start afresh"
            ) from None
        if not isinstance(document, dict) or document.get("version") != FORMAT_VERSION:
            raise StateFileError(f"{self.path} is not a version {FORMAT_VERSION} rollout state file")
        return document

    def _write(self, document: dict[str, Any]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".rollout-state-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(_render(document))
            Path(tmp).replace(self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _locked(self) -> _FileLock:
        return _FileLock(self.path.with_name(self.path.name + ".lock"))


def _render(document: dict[str, Any]) -> str:
    """One record per line: readable and diffable, yet written by the C encoder.

    (`json.dump(..., indent=2)` falls back to the pure-Python encoder, which made rewriting
    a 500-stack state file cost more than the rest of the rollout's own work.)
    """
    operations = []
    for operation, stacks in sorted(document.get("results", {}).items()):
        lines = ",\n".join(
            f"      {json.dumps(stack)}: {json.dumps(record, sort_keys=True)}"
            for stack, record in sorted(stacks.items())
        )
        operations.append(f"    {json.dumps(operation)}: {{\n{lines}\n    }}")
    body = ",\n".join(operations)
    return f'{{\n  "version": {FORMAT_VERSION},\n  "results": {{\n{body}\n  }}\n}}\n'


class StateWriter:
    """Writes records from a thread of its own, so the scheduler never waits on the disk.

    Records that finish close together are written together; `close()` returns once
    everything handed over is on disk.
    """

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._queue: queue.Queue[StackRecord | None] = queue.Queue()
        self._errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, name="rollout-state", daemon=True)
        self._thread.start()

    def put(self, record: StackRecord) -> None:
        self._queue.put(record)

    def _run(self) -> None:
        closing = False
        while not closing:
            batch: list[StackRecord] = []
            item = self._queue.get()
            while True:
                if item is None:
                    closing = True
                else:
                    batch.append(item)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            try:
                self._store.record(*batch)
            except BaseException as exc:  # re-raised by close() in the scheduler
                self._errors.append(exc)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._errors:
            raise self._errors[0]


class StateFileError(Exception):
    """The state file cannot be used; the message says how to recover."""


class _FileLock:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd = -1

    def __enter__(self) -> None:
        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
