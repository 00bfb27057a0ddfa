"""Ordering: one total order of transaction batches that every node sees.

The `Orderer` interface is what the node needs from an ordering engine:
`append(batch)` returns the batch's position, and `read(after, ...)` returns
the batches after a position in order, waiting briefly for new ones.  Two
engines implement it: `embedded` (an SQLite log for one machine; several
nodes of one process may share it) and `etcd` (a Raft cluster the consortium
members run, for a network; `etcd_client` speaks its JSON gateway and
`compaction` trims its log once every node has attested past it).
"""

from __future__ import annotations

from dataclasses import dataclass
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
