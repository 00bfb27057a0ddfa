"""ledger.timefmt: one strict UTC spelling per instant and per date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import SchemaError
from ledger.timefmt import format_timestamp, parse_date, parse_timestamp

ARABIC_2026 = "\u0662\u0660\u0662\u0666"  # Arabic-Indic digits 2026
FULLWIDTH_2026 = "\uff12\uff10\uff12\uff16"  # fullwidth digits 2026
moments = st.datetimes(
    min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(-timedelta(hours=5))]),
)


def test_parse_timestamp() -> None:
    moment = parse_timestamp("2026-01-31T08:00:59Z")
    assert moment == datetime(2026, 1, 31, 8, 0, 59, tzinfo=UTC)
    assert moment.utcoffset() == timedelta(0)
    assert parse_timestamp("2024-02-29T23:59:59Z") == datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)


def test_format_timestamp() -> None:
    beijing = timezone(timedelta(hours=8))
    assert format_timestamp(datetime(2026, 1, 31, 8, 0, tzinfo=beijing)) == "2026-01-31T00:00:00Z"
    assert format_timestamp(datetime(2026, 1, 1, 0, 30, tzinfo=beijing)) == "2025-12-31T16:30:00Z"
    assert format_timestamp(datetime(2026, 1, 31, 8, 0, 1, 999_999, tzinfo=UTC)) == (
        "2026-01-31T08:00:01Z"
    )


def test_format_rejects_naive() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        format_timestamp(datetime(2026, 1, 31, 8, 0))


@settings(max_examples=300, deadline=None)
@given(moments)
def test_timestamp_round_trip(moment: datetime) -> None:
    text = format_timestamp(moment)
    parsed = parse_timestamp(text)
    assert parsed == moment.replace(microsecond=0)
    assert format_timestamp(parsed) == text
    assert len(text) == 20


@settings(max_examples=200, deadline=None)
@given(moments, moments)
def test_string_order_is_time_order(a: datetime, b: datetime) -> None:
    """The executor compares timestamps as strings; that must agree with time order."""
    ta, tb = format_timestamp(a), format_timestamp(b)
    assert (ta < tb) == (parse_timestamp(ta) < parse_timestamp(tb))


@pytest.mark.parametrize("text", [
    "2026-01-31 08:00:00Z", "2026-01-31T08:00:00", "2026-01-31T08:00:00z", "2026-01-31t08:00:00Z",
    "2026-01-31T08:00:00+00:00", "2026-01-31T08:00:00+08:00", "2026-01-31T08:00:00.5Z",
    "2026-01-31T08:00Z", "2026-1-31T08:00:00Z", "26-01-31T08:00:00Z", "+2026-01-31T08:00:00Z",
    "2026-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z",
    "2026-01-32T00:00:00Z", "2026-01-31T24:00:00Z", "2026-01-31T23:60:00Z",
    "2026-01-31T23:59:60Z", " 2026-01-31T08:00:00Z", "2026-01-31T08:00:00Z ",
    "2026-01-31T08:00:00Z\n", "2026-01-31", "", "20260131T080000Z",
    None, 1769846400, b"2026-01-31T08:00:00Z", datetime(2026, 1, 31, tzinfo=UTC),
])
def test_parse_timestamp_rejects(text: Any) -> None:
    with pytest.raises(SchemaError, match="block time"):
        parse_timestamp(text, what="block time")


@pytest.mark.parametrize("text", [ARABIC_2026 + "-01-31T08:00:00Z",
                                  FULLWIDTH_2026 + "-01-31T08:00:00Z"])
def test_parse_timestamp_rejects_non_ascii_digits(text: str) -> None:
    with pytest.raises(SchemaError):
        parse_timestamp(text)


def test_parse_date() -> None:
    assert parse_date("2026-01-31") == date(2026, 1, 31)
    assert parse_date("2024-02-29") == date(2024, 2, 29)


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=date(1000, 1, 1)))
def test_date_round_trip(day: date) -> None:
    assert parse_date(day.isoformat()) == day


@pytest.mark.parametrize("text", [
    "2026-1-31", "2026-01-1", "20260131", "2026-02-29", "2026-02-30", "2026-13-01",
    "2026-00-01", "2026-01-00", "2026-01-31T00:00:00Z", "2026/01/31", " 2026-01-31",
    "2026-01-31\n", "2026-W05-6", "", ARABIC_2026 + "-01-31",
    FULLWIDTH_2026 + "-01-31",
    None, 20260131, date(2026, 1, 31),
])
def test_parse_date_rejects(text: Any) -> None:
    with pytest.raises(SchemaError, match="due date"):
        parse_date(text, what="due date")
