"""Dates and timestamps as the schema writes them: strict ISO-8601, always UTC.

Timestamps are 'YYYY-MM-DDTHH:MM:SSZ' and dates 'YYYY-MM-DD'.  One spelling
per instant keeps signed bytes unique and lets comparisons stay exact.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from ledger.errors import SchemaError, described

_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_timestamp(text: object, *, what: str = "timestamp") -> datetime:
    """Parse 'YYYY-MM-DDTHH:MM:SSZ' into an aware UTC datetime; raise SchemaError otherwise."""
    if not isinstance(text, str) or not _TIMESTAMP.fullmatch(text):
        raise SchemaError(f"{what} must be a UTC timestamp like 2026-01-31T08:00:00Z")
    try:
        return datetime(
            int(text[0:4]), int(text[5:7]), int(text[8:10]),
            int(text[11:13]), int(text[14:16]), int(text[17:19]), tzinfo=UTC,
        )
    except ValueError as exc:
        raise SchemaError(f"{what} {text!r} is not a real date and time") from exc


def format_timestamp(moment: datetime) -> str:
    """Write an aware datetime as 'YYYY-MM-DDTHH:MM:SSZ' in UTC (sub-seconds dropped)."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_date(text: object, *, what: str = "date") -> date:
    """Parse 'YYYY-MM-DD' into a date; raise SchemaError otherwise."""
    if not isinstance(text, str) or not _DATE.fullmatch(text):
        raise SchemaError(f"{what} must be a date like 2026-01-31, not {described(text)}")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise SchemaError(f"{what} {text!r} is not a real date") from exc
