"""The raw export for auditors: the node's stored rows as chain-file lines, whole or in pages.

Each answer reads one consistent snapshot of the database
(node/storage/chain_lines.py) and nothing stored is parsed on the way out,
so a corrupt row is served as it is and found by the audit.  Only auditors
may read it.  The methods return lazy line iterators: nothing is read until
the first line is asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import orjson

from ledger.membership import Member
from node.clock import Clock
from node.pipeline.holdings import Refused, is_auditor, refuse_archived
from node.storage.chain_lines import chain_lines, read_snapshot
from node.storage.store import Store

Lines = Iterator[bytes]


class Exports:
    """Chain-file lines of this node's database, for auditors."""

    def __init__(self, store: Store, clock: Clock, node_id: str) -> None:
        self._store = store
        self._clock = clock
        self._source = f"node {node_id}"

    def _now(self) -> datetime:
        return self._clock.now().astimezone(UTC)

    def _auditor_only(self, viewer: Member) -> None:
        """Refuse anyone but an auditor; and every export of a node started from a snapshot."""
        if not is_auditor(viewer):
            raise Refused("forbidden", "the raw export is for auditors")
        first = self._store.tx_at_log_index(0)
        if first is not None:
            refuse_archived(first)

    def whole(self, viewer: Member) -> Lines:
        """Return the whole chain file (meta, blocks, tables, orphans, end) from one snapshot."""
        self._auditor_only(viewer)
        with read_snapshot(self._store.engine) as reader:
            yield from chain_lines(reader, source=self._source, now=self._now())

    def meta(self, viewer: Member) -> Lines:
        """Return the chain file's first line: format, head height, log size, row counts."""
        self._auditor_only(viewer)
        with read_snapshot(self._store.engine) as reader:
            yield orjson.dumps(reader.meta(self._source, self._now())) + b"\n"

    def blocks(self, viewer: Member, start: int, limit: int) -> Lines:
        """Return block lines from height `start`, then a page line naming the next height."""
        self._auditor_only(viewer)
        with read_snapshot(self._store.engine) as reader:
            last = None
            for block in reader.blocks(start, limit=limit):
                last = block["block"]["height"]
                yield orjson.dumps(block) + b"\n"
            following = last + 1 if isinstance(last, int) else None
            yield orjson.dumps({"type": "page", "next": following}) + b"\n"

    def rows(self, viewer: Member, table: str, offset: int, limit: int) -> Lines:
        """Return one `rows` line of `table` (in key order from `offset`), then a page line."""
        self._auditor_only(viewer)
        with read_snapshot(self._store.engine) as reader:
            if table not in reader.other_tables():
                raise Refused("not_found", f"exported table {table!r} not found")
            rows = list(reader.table_rows(table, offset, limit))
            yield orjson.dumps({"type": "rows", "table": table, "rows": rows}) + b"\n"
            following = offset + len(rows) if len(rows) == limit else None
            yield orjson.dumps({"type": "page", "next_offset": following}) + b"\n"
