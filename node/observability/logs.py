"""The node's logs: one set-up for the whole process, in text or JSON lines.

A node logs to stderr and, with `log_file`, to that file as well (appended,
so a restarted node continues its story).  `log_format = "json"` writes one
JSON object a line, for log shippers; text is for people.  Each line made
while an HTTP request is handled carries that request's id
(node/observability/request_ids.py), so an answer a client reports can be
found in the log.  Nothing on the hot path logs at info: one line per block
at most, never one per transaction.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

LEVELS = ("debug", "info", "warning", "error", "critical")
FORMATS = ("text", "json")
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None)
# attributes every LogRecord has: anything else was passed with `extra=` and is shown
# libraries that log each HTTP call at info (the node's etcd client and peers use httpx)
CHATTY_LIBRARIES = ("httpx", "httpcore", "hpack")
STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "request_id", "taskName"}


def utc_time(record: logging.LogRecord) -> str:
    """Return the record's time as UTC, to the millisecond: 2026-12-07T09:30:01.250Z."""
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{seconds}.{int(record.msecs):03d}Z"


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """Return the fields a call passed with `extra=` (e.g. a block's height)."""
    return {k: v for k, v in vars(record).items()
            if k not in STANDARD_ATTRIBUTES and not k.startswith("_")}


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the HTTP request being handled (or None)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add `request_id` to the record; keep every record."""
        record.request_id = REQUEST_ID.get()
        return True


class TextFormatter(logging.Formatter):
    """`TIME LEVEL logger: message [key=value ...] [request=ID]`, then any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one line of text (more only for a traceback)."""
        line = f"{utc_time(record)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        request_id = getattr(record, "request_id", None)
        if request_id:
            line += f" [request={request_id}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request_id, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one line of JSON."""
        entry: dict[str, Any] = {"time": utc_time(record), "level": record.levelname.lower(),
                                 "logger": record.name, "message": record.getMessage()}
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        entry.update(extra_fields(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def check_settings(level: str, fmt: str) -> None:
    """Raise ValueError naming the choices if `level` or `fmt` is not one of them."""
    if level.lower() not in LEVELS:
        raise ValueError(f"log level {level!r} is not one of {', '.join(LEVELS)}")
    if fmt.lower() not in FORMATS:
        raise ValueError(f"log format {fmt!r} is not one of {', '.join(FORMATS)}")


def configure_logging(level: str, fmt: str, log_file: Path | None) -> None:
    """Send the process's logs to stderr (and `log_file`) at `level`, in `fmt`.

    Replaces any handlers set up before.  Raises ValueError for an unknown
    level or format, OSError if the log file cannot be opened.
    """
    check_settings(level, fmt)
    formatter = JsonFormatter() if fmt.lower() == "json" else TextFormatter()
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    root.setLevel(level.upper())
    chatty = logging.DEBUG if root.level <= logging.DEBUG else max(root.level, logging.WARNING)
    for name in CHATTY_LIBRARIES:  # their info lines only when debugging
        logging.getLogger(name).setLevel(chatty)
