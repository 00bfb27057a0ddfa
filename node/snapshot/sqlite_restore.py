"""Restoring into a SQLite file in one pass: check and write together, in a file of its own.

The general restore (node/snapshot/restore.py) reads the snapshot twice, so
that nothing is written unless all of it checks.  Into a SQLite file the
same guarantee costs one read: each page of rows is checked, then written,
into a new file beside the target (`<name>.restoring`) kept without a
journal or syncs; the indexes over random keys (the transactions' ids, the
note and records indexes' secondary ones) are built after the rows, in one
sorted pass each.  Only if the whole snapshot checks is that file synced
and renamed to the target's name, in one atomic step; otherwise it is
deleted.  A crash leaves at most the `.restoring` file, deleted by the next
restore, and the target as it was.

With worker processes, and a file laid out as the writer lays it out, the
workers read the transaction and state pages themselves from the start
(`_Filler`), so that their checks, the state's digest, its packing and the
index rows of 1,000,000 transactions overlap the main process's work:
45 s from the file to a proof served, against 64 s when the workers only
took the state pages the main process had read (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import mmap
import os
import sqlite3
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from sqlalchemy import Index
from sqlalchemy.exc import IntegrityError

from ledger.blob_codec import pack
from ledger.canonical import parse_trusted
from ledger.compact_log import CompactLog
from ledger.genesis import Genesis
from ledger.record_index import RECORD_ROW, index_row, record_kind
from ledger.snapshot import (
    SECTIONS,
    SnapshotCheck,
    SnapshotHead,
    SnapshotRefused,
    TxEntry,
    state_elements,
    tx_entries,
)
from ledger.state_digest import StateDigest
from node.pipeline.chain import NOTE_PREFIX, _note_rows
from node.snapshot.restore import (
    MAX_IN_FLIGHT,
    RESTORE_CACHE_MIB,
    _attestation_row,
    _block_row,
    archived_tx_cells,
    genesis_facts,
    parse_line,
    repeated_row,
    sections_of,
    write_log_page,
    write_pairs,
)
from node.storage import state_digests
from node.storage.hex_ids import stored_id
from node.storage.models import ID_COLUMNS
from node.storage.records_index import BACKFILL_PAGE, RECORDS, note_maturities
from node.storage.store import (
    ATTESTATIONS,
    BLOCKS,
    NOTES,
    STATE,
    TXS,
    BulkWriter,
    Store,
)

RESTORING = ".restoring"  # the suffix of the file being filled


STATE_COLUMNS = ("key", "height", "value")
NOTE_COLUMNS = tuple(column.name for column in NOTES.columns)
NOTE_IDS = frozenset(ID_COLUMNS[NOTES.name])
# how the snapshot writer (node/snapshot/take.py) begins each kind of line
WRITTEN = {b'{"type":"%s","rows":' % kind.encode(): kind for kind in SECTIONS}
WRITTEN[b'{"type":"end"}'] = "end"
DISPATCHED = ("txs", "state")  # the kinds of line worker processes read


class _StatePage(NamedTuple):
    """What a worker makes of one page of state rows."""

    first: str  # the page's first and last keys, "" for an empty page
    last: str
    size: int  # its rows
    digest: StateDigest
    state: list[tuple[str, int, bytes]]  # the state table's rows: key, height, packed value
    notes: list[tuple[Any, ...]]  # the note index's rows (NOTE_COLUMNS), ids as stored
    records: list[tuple[Any, ...]]  # the records index's rows (RECORD_ROW), but financings'
    financings: list[tuple[dict[str, Any], str]]  # their rows, dated later, and notes' ids


class _TxsPage(NamedTuple):
    """What a worker makes of one page of log entries."""

    entries: list[TxEntry]  # shapes checked; their places in the log are checked in order
    cells: list[tuple[Any, ...]]  # the transactions table's rows


class _Dispatched(list[Any]):
    """Stands in for the rows of a line that a worker process reads, checks and prepares."""

    def __init__(self, number: int) -> None:
        super().__init__()
        self.number = number


def _state_work(elements: list[tuple[str, bytes]], heights: list[int]) -> _StatePage:
    """Digest one state page, pack its values, make its index rows (run in a worker process).

    The index rows are derived before the digest is checked, so from values
    not yet known to be the quorum's: they are kept only if it checks, and a
    value they cannot be derived from is a refusal, not a crash.
    """
    notes: list[tuple[Any, ...]] = []
    records: list[tuple[Any, ...]] = []
    financings: list[tuple[dict[str, Any], str]] = []
    state = []
    for (key, value), height in zip(elements, heights, strict=True):
        state.append((key, height, pack(value)))
        try:
            _index_rows(key, value, height, notes, records, financings)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SnapshotRefused(f"the snapshot's state value of {key[:80]!r} is not a record "
                                  f"this ledger writes ({type(exc).__name__})") from exc
    first, last = (elements[0][0], elements[-1][0]) if elements else ("", "")
    return _StatePage(first, last, len(elements), StateDigest.of(elements), state, notes,
                      records, financings)


def _index_rows(key: str, value: bytes, height: int, notes: list[tuple[Any, ...]],
                records: list[tuple[Any, ...]],
                financings: list[tuple[dict[str, Any], str]]) -> None:
    """Add the note and records index rows the state entry `key` = `value` makes."""
    if key.startswith(NOTE_PREFIX):
        notes.extend(tuple(stored_id(note[c]) if c in NOTE_IDS and note[c] is not None
                           else note[c] for c in NOTE_COLUMNS)
                     for note in _note_rows({key: value}, height, {}))
    kind = record_kind(key)
    if kind is not None:
        record = parse_trusted(value)  # ours once the digest checks; else all is refused
        row = index_row(kind, record, height, lambda _: None)
        if kind == "financing":  # its date is its note's maturity: filled in at the end
            financings.append((row, record["note"]))
        else:
            records.append(_record_cells(row))


def _record_cells(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(stored_id(row[c]) if c == "id" else row[c] for c in RECORD_ROW)


def _line_work(path: str, span: tuple[int, int], number: int, kind: str, head_height: int,
               reason: str) -> _StatePage | _TxsPage:
    """Read, parse and check line `number` at `span` of the file, a page of `kind`, and
    prepare its rows (run in a worker process: the checker never parses the line)."""
    start, size = span
    with open(path, "rb") as file:
        file.seek(start)
        value = parse_line(file.read(size), number)
    rows = value.get("rows")
    if value.get("type") != kind or not isinstance(rows, list):
        raise SnapshotRefused(f"line {number} of the snapshot begins as a {kind} page but is "
                              "not one")
    if kind == "txs":
        entries = tx_entries(rows)
        return _TxsPage(entries, archived_tx_cells(entries, reason))
    return _state_work(state_elements(rows, head_height), [row[1] for row in rows])


class _Filler:
    """Checks each page of the snapshot and writes it into the new file, in file order.

    With worker processes, the transaction and state lines the file lays
    out as the writer does are handed to them at once, by their place in the
    file (`dispatch`): they read, check and prepare those pages (the state's
    digest, packed values and index rows) while this process checks and
    writes the others, and each state page is written as soon as it is
    ready (`write_ready`).  The checks that need the pages before (a log
    entry's place, the state keys' order across pages) are made here, in
    file order.
    """

    def __init__(self, writer: BulkWriter, check: SnapshotCheck, store: Store,
                 processes: int) -> None:
        self._writer, self._check = writer, check
        self._log = CompactLog(store, 0)
        self._reason = f"archived below the snapshot at height {check.head.height}"
        self._pool = ProcessPoolExecutor(processes) if processes > 1 else None
        self._limit = MAX_IN_FLIGHT * max(processes, 1)
        # the pages handed to workers, in file order: (line number, kind, its page)
        self._waiting: list[tuple[int, str, Future[_StatePage | _TxsPage]]] = []
        self._queued: list[tuple[int, str, tuple[int, int]]] = []  # lines not yet handed out
        self._written = 0  # the last dispatched line written
        self._path = ""
        self.financings: list[tuple[dict[str, Any], str]] = []  # to date once notes are in

    def dispatch(self, path: Path, lines: list[tuple[int, str, tuple[int, int]]]) -> None:
        """Have the workers read and prepare these (line number, kind, span) lines, in order."""
        self._path, self._queued = str(path), list(reversed(lines))
        self._hand_out()

    def take(self, section: str, rows: list[Any]) -> None:
        """Check and write one page (a dispatched one: when the worker has prepared it)."""
        if isinstance(rows, _Dispatched):
            self._write_through(rows.number)
        elif section == "headers":
            self._check.take_headers(rows)
            self._writer.insert(BLOCKS, [_block_row(str(text)) for text in rows])
        elif section == "txs":
            entries = tx_entries(rows)
            self._write_txs(_TxsPage(entries, archived_tx_cells(entries, self._reason)))
        elif section == "state":
            self._take_state(rows)
        elif section == "attestations":
            self._check.take_attestations(rows)
            self._writer.insert(ATTESTATIONS, [_attestation_row(r) for r in rows])
        else:
            self._check.take_pairs(section, rows)
            write_pairs(self._writer, section, rows)

    def write_ready(self) -> None:
        """Write the state pages the workers have finished, in file order, without waiting
        (a page of log entries waits for the checker to reach it: it needs the headers)."""
        while self._waiting and self._waiting[0][1] == "state" and self._waiting[0][2].done():
            self._write_oldest()

    def finish(self) -> None:
        """Write every page still waiting."""
        while self._waiting:
            self._write_oldest()

    def close(self) -> None:
        """Stop the worker processes."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def _take_state(self, rows: list[Any]) -> None:
        """A state page read here: its order and shape checked now, the rest in its turn."""
        elements = self._check.take_state(rows)
        heights = [row[1] for row in rows]
        if self._pool is None:
            self._write_state(_state_work(elements, heights), checked=True)
            return
        self._waiting.append((0, "state", self._pool.submit(_state_work, elements, heights)))
        while len(self._waiting) > self._limit:
            self._write_oldest()

    def _hand_out(self) -> None:
        assert self._pool is not None
        height = self._check.head.height
        while self._queued and len(self._waiting) < self._limit:
            number, kind, span = self._queued.pop()
            self._waiting.append((number, kind, self._pool.submit(
                _line_work, self._path, span, number, kind, height, self._reason)))

    def _write_through(self, number: int) -> None:
        """Make sure line `number`'s page is written: the checker has reached it."""
        while self._written < number:
            if not self._waiting:
                raise SnapshotRefused(f"line {number} of the snapshot was not read")  # a bug
            self._write_oldest()

    def _write_oldest(self) -> None:
        number, _, future = self._waiting.pop(0)
        page = future.result()
        if isinstance(page, _TxsPage):
            self._write_txs(page)
        else:
            self._write_state(page, checked=number == 0)
        self._written = max(self._written, number)
        if self._queued:
            self._hand_out()

    def _write_txs(self, page: _TxsPage) -> None:
        leaves = self._check.take_tx_entries(page.entries)
        write_log_page(self._writer, self._log, page.cells, leaves)

    def _write_state(self, page: _StatePage, *, checked: bool) -> None:
        if not checked:  # a dispatched line: the worker checked the page by itself
            self._check.take_checked_state(page.first, page.last, page.size)
        self._check.add_digest(page.digest)
        self._writer.insert_cells(STATE, STATE_COLUMNS, page.state)
        self._writer.insert_cells(NOTES, NOTE_COLUMNS, page.notes)
        self._writer.insert_cells(RECORDS, RECORD_ROW, page.records)
        self.financings.extend(page.financings)


def restore_sqlite_file(target: Path, genesis: Genesis, path: Path, *,
                        processes: int = 0) -> SnapshotHead:
    """Check the snapshot at `path` while filling a new file, renamed to `target` if it checks.

    Raises SnapshotRefused naming the first problem; then `target` is as it
    was (the caller made sure it holds no chain) and no other file is left.
    """
    temp = target.with_name(target.name + RESTORING)
    _remove(temp)
    try:
        head = _fill(temp, genesis, path, processes)
    except (sqlite3.IntegrityError, IntegrityError) as exc:
        _remove(temp)
        raise repeated_row(exc) from exc
    except BaseException:
        _remove(temp)
        raise
    _sync(temp)
    _remove(target)
    os.replace(temp, target)
    _sync(target.parent)
    return head


def _fill(temp: Path, genesis: Genesis, path: Path, processes: int) -> SnapshotHead:
    genesis_hash, nodes = genesis_facts(genesis)
    store = Store(f"sqlite:///{temp}", sqlite_cache_mib=RESTORE_CACHE_MIB)
    store.engine.dispose()  # the next connection is the only one: it may leave WAL mode
    deferred = sorted([*NOTES.indexes, *TXS.indexes, *RECORDS.indexes],
                      key=lambda index: str(index.name))
    with path.open("rb") as file, _mapped(file) as data:
        spans = _line_spans(data)
        kinds = _written_kinds(data, spans) if processes > 1 else None  # None: none dispatched
        head, pages = sections_of(_lines(data, spans, kinds))
        check = SnapshotCheck(head, chain_id=genesis.chain_id, genesis_hash=genesis_hash,
                              nodes=nodes)
        try:
            with store.engine.begin() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=OFF")  # a failure deletes the file
                conn.exec_driver_sql("PRAGMA synchronous=OFF")  # synced once, before the rename
                for index in deferred:
                    index.drop(conn)
                filler = _Filler(BulkWriter(conn), check, store, processes)
                try:
                    if kinds is not None:
                        filler.dispatch(path, [
                            (number, kind, spans[number - 1])
                            for number, kind in enumerate(kinds, start=1)
                            if kind in DISPATCHED])
                    for section, rows in pages:
                        filler.take(section, rows)
                        filler.write_ready()
                    filler.finish()
                finally:
                    filler.close()
                digest = check.finish()
                _create_indexes(conn, deferred)
                _write_financings(BulkWriter(conn), conn, filler.financings)
                state_digests.record(conn, head.height, digest.digest(), digest.accumulator())
        finally:
            store.close()
    return head


def _write_financings(writer: BulkWriter, conn: Any,
                      financings: list[tuple[dict[str, Any], str]]) -> None:
    """Write the financings' index rows, each dated by its note's maturity (as the live
    index dates it: records_index.py), now that the whole note index is written."""
    for start in range(0, len(financings), BACKFILL_PAGE):
        page = financings[start:start + BACKFILL_PAGE]
        maturity = note_maturities(conn, [note for _, note in page])
        writer.insert_cells(RECORDS, RECORD_ROW, [_record_cells({**row, "date": maturity.get(note)})
                                                  for row, note in page])


def _create_indexes(conn: Any, indexes: list[Index]) -> None:
    """Build the indexes left out while filling (a repeated transaction id fails here)."""
    for index in indexes:
        index.create(conn)


def _mapped(file: BinaryIO) -> mmap.mmap | nullcontext[bytes]:
    """The file's bytes, mapped (an empty file cannot be)."""
    if os.fstat(file.fileno()).st_size == 0:
        return nullcontext(b"")
    return mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)


def _line_spans(data: bytes | mmap.mmap) -> list[tuple[int, int]]:
    """Return the (start, length) of each line of the file, newline left out."""
    spans, start = [], 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        spans.append((start, end - start))
        start = end + 1
    return spans


def _written_kinds(data: bytes | mmap.mmap, spans: list[tuple[int, int]]) -> list[str] | None:
    """Each line's kind ("" past the end line), if every line from the head to the end line
    begins as the snapshot writer begins it; else None."""
    kinds = ["head"]
    for start, size in spans[1:]:
        if kinds[-1] in ("end", ""):  # read as it comes, to be refused: nothing follows the end
            kinds.append("")
            continue
        kind = next((k for prefix, k in WRITTEN.items()
                     if data[start:start + min(size, len(prefix))] == prefix), None)
        if kind is None:
            return None
        kinds.append(kind)
    return kinds


def _lines(data: bytes | mmap.mmap, spans: list[tuple[int, int]],
           kinds: list[str] | None) -> Iterator[dict[str, Any]]:
    """Parse the file's lines, except those dispatched to the workers."""
    for number, (start, size) in enumerate(spans, start=1):
        kind = kinds[number - 1] if kinds is not None else None
        if kind in DISPATCHED:
            yield {"type": kind, "rows": _Dispatched(number)}
            continue
        value = parse_line(data[start:start + size], number)
        if kind not in (None, "head", "") and value.get("type") != kind:
            raise SnapshotRefused(f"line {number} of the snapshot begins as a {kind} line but "
                                  "is not one")
        yield value


def _remove(database: Path) -> None:
    """Delete a SQLite file and its WAL and shared-memory files, if there."""
    for file in (database, Path(f"{database}-wal"), Path(f"{database}-shm"),
                 Path(f"{database}-journal")):
        file.unlink(missing_ok=True)


def _sync(path: Path) -> None:
    """Flush a file (or a folder's entries) to the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

