"""The records index: credentials, financings and credit lines by party, status and date.

Lists and the inbox ask "which financings name this bank and are requested"
or "which credentials did this issuer issue that mature before a date"; the
world state, keyed by record id, cannot answer that without reading every
record.  Like the note index, these rows are derived from a block's state
writes and committed in the database transaction of the block.  A database
made before the index existed gets it filled once from its `state` table
(`create_and_backfill`), in the same database transaction that creates the
table, so a crash leaves either no table or a full one.  What a row holds
is ledger/record_index.py, which the auditor uses to check the table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, and_, or_, select, true

from ledger.blob_codec import unpack
from ledger.canonical import parse_trusted
from ledger.record_index import KIND_OF_PREFIX, MaturityOf, index_row, record_kind
from node.storage.models import NoteRow, RecordRow, StateRow

RECORDS: Table = RecordRow.__table__  # type: ignore[attr-defined]
NOTES: Table = NoteRow.__table__  # type: ignore[attr-defined]
STATE: Table = StateRow.__table__  # type: ignore[attr-defined]
BACKFILL_PAGE = 5000


def index_rows(writes: Mapping[str, bytes | None], height: int, decoded: Mapping[str, Any],
               maturity_of: MaturityOf) -> list[dict[str, Any]]:
    """Return the index rows for a block's writes of indexed records.

    `decoded` maps a key to a hint (decoder, record object) where the
    executor kept one, which saves parsing the bytes again.
    """
    rows = []
    for key, raw in writes.items():
        kind = record_kind(key)
        if kind is None or raw is None:
            continue
        hint = decoded.get(key)
        record = hint[1] if hint is not None else parse_trusted(raw)
        rows.append(index_row(kind, record, height, maturity_of))
    return rows


def removed_ids(writes: Mapping[str, bytes | None]) -> list[str]:
    """Return the ids of indexed records a block deletes (none today; kept true anyway)."""
    return sorted(key.split("/", 1)[1] for key, raw in writes.items()
                  if raw is None and record_kind(key) is not None)


# -- filling the index of an older database ------------------------------------------------


def create_and_backfill(conn: Connection, upsert: Callable[[list[dict[str, Any]]], None]) -> int:
    """Create the records table and fill it from the `state` table; return the rows written.

    Runs inside the caller's database transaction; `upsert` writes a page of
    rows (an upsert, so a table another process filled meanwhile is no error).
    """
    RECORDS.create(conn, checkfirst=True)
    written = 0
    for prefix, kind in KIND_OF_PREFIX.items():
        for page in _state_pages(conn, prefix):
            maturities = note_maturities(conn, [parse_trusted(v)["note"] for _, v, _ in page]
                                     if kind == "financing" else [])
            rows = [index_row(kind, parse_trusted(value), height, maturities.get)
                    for _, value, height in page]
            upsert(rows)
            written += len(rows)
    return written


def _state_pages(conn: Connection, prefix: str) -> Iterator[list[tuple[str, bytes, int]]]:
    """Yield the state entries under `prefix` in key order, a page at a time."""
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    last = prefix
    while True:
        page = [(str(k), unpack(bytes(v)), int(h)) for k, v, h in conn.execute(
            select(STATE.c.key, STATE.c.value, STATE.c.height)
            .where(STATE.c.key > last, STATE.c.key < end)
            .order_by(STATE.c.key).limit(BACKFILL_PAGE))]
        if not page:
            return
        yield page
        last = page[-1][0]


def note_maturities(conn: Connection, note_ids: list[str]) -> dict[str, str]:
    """Return the maturity date of each of `note_ids` the note index holds."""
    if not note_ids:
        return {}
    rows = conn.execute(select(NOTES.c.id, NOTES.c.maturity_date)
                        .where(NOTES.c.id.in_(sorted(set(note_ids)))))
    return {str(i): str(m) for i, m in rows}


# -- queries -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parties:
    """One way a record may concern someone: every field given must hold.

    `held_by`: (credentials only) the organisation holds or held a note of it.
    """

    party_a: str | None = None
    party_b: str | None = None
    held_by: str | None = None

    def values(self) -> tuple[str | None, ...]:
        """Return the text values, to check they can be stored at all."""
        return (self.party_a, self.party_b, self.held_by)


@dataclass(frozen=True)
class RecordFilter:
    """Which index rows to list: kind, any of the party alternatives, statuses, a date range.

    No alternatives means any parties; no statuses any status.  Dates are
    inclusive ISO dates; a row without a date matches no date bound.
    """

    kind: str
    any_of: tuple[Parties, ...] = ()
    statuses: tuple[str, ...] = ()
    date_from: str | None = None
    date_to: str | None = None
    limit: int = 1000

    def texts(self) -> Iterable[str | None]:
        """Return every text value of the filter."""
        yield from (self.kind, *self.statuses, self.date_from, self.date_to)
        for alternative in self.any_of:
            yield from alternative.values()


def select_records(flt: RecordFilter) -> Any:
    """Return the SELECT of the index rows `flt` names, by date (none last), then id."""
    stmt = select(RECORDS).where(RECORDS.c.kind == flt.kind)
    if flt.any_of:
        stmt = stmt.where(or_(*(_parties_clause(p) for p in flt.any_of)))
    if flt.statuses:
        stmt = stmt.where(RECORDS.c.status.in_(flt.statuses))
    if flt.date_from is not None:
        stmt = stmt.where(RECORDS.c.date >= flt.date_from)
    if flt.date_to is not None:
        stmt = stmt.where(RECORDS.c.date <= flt.date_to)
    return stmt.order_by(RECORDS.c.date.is_(None), RECORDS.c.date, RECORDS.c.id).limit(flt.limit)


def _parties_clause(parties: Parties) -> Any:
    conditions = []
    if parties.party_a is not None:
        conditions.append(RECORDS.c.party_a == parties.party_a)
    if parties.party_b is not None:
        conditions.append(RECORDS.c.party_b == parties.party_b)
    if parties.held_by is not None:
        held = select(NOTES.c.root_id).where(NOTES.c.holder == parties.held_by)
        conditions.append(RECORDS.c.id.in_(held))
    return and_(*conditions) if conditions else true()


def prefix_range(prefix: str) -> tuple[str, str | None]:
    """Return [low, high) bounds holding exactly the lower-case hex ids starting with `prefix`.

    High is the prefix with trailing 'f's dropped and its last digit
    incremented (None when the prefix is all 'f's), so the query is a range
    scan of the primary key, not a LIKE.
    """
    stem = prefix.rstrip("f")
    if not stem:
        return prefix, None
    last = stem[-1]
    following = "a" if last == "9" else chr(ord(last) + 1)
    return prefix, stem[:-1] + following
