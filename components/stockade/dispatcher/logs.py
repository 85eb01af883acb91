"""Structured JSON log lines on stderr, scrubbed of every registered secret.

The programs in this package hold two secrets: the per-session work secret and the
environment key. Neither is ever passed to a log call; this module is the backstop that
makes a slip harmless. A `RedactingFilter` on the one handler renders each record's message
immediately, replaces every registered secret (raw, JSON-escaped and repr-escaped), and
writes the scrubbed text back into the record, so no later formatter or handler can
re-render the raw arguments. The formatter scrubs the finished line once more.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import traceback
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

REDACTED = "[redacted]"

# botocore logs whole request parameters at DEBUG, which for CreateSecret includes the
# work secret. These loggers never go below WARNING, whatever the root level is.
_CHATTY_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")
_HANDLER_MARK = "_stockade_dispatcher_handler"


class Redactor:
    """Replaces known secret strings, in every escaped form a log line could carry them.

    Secrets added with `add` stay for the life of the process (the environment key).
    Those added with `add_recent` (each work item's secret) are kept for the most recent
    `recent_limit` only: a long-running orchestrator sees a new one per session, and an
    ever-growing list would make every log line slower to scrub and never give memory back.
    The limit is set well above the sessions that can be live at once (`limit_recent`).
    """

    def __init__(self, *, recent_limit: int = 1024) -> None:
        # secret -> the forms it is scrubbed in, computed once when the secret is added
        self._permanent: dict[str, frozenset[str]] = {}
        self._recent: OrderedDict[str, frozenset[str]] = OrderedDict()
        self._recent_limit = recent_limit
        self._lock = threading.Lock()
        self._forms: list[str] = []

    def add(self, secret: str) -> None:
        if secret:
            with self._lock:
                self._permanent[secret] = _escaped_forms(secret)
                self._rebuild()

    def add_recent(self, secret: str) -> None:
        if secret:
            with self._lock:
                self._recent[secret] = self._recent.get(secret) or _escaped_forms(secret)
                self._recent.move_to_end(secret)
                self._rebuild()

    def limit_recent(self, limit: int) -> None:
        with self._lock:
            self._recent_limit = max(1, limit)
            self._rebuild()

    def _rebuild(self) -> None:
        while len(self._recent) > self._recent_limit:
            self._recent.popitem(last=False)
        forms = frozenset().union(*self._permanent.values(), *self._recent.values())
        # A new list, assigned at once: scrubbing threads iterate the old one or the new one.
        self._forms = sorted(forms, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, REDACTED)
        return text

    def scrub_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, Mapping):
            return {str(k): self.scrub_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.scrub_value(v) for v in value]
        if value is None or isinstance(value, bool | int | float):
            return value
        return self.scrub(str(value))


def _escaped_forms(secret: str) -> frozenset[str]:
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
    }
    return frozenset(form for form in forms if form)


class RedactingFilter(logging.Filter):
    """Freezes each record's message, exception text and fields in scrubbed form."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            # A format string that does not match its arguments: keep the template only,
            # since the arguments are exactly what might be secret.
            message = f"{record.msg} [unformattable arguments dropped]"
        record.msg = self._redactor.scrub(message)
        record.args = None
        if record.exc_info:
            text = "".join(traceback.format_exception(*record.exc_info))
            record.exc_text = self._redactor.scrub(text.rstrip())
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self._redactor.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redactor.scrub(record.stack_info)
        fields = getattr(record, "fields", None)
        if fields is not None:
            record.fields = self._redactor.scrub_value(fields)
        return True


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line: time, level, program, event, then the record's `fields`."""

    def __init__(self, program: str, redactor: Redactor) -> None:
        super().__init__()
        self._program = program
        self._redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "program": self._program,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            for key, value in fields.items():
                payload.setdefault(str(key), value)
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.exc_text:
            payload["exception"] = record.exc_text
        return self._redactor.scrub(json.dumps(payload, default=str, ensure_ascii=False))


def configure(
    program: str, redactor: Redactor, stream: TextIO | None = None, level: int = logging.INFO
) -> logging.Handler:
    """Install the one scrubbing JSON handler on the root logger (replacing an earlier one).

    The handler goes first among the root's handlers: its filter rewrites records in place,
    so any handler after it (a test's capture handler included) sees only scrubbed text.
    """
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, _HANDLER_MARK, False):
            root.removeHandler(existing)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    handler.addFilter(RedactingFilter(redactor))
    handler.setFormatter(JsonLineFormatter(program, redactor))
    root.handlers.insert(0, handler)
    root.setLevel(level)
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler


def emit(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    """Log one structured event; `fields` become top-level keys of the JSON line."""
    logger.log(level, event, extra={"fields": fields}, stacklevel=2)
