"""Where the node's idea of 'now' comes from.

Block time is stamped on each batch from this clock.  Production uses the
system clock; the demo and tests use a manual clock they move forward, which
is how a story spanning ninety days runs in seconds.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol

from ledger.timefmt import format_timestamp


class Clock(Protocol):
    """A source of the current time."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware."""


class SystemClock:
    """The machine's UTC clock."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)


LATEST_SIMULATED = datetime(9000, 1, 1, tzinfo=UTC)
"""A manual clock never passes this: every date the ledger derives from the clock (validity
windows, maturities a year out, expiry dates) must stay inside what dates can hold (year 9999)."""


class ClockLimit(ValueError):
    """Raised when a manual clock would be moved past LATEST_SIMULATED."""


class ManualClock:
    """A clock that moves only when told to (demo and tests)."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Return the clock's current time."""
        with self._lock:
            return self._now

    def advance(self, *, days: int = 0, seconds: int = 0) -> None:
        """Move the clock forward; raise ClockLimit (unmoved) past LATEST_SIMULATED."""
        with self._lock:
            room = LATEST_SIMULATED - self._now
            step = timedelta(days=days, seconds=seconds) if days <= room.days + 1 else None
            if step is None or step > room:
                raise ClockLimit(f"the simulated clock stays before "
                                 f"{format_timestamp(LATEST_SIMULATED)}; it is at "
                                 f"{format_timestamp(self._now)}, so it may move at most "
                                 f"{room.days} days and {room.seconds} seconds more")
            self._now += step

    def set(self, moment: datetime) -> None:
        """Set the clock (never backwards)."""
        with self._lock:
            self._now = max(self._now, moment)


def timestamp(clock: Clock) -> str:
    """Return the clock's time in the ledger's timestamp format."""
    return format_timestamp(clock.now())
