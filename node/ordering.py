"""Ordering: one total order of transaction batches that every node sees.

The `Orderer` interface is what the node needs from an ordering engine:
`append(batch)` returns the batch's position, and `read(after, ...)` returns
the batches after a position in order, waiting briefly for new ones.  The
embedded orderer keeps that log in SQLite (or memory) for one machine; several
nodes may share one instance in a process.  The etcd engine of the network
deployment implements the same interface.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class OrderedBatch:
    """A batch at its place in the total order (positions start at 1 and increase)."""

    position: int
    data: bytes


class Orderer(Protocol):
    """The ordering service as the node sees it."""

    max_batch_bytes: int | None
    """The largest batch the engine accepts, or None for no limit."""

    def append(self, data: bytes) -> int:
        """Append a batch and return its position."""

    def read(self, after: int, *, limit: int, wait_s: float) -> list[OrderedBatch]:
        """Return up to `limit` batches after position `after`, waiting up to `wait_s`."""

    def close(self) -> None:
        """Release resources."""


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
