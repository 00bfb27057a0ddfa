"""The embedded orderer: a durable total order of batches in SQLite (or memory), in-process.

For one machine (the demo, tests, a small deployment): the node appends its
batches here and reads them back in order; several nodes of one process may
share one instance (the multi-node tests do).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from node.ordering import OrderedBatch


class EmbeddedOrderer:
    """A durable, in-process total order backed by SQLite (or memory when path is None)."""

    max_batch_bytes: int | None = None

    def __init__(self, path: Path | None = None) -> None:
        self._lock = threading.Condition()
        target = str(path) if path is not None else ":memory:"
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS batches (position INTEGER PRIMARY KEY, data BLOB NOT NULL)"
        )
        row = self._db.execute("SELECT COALESCE(MAX(position), 0) FROM batches").fetchone()
        self._last = int(row[0])
        self._closed = False

    @property
    def last_position(self) -> int:
        """Return the position of the newest batch (0 if none)."""
        return self._last

    def append(self, data: bytes) -> int:
        """Append `data` durably and return its position."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the orderer is closed")
            position = self._last + 1
            self._db.execute("INSERT INTO batches VALUES (?, ?)", (position, data))
            self._last = position
            self._lock.notify_all()
            return position

    def read(self, after: int, *, limit: int = 100, wait_s: float = 0.0) -> list[OrderedBatch]:
        """Return up to `limit` batches with position > `after`, waiting up to `wait_s`."""
        with self._lock:
            if self._last <= after and wait_s > 0 and not self._closed:
                self._lock.wait_for(lambda: self._last > after or self._closed, timeout=wait_s)
            if self._closed:
                return []
            rows = self._db.execute(
                "SELECT position, data FROM batches WHERE position > ? ORDER BY position LIMIT ?",
                (after, limit),
            ).fetchall()
        return [OrderedBatch(int(p), bytes(d)) for p, d in rows]

    def close(self) -> None:
        """Close the log; waiting readers return at once."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()
            self._db.close()
