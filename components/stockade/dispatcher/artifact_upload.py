"""Upload a finished session's /workspace to the artifacts bucket, bounded and encrypted.

The session entry calls this after `ant beta:worker run` exits. Objects go to
`s3://$STOCKADE_ARTIFACTS_BUCKET/tasks/<role ID>:<task ID>/<ANTHROPIC_SESSION_ID>/<path>` with
SSE-KMS under the stack key ($STOCKADE_ARTIFACTS_KMS_KEY_ARN; naming the key matters, since
`aws:kms` without a key ID would fall back to the AWS managed `aws/s3` key).

`<role ID>:<task ID>` is the task role session's `aws:userid` (ECS names each task's role
session after the task), and the sandbox task role may write only under
`tasks/${aws:userid}/`: a sandbox can write its own task's prefix and no other. The role ID
comes from the task definition ($STOCKADE_SANDBOX_ROLE_ID), the task ID from the ECS task
metadata endpoint.

Bounded on every axis: symlinks and special files (FIFOs, sockets, devices) are skipped and
never opened through a link; single PutObject requests only (no multipart, so the task role
needs only kms:GenerateDataKey); caps on the file count, each file's size, the total size
and the time taken, each reported in one log line when it bites. File contents are never
logged; the log names the bucket, the prefix and counts.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from stockade.dispatcher import env
from stockade.dispatcher.aws import error_code, error_message
from stockade.dispatcher.errors import ConfigError
from stockade.dispatcher.logs import emit

# The fleet component sets both on the session container (aws/fleet/tasks.py; a test keeps
# the names equal).
ARTIFACTS_BUCKET_VARIABLE = "STOCKADE_ARTIFACTS_BUCKET"
ARTIFACTS_KEY_VARIABLE = "STOCKADE_ARTIFACTS_KMS_KEY_ARN"
ROLE_ID_VARIABLE = "STOCKADE_SANDBOX_ROLE_ID"
PREFIX = "tasks/"
MAX_KEY_BYTES = 1024  # S3's limit on an object key
# S3 bucket names: 3-63 lowercase letters, digits, dots and hyphens.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# The session ID becomes one path segment of every key: no "/", no "..".
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
# IAM role unique IDs: "AROA" and upper-case letters and digits.
_ROLE_ID = re.compile(r"^AROA[A-Z0-9]{8,124}$")
# Errors after which no further PutObject can succeed.
_FATAL_ERRORS = frozenset(
    {"AccessDenied", "AccessDeniedException", "NoSuchBucket", "KMS.AccessDeniedException"}
)
_MAX_CONSECUTIVE_FAILURES = 3

log = logging.getLogger("stockade.dispatcher.artifacts")


class ObjectStoreApi(Protocol):
    def put_object(self, **kwargs: Any) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Limits:
    """What one session may upload; docs/sandbox-fleet.md ("Artifacts") lists them."""

    files: int = 1000
    file_bytes: int = 100 * 1024 * 1024
    total_bytes: int = 1024 * 1024 * 1024
    seconds: float = 300.0


@dataclass(frozen=True)
class UploadTarget:
    bucket: str
    kms_key_arn: str
    session_id: str
    writer: str
    """`<role ID>:<task ID>`: the `aws:userid` of the task role session that uploads."""

    @property
    def prefix(self) -> str:
        return f"{PREFIX}{self.writer}/{self.session_id}/"


def upload_target(environ: Mapping[str, str], task_id: Callable[[], str]) -> UploadTarget | None:
    """Where this session's artifacts go; None when the task sets no bucket (not on AWS).

    `task_id` is asked only once the rest of the configuration is valid."""
    bucket = environ.get(ARTIFACTS_BUCKET_VARIABLE, "").strip()
    if not bucket:
        return None
    if not _BUCKET.fullmatch(bucket):
        raise ConfigError(f"{ARTIFACTS_BUCKET_VARIABLE} is not an S3 bucket name")
    key = env.matching(environ, ARTIFACTS_KEY_VARIABLE, env.KMS_KEY_ARN, "a KMS key ARN")
    session_id = environ.get("ANTHROPIC_SESSION_ID", "").strip()
    if not _SESSION_ID.fullmatch(session_id):
        raise ConfigError("ANTHROPIC_SESSION_ID is not a safe object key segment ([A-Za-z0-9_-], 1-128)")
    role_id = environ.get(ROLE_ID_VARIABLE, "").strip()
    if not _ROLE_ID.fullmatch(role_id):
        raise ConfigError(f"{ROLE_ID_VARIABLE} is not an IAM role unique ID (AROA...)")
    return UploadTarget(
        bucket=bucket, kms_key_arn=key, session_id=session_id, writer=f"{role_id}:{task_id()}"
    )


@dataclass
class UploadReport:
    uploaded: int = 0
    uploaded_bytes: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    stopped: str | None = None
    """Why the upload ended early: a cap (`files`, `total_bytes`, `seconds`) or an error."""

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def _entries(root: Path, report: UploadReport) -> Iterator[tuple[str, int]]:
    """(relative POSIX path, size) of every regular file under `root`, in sorted order.

    Never follows a symlink: a linked file or directory is counted and skipped, so a
    session cannot make the uploader read outside /workspace.
    """
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError:
            report.skip("unreadable")
            continue
        subdirectories = []
        for entry in entries:
            try:
                if entry.is_symlink():
                    report.skip("symlink")
                elif entry.is_dir(follow_symlinks=False):
                    subdirectories.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    yield (
                        Path(entry.path).relative_to(root).as_posix(),
                        entry.stat(follow_symlinks=False).st_size,
                    )
                else:
                    report.skip("special")
            except OSError:
                report.skip("unreadable")
        stack.extend(reversed(subdirectories))


def _put(client: ObjectStoreApi, target: UploadTarget, root: Path, relative: str, key: str) -> int:
    """PutObject one file, opened without following links; returns the bytes sent."""
    descriptor = os.open(root / relative, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as body:
        info = os.fstat(body.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise IsADirectoryError(relative)  # swapped for a non-file since the walk
        client.put_object(
            Bucket=target.bucket,
            Key=key,
            Body=body,
            ContentLength=info.st_size,
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=target.kms_key_arn,
            BucketKeyEnabled=True,
        )
        return info.st_size


def upload_workspace(
    client: ObjectStoreApi,
    target: UploadTarget,
    root: Path,
    *,
    limits: Limits,
    clock: Callable[[], float] = time.monotonic,
) -> UploadReport:
    report = UploadReport()
    deadline = clock() + limits.seconds
    failures_in_a_row = 0
    emit(log, logging.INFO, "artifacts.upload_started", bucket=target.bucket, prefix=target.prefix)
    for relative, size in _entries(root, report):
        if clock() >= deadline:
            report.stopped = "seconds"
            break
        if report.uploaded >= limits.files:
            report.stopped = "files"
            break
        if size > limits.file_bytes:
            report.skip("too_large")
            continue
        if report.uploaded_bytes + size > limits.total_bytes:
            report.stopped = "total_bytes"
            break
        key = target.prefix + relative
        if len(key.encode()) > MAX_KEY_BYTES:
            report.skip("key_too_long")
            continue
        try:
            sent = _put(client, target, root, relative, key)
        except OSError:
            report.skip("unreadable")
            continue
        except Exception as exc:
            code = error_code(exc)
            report.failed += 1
            failures_in_a_row += 1
            if code in _FATAL_ERRORS or failures_in_a_row >= _MAX_CONSECUTIVE_FAILURES:
                report.stopped = f"error: {code}: {error_message(exc)}"
                break
            continue
        failures_in_a_row = 0
        report.uploaded += 1
        report.uploaded_bytes += sent
    _report(target, limits, report)
    return report


_CAP_LINES = {
    "files": "stopped at the file cap ({limits.files} files); later files were not uploaded",
    "total_bytes": "stopped at the size cap ({limits.total_bytes} bytes in all); later files not uploaded",
    "seconds": "stopped at the time cap ({limits.seconds:.0f} s); later files were not uploaded",
}


def _report(target: UploadTarget, limits: Limits, report: UploadReport) -> None:
    if report.skipped.get("too_large"):
        emit(
            log,
            logging.WARNING,
            "artifacts.files_too_large",
            count=report.skipped["too_large"],
            detail=f"files over {limits.file_bytes} bytes were not uploaded",
        )
    if report.stopped in _CAP_LINES:
        emit(
            log,
            logging.WARNING,
            "artifacts.capped",
            cap=report.stopped,
            detail=_CAP_LINES[report.stopped].format(limits=limits),
        )
    elif report.stopped is not None:
        hint = (
            "the sandbox task role needs s3:PutObject on the bucket's tasks/${aws:userid}/* and "
            "kms:GenerateDataKey on the stack key through S3; if the role has both, this account's "
            "ECS does not name task-role sessions after the task (docs/sandbox-fleet.md, Artifacts)"
            if "AccessDenied" in report.stopped
            else "see the error"
        )
        emit(log, logging.ERROR, "artifacts.upload_failed", error=report.stopped, hint=hint)
    emit(
        log,
        logging.INFO,
        "artifacts.uploaded",
        bucket=target.bucket,
        prefix=target.prefix,
        files=report.uploaded,
        bytes=report.uploaded_bytes,
        skipped=dict(sorted(report.skipped.items())),
        failed=report.failed,
        complete=report.stopped is None,
    )
