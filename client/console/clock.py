"""The console's time: whole seconds since the epoch (UTC), as its database keeps them.

Sessions expire, lockouts end and the audit trail is dated by this clock,
the machine's; the ledger's own dates (maturities, the inbox's "today") come
from the node.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_s() -> int:
    """Return the current time in whole seconds since the epoch."""
    return int(time.time())


def moment(seconds: int) -> datetime:
    """Return `seconds` since the epoch as a UTC datetime."""
    return datetime.fromtimestamp(seconds, UTC)
