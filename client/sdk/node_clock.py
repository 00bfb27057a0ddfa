"""The time a client signs with at each node: its own clock, or a simulation node's.

A node refuses a request dated more than five minutes from its clock.  A
simulation node runs on a manual clock that moves only when told to, so a
client on the system clock could not use it at all; such a node says so in
`GET /v1/health` (`clock: "manual"` and its `time`).  A client given no clock
of its own signs requests, and dates transactions, with that node's time as
last learnt: a manual clock stands still between moves, so the time learnt
is exact (an offset from the system clock would drift), and it is learnt
again when the node refuses a request.

What is never followed: a node on the system clock (whatever time it
shows), a node that does not say, any node for a client given `now`, and a
simulated time more than five minutes ahead of the system clock unless
allowed (`follow_ahead`, or LEDGER_FOLLOW_CLOCK_AHEAD=1).  A node that only
claimed a manual clock could otherwise have transactions signed for a future
date and submit them anywhere once it comes.  A past date gives it nothing:
a transaction's window (a day) closes as the chain's time moves on, only
sooner than for one dated now.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.errors import LedgerError
from ledger.timefmt import format_timestamp, parse_timestamp

Now = Callable[[], datetime]
AHEAD_LIMIT = timedelta(minutes=5)  # a node's default request_clock_skew_s
FOLLOW_AHEAD = "LEDGER_FOLLOW_CLOCK_AHEAD"  # "1": follow simulated clocks ahead of this machine's


def system_now() -> datetime:
    """Return the current UTC time."""
    return datetime.now(UTC)


class ClockAhead(Exception):
    """Raised when a simulation node's clock is ahead of this machine's and may not be followed."""


def followed_time(health: Mapping[str, Any]) -> datetime | None:
    """Return the time to sign with at a node, from its health answer, or None for its own clock.

    Only a node that declares a manual clock (`"clock": "manual"`, a
    simulation) is followed; one on the system clock, or one that does not
    say, never is, whatever time it shows.  Raises ValueError if a manual
    clock's `time` is not a ledger timestamp.
    """
    if health.get("clock") != "manual":
        return None
    try:
        return parse_timestamp(health.get("time"), what="a manual-clock node's time")
    except LedgerError as exc:
        raise ValueError(str(exc)) from exc


class NodeClocks:
    """The simulation nodes' times a client has learnt, by URL, and what it signs with at each."""

    def __init__(self, now: Now | None, follow_ahead: bool | None) -> None:
        """Sign with `now` and follow no node if given; else the system clock, following.

        `follow_ahead` allows following a simulated clock ahead of the system
        clock (default: whether LEDGER_FOLLOW_CLOCK_AHEAD is "1").
        """
        self.now = now or system_now
        self.follows = now is None
        self.follow_ahead = (os.environ.get(FOLLOW_AHEAD) == "1" if follow_ahead is None
                             else follow_ahead)
        self._simulated: dict[str, datetime] = {}

    def learn(self, url: str, health: Mapping[str, Any]) -> None:
        """Record the clock the node at `url` declares; raise ValueError for an unreadable time."""
        moment = followed_time(health)
        if moment is None:
            self._simulated.pop(url, None)
        else:
            self._simulated[url] = moment

    def simulated(self, url: str) -> datetime | None:
        """Return the simulated time last learnt from `url`, or None if it runs the system clock."""
        return self._simulated.get(url)

    def signing_time(self, url: str) -> datetime:
        """Return the time to sign with at `url` (its clock must have been learnt)."""
        followed = self._followed(url)
        return self.now() if followed is None else followed

    def moved(self, url: str, before: datetime | None) -> bool:
        """Return whether `url`'s clock, learnt again, is followed and moved since `before`.

        Raises ClockAhead if it is a simulated clock not followed because it
        is ahead of this machine's.
        """
        after = self._simulated.get(url)
        if not self.follows or after is None:
            return False
        if self._followed(url) is None:
            raise ClockAhead(
                f"{url} runs a simulated clock at {format_timestamp(after)}, ahead of this "
                f"machine's: signing with a future time is allowed only for a simulation "
                f"(NodeClient(follow_ahead=True), or {FOLLOW_AHEAD}=1 for the ledger command), "
                f"since a node only claiming such a clock could submit what you sign later")
        return after != before

    def _followed(self, url: str) -> datetime | None:
        """Return the simulated time to sign with at `url`, or None to sign with `now()`."""
        learnt = self._simulated.get(url)
        if learnt is None or not self.follows:
            return None
        if learnt > system_now() + AHEAD_LIMIT and not self.follow_ahead:
            return None
        return learnt
