"""Raw export of a node's database as a chain file (ledger/chainfile.py), parsing nothing.

Every table is read with plain SQL and every value leaves as a cell, bypassing
the ORM's conversions: a corrupt value (a flipped byte in an envelope, text
that is no longer UTF-8, an integer that changed) reaches the auditor as it is
stored and becomes a finding there, instead of an exception here.  The one
conversion: a packed blob (node/storage/models.py PACKED_COLUMNS) leaves
unpacked, the exact bytes that were hashed and signed, so the file is the
same whatever the stored form; a packed cell that does not unpack leaves as
it is stored, and cannot then equal what the audit derives; an id stored
as bytes (ID_COLUMNS) leaves as the hex it stands for.  Blocks
are written in height order, each with the rows that belong to it (its
batch, transactions and attestations, joined on the stored height); then
the other tables in pages; then rows whose block row is missing; then the
counts.  One read transaction covers the whole export, so a running node
yields a consistent snapshot.

Used three ways: `python -m node export --database URL --out FILE` (offline,
from a node's own database), the auditor-only `/v1/export` routes
(node/api/export.py) and, through either, `ledger export`.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

from ledger.blob_codec import BlobCodecError, is_packed, unpack
from ledger.canonical import JSONValue
from ledger.chainfile import (
    ATTESTATION_TABLE,
    BATCH_TABLE,
    BLOCK_TABLE,
    FORMAT,
    NONCE_TABLE,
    NOTE_TABLE,
    PARTY_TABLE,
    PER_BLOCK_TABLES,
    ROW_PAGE,
    STATE_TABLE,
    TX_TABLE,
    encode_row,
)
from ledger.timefmt import format_timestamp
from node.storage.hex_ids import hex_of
from node.storage.models import ID_COLUMNS, PACKED_COLUMNS
from node.storage.store import make_engine

BLOCK_PAGE = 20  # blocks read per query
TABLE_ORDER = (STATE_TABLE, NOTE_TABLE, PARTY_TABLE, NONCE_TABLE)
MEMORY_URLS = ("sqlite://", "sqlite:///:memory:")
ORDER_WITHIN_BLOCK = {TX_TABLE: "log_index", ATTESTATION_TABLE: "node_id", BATCH_TABLE: "height"}


class _Text(bytes):
    """A SQLite TEXT value, kept as its bytes so invalid UTF-8 cannot stop the export."""


def _value(value: Any) -> Any:
    """Return a driver value as a plain Python value (str, int, bytes, None, ...)."""
    if isinstance(value, _Text):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return bytes(value)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def _unpacked(value: Any) -> Any:
    """Return a packed blob's exact bytes; anything else (or a damaged cell) as it is."""
    if not isinstance(value, bytes) or not is_packed(value):
        return value
    try:
        return unpack(value)
    except BlobCodecError:
        return value


@dataclass
class ExportCounts:
    """What an export wrote."""

    lines: int = 0
    blocks: int = 0
    rows: dict[str, int] = field(default_factory=dict)

    def end_record(self) -> dict[str, JSONValue]:
        """Return the final line of the file."""
        return {"type": "end", "lines": self.lines, "blocks": self.blocks,
                "rows": dict(self.rows)}


class RawReader:
    """Reads a node database's rows as cells, inside one read transaction."""

    def __init__(self, conn: Connection) -> None:
        """Read the schema (tables, primary keys); call before raw text is switched on."""
        self.conn = conn
        inspector = inspect(conn)
        self.tables = sorted(inspector.get_table_names())
        self.keys = {t: list(inspector.get_pk_constraint(t).get("constrained_columns") or [])
                     for t in self.tables}

    def _rows(self, sql: str, table: str = "", **params: Any) -> Iterator[dict[str, Any]]:
        result = self.conn.execute(text(sql), params)
        columns = list(result.keys())
        packed = PACKED_COLUMNS.get(table, ())
        ids = ID_COLUMNS.get(table, ())
        while True:
            chunk = result.fetchmany(ROW_PAGE)
            if not chunk:
                return
            for row in chunk:
                cells = {c: _value(v) for c, v in zip(columns, row, strict=True)}
                for column in packed:
                    if column in cells:
                        cells[column] = _unpacked(cells[column])
                for column in ids:
                    if isinstance(cells.get(column), bytes):
                        cells[column] = hex_of(cells[column])
                yield cells

    def _scalar(self, sql: str) -> Any:
        return _value(self.conn.execute(text(sql)).scalar())

    def meta(self, source: str, now: datetime) -> dict[str, JSONValue]:
        """Return the first line: format, source, head height, log size, row counts.

        The chain id is read from the head block's header for information
        only (best effort): the audit trusts nothing here.
        """
        counts = {t: int(self._scalar(f"SELECT COUNT(*) FROM {self._quoted(t)}"))
                  for t in self.tables}
        height = self._scalar("SELECT MAX(height) FROM blocks") if BLOCK_TABLE in self.tables \
            else None
        return {"type": "meta", "format": FORMAT, "exported_at": format_timestamp(now),
                "source": source, "chain_id": self._chain_id(height),
                "height": height if isinstance(height, int) else None,
                "log_size": counts.get(TX_TABLE, 0), "tables": counts}

    def _chain_id(self, height: Any) -> str | None:
        if not isinstance(height, int):
            return None
        raw = self._scalar(f"SELECT header FROM blocks WHERE height = {height}")
        try:
            value = orjson.loads(raw)
            return value["chain_id"] if isinstance(value["chain_id"], str) else None
        except (orjson.JSONDecodeError, TypeError, KeyError):
            return None

    def _quoted(self, table: str) -> str:
        return str(self.conn.dialect.identifier_preparer.quote(table))

    def blocks(self, start: int = 0, end: int | None = None,
               limit: int | None = None) -> Iterator[dict[str, JSONValue]]:
        """Yield block records for heights start..end (inclusive), at most `limit` of them."""
        done = 0
        while limit is None or done < limit:
            page = min(BLOCK_PAGE, limit - done) if limit is not None else BLOCK_PAGE
            rows = list(self._rows(
                "SELECT * FROM blocks WHERE height >= :start"
                + ("" if end is None else " AND height <= :end")
                + " ORDER BY height LIMIT :page", start=start, end=end, page=page))
            if not rows:
                return
            yield from self._with_contents(rows)
            done += len(rows)
            start = int(rows[-1]["height"]) + 1

    def _with_contents(self, rows: list[dict[str, Any]]) -> Iterator[dict[str, JSONValue]]:
        low, high = rows[0]["height"], rows[-1]["height"]
        contents = {table: self._by_height(table, low, high) for table in PER_BLOCK_TABLES
                    if table in self.tables}
        for row in rows:
            height = row["height"]
            batches = contents.get(BATCH_TABLE, {}).get(height, [])
            yield {"type": "block", "block": encode_row(row),
                   "batch": encode_row(batches[0]) if batches else None,
                   "txs": [encode_row(r) for r in contents.get(TX_TABLE, {}).get(height, [])],
                   "attestations": [encode_row(r) for r in
                                    contents.get(ATTESTATION_TABLE, {}).get(height, [])]}

    def _by_height(self, table: str, low: int, high: int) -> dict[Any, list[dict[str, Any]]]:
        grouped: dict[Any, list[dict[str, Any]]] = {}
        order = ORDER_WITHIN_BLOCK[table]
        for row in self._rows(f"SELECT * FROM {table} WHERE height >= :low AND height <= :high "
                              f"ORDER BY height, {order}", table, low=low, high=high):
            grouped.setdefault(row["height"], []).append(row)
        return grouped

    def other_tables(self) -> list[str]:
        """Return the tables exported as `rows` pages, known ones first."""
        skip = {BLOCK_TABLE, *PER_BLOCK_TABLES}
        known = [t for t in TABLE_ORDER if t in self.tables]
        return known + [t for t in self.tables if t not in skip and t not in known]

    def table_rows(self, table: str, offset: int = 0,
                   limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Yield a table's rows as cells, in primary-key order (from `offset`, up to `limit`)."""
        order = ", ".join(self._quoted(c) for c in self.keys.get(table, [])) or "1"
        sql = f"SELECT * FROM {self._quoted(table)} ORDER BY {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        for row in self._rows(sql, table):
            yield encode_row(row)

    def orphans(self) -> Iterator[dict[str, JSONValue]]:
        """Yield `orphans` records: per-block rows whose height names no stored block."""
        for table in PER_BLOCK_TABLES:
            if table not in self.tables:
                continue
            rows = [encode_row(r) for r in self._rows(
                f"SELECT * FROM {table} WHERE height IS NULL OR height NOT IN "
                "(SELECT height FROM blocks)", table)]
            for start in range(0, len(rows), ROW_PAGE):
                yield {"type": "orphans", "table": table, "rows": rows[start:start + ROW_PAGE]}


@contextlib.contextmanager
def read_snapshot(engine: Engine) -> Iterator[RawReader]:
    """Open one read transaction over the database and yield a reader on it.

    On SQLite, TEXT values come back as raw bytes (decoded here, so text
    that is not UTF-8 is exported as bytes rather than failing the read).
    An in-memory SQLite database (one connection shared by every thread)
    is read as it is, without a transaction of its own.
    """
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        own = not (sqlite and isinstance(engine.pool, StaticPool))
        raw: Any = conn.connection.driver_connection
        old_factory = getattr(raw, "text_factory", None)
        if not sqlite:  # before any query: the snapshot is taken at the first one
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        reader = RawReader(conn)  # reads the schema, as text
        if sqlite and own:
            raw.text_factory = _Text
            conn.exec_driver_sql("BEGIN")  # one snapshot for every read below
        try:
            yield reader
        finally:
            if sqlite and own:
                conn.exec_driver_sql("ROLLBACK")
                raw.text_factory = old_factory
            elif not sqlite:
                conn.rollback()


def open_database(database_url: str) -> Engine:
    """Return an engine that only reads the database at `database_url`.

    A SQLite file is opened read-only (and must exist), so exporting a copy
    of a node's database changes nothing in it; other URLs go through the
    node's usual engine.  Raises OSError if a SQLite file is missing.
    """
    if database_url.startswith("sqlite:///") and database_url not in MEMORY_URLS:
        path = Path(database_url.removeprefix("sqlite:///"))
        if not path.is_file():
            raise OSError(f"no database file at {path}")
        return create_engine(f"sqlite:///file:{path.resolve()}?mode=ro&uri=true")
    return make_engine(database_url)


def chain_lines(reader: RawReader, *, source: str, now: datetime,
                counts: ExportCounts | None = None) -> Iterator[bytes]:
    """Yield the whole chain file, line by line (each ending in a newline)."""
    counts = counts if counts is not None else ExportCounts()

    def line(record: dict[str, JSONValue]) -> bytes:
        counts.lines += 1
        return orjson.dumps(record) + b"\n"

    meta = reader.meta(source, now)
    yield line(meta)
    for block in reader.blocks():
        counts.blocks += 1
        yield line(block)
    for table in reader.other_tables():
        page: list[dict[str, JSONValue]] = []
        for row in reader.table_rows(table):
            page.append(row)
            if len(page) == ROW_PAGE:
                yield line({"type": "rows", "table": table, "rows": page})
                counts.rows[table] = counts.rows.get(table, 0) + len(page)
                page = []
        if page:
            yield line({"type": "rows", "table": table, "rows": page})
            counts.rows[table] = counts.rows.get(table, 0) + len(page)
    for orphans in reader.orphans():
        yield line(orphans)
    yield orjson.dumps(counts.end_record()) + b"\n"


def export_database(database_url: str, out: IO[bytes], *, source: str | None = None,
                    now: datetime | None = None) -> ExportCounts:
    """Write the chain file of the database at `database_url` to `out`; return the counts.

    Raises SQLAlchemyError if the database cannot be read at all (a file
    that is not a database, or whose pages are damaged).
    """
    engine = open_database(database_url)
    counts = ExportCounts()
    try:
        with read_snapshot(engine) as reader:
            for data in chain_lines(reader, source=source or _safe_url(database_url),
                                    now=now or datetime.now(UTC), counts=counts):
                out.write(data)
    finally:
        engine.dispose()
    return counts


def _safe_url(url: str) -> str:
    """Return `url` without a password, for the file's header."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = rest.split("@", 1)[1]
    return scheme + sep + rest


def export_main(argv: Sequence[str]) -> int:
    """`python -m node export --database URL --out FILE`: write a node's chain file."""
    parser = argparse.ArgumentParser(prog="python -m node export",
                                     description="Export a node database as a chain file.")
    parser.add_argument("--database", required=True, help="the node's database URL")
    parser.add_argument("--out", required=True, help="chain file to write ('-' for stdout)")
    args = parser.parse_args(list(argv))
    try:
        if args.out == "-":
            counts = export_database(args.database, sys.stdout.buffer)
        else:
            with Path(args.out).open("wb") as out:
                counts = export_database(args.database, out)
    except (SQLAlchemyError, OSError) as exc:
        print(f"error: cannot export {_safe_url(args.database)}: {exc}", file=sys.stderr)
        return 2
    print(f"exported {counts.blocks} blocks and {sum(counts.rows.values())} table rows "
          f"({counts.lines} lines)", file=sys.stderr)
    return 0
