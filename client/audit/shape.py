"""The chain file's own bookkeeping: its header line, its end line and what it holds.

The header line (`meta`) and the end line state the format, the head, the
log size and how many lines, blocks and rows of each table the file holds.
None of it is trusted, but all of it must agree with what the file does
hold and with the rebuilt chain; a file cut short has no end line.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from client.audit.replay import Replay
from client.audit.report import AuditReport
from ledger.chainfile import (
    ATTESTATION_TABLE,
    BATCH_TABLE,
    BLOCK_TABLE,
    READABLE_FORMATS,
    TX_TABLE,
)

BLOCK_FIELDS = frozenset({"type", "block", "batch", "txs", "attestations"})


class FileShape:
    """Counts what the file holds and compares it with what its header and end lines say."""

    def __init__(self, report: AuditReport) -> None:
        self.report = report
        self.meta: dict[str, Any] | None = None
        self.end: dict[str, Any] | None = None
        self.lines = 0
        self.blocks = 0
        self.rows: Counter[str] = Counter()

    def block(self, record: dict[str, Any]) -> None:
        """Count a block line and the rows it carries; report fields a block line has not.

        A misspelt field name would otherwise read as a missing part (say,
        genesis's `"batch":null` misspelt gives the same block).
        """
        if set(record) != BLOCK_FIELDS:
            self.report.find("source", f"line {self.lines} has the fields {sorted(record)!r}, "
                             f"not those of a block line {sorted(BLOCK_FIELDS)!r}"[:300])
        self.blocks += 1
        self.rows[BLOCK_TABLE] += 1
        self.rows[BATCH_TABLE] += record.get("batch") is not None
        for table, key in ((TX_TABLE, "txs"), (ATTESTATION_TABLE, "attestations")):
            rows = record.get(key)
            self.rows[table] += len(rows) if isinstance(rows, list) else 0

    def table_rows(self, table: str, rows: Any) -> None:
        """Count a page of rows (a `rows` or `orphans` line)."""
        self.rows[table] += len(rows) if isinstance(rows, list) else 0

    def header(self, record: dict[str, Any]) -> None:
        """Take the header line (it must be the first line, and the only one)."""
        if self.lines != 1 or self.meta is not None:
            self.report.find("source", f"line {self.lines} is a second header line")
            return
        self.meta = record
        if record.get("format") not in READABLE_FORMATS:
            self.report.find("source", f"the file's format is {record.get('format')!r}, "
                             f"not one of {READABLE_FORMATS!r}"[:200])

    def check(self, replay: Replay) -> None:
        """Report every way the header and end lines disagree with the file and the chain."""
        if self.meta is None:
            self.report.find("source", "the chain file does not start with its header line")
        if self.end is None:
            self.report.find("source", "the chain file has no end line: it was cut short")
        meta, end = self.meta or {}, self.end or {}
        head = replay.head
        claims = [
            (self.end is not None and (end.get("lines"), end.get("blocks")) != (
                self.lines - 1, self.blocks),
             f"the end line counts {end.get('lines')!r} lines and {end.get('blocks')!r} "
             f"blocks; the file holds {self.lines - 1} and {self.blocks}"),
            (self.meta is not None and _nonzero(meta.get("tables")) != _nonzero(self.rows),
             f"the header line counts rows {meta.get('tables')!r}; the file holds "
             f"{dict(self.rows)}"),
            (head is not None and self.meta is not None and (
                meta.get("height"), meta.get("log_size"), meta.get("chain_id")) != (
                head.height, replay.log.size, replay.chain_id),
             f"the header line says chain {meta.get('chain_id')!r}, height "
             f"{meta.get('height')!r}, log size {meta.get('log_size')!r}; the blocks give "
             f"{replay.chain_id!r}, {head.height if head else None} and {replay.log.size}"),
        ]
        for failed, message in claims:
            if failed:
                self.report.find("source", message[:400])


def _nonzero(counts: Any) -> dict[Any, Any] | None:
    """Return the non-zero counts of a table -> count mapping (None if it is not one)."""
    return {k: v for k, v in counts.items() if v != 0} if isinstance(counts, dict) else None
