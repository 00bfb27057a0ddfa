"""Digests of the stored tables, so that the verifier process can vouch for them in one compare.

After the last block the re-executing process must compare ~600,000 stored
rows (100,000-transaction chain) with the state it rebuilt; parsing those
rows and comparing them one by one was a second or more at the end of the
audit, with the other core idle.  Instead, in parallel mode, the rows lines
go to the verifier process, which parses them while the last blocks are
re-executed and sums each table up in one SHA-256 digest of a canonical,
type-faithful listing of its rows (`StoredTables`).  The re-executing
process computes the digest of the listing its rebuilt chain implies
(client/audit/tables.py), with the same functions here.  Equal digests mean
equal listings, which the row-by-row checks would pass; anything else
(a digest that differs, a line or row that is not as the exporter writes
it) sends the audit back to those row-by-row checks, which name what
differs.  So the digests decide nothing on their own: they only let the
audit skip checks that would find nothing.

Listings (each sorted, so neither side depends on the order rows come in):
- state: the keys, the heights of their last write and the lengths of
  their values, then every value's bytes in the same order;
- notes: the note-index row's cells `NOTE_ROW`, the flags as booleans
  (stored as 0/1 or as booleans, as `cells.same` accepts them);
- tx_parties: the set of (log index, organisation) (version-1 rows, with a tx id, go row by row);
- nonces: the set of (signer, nonce);
- records: the records-index row's cells `RECORD_ROW` (ledger/record_index.py).
Cells must be exactly text, integers, booleans or null (no float, no
undecoded cell), so that the JSON listing tells each type apart.
"""

from __future__ import annotations

import hashlib
from binascii import a2b_base64
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import orjson

from ledger.chainfile import NONCE_TABLE, NOTE_TABLE, PARTY_TABLE, STATE_TABLE
from ledger.record_index import RECORD_ROW, RECORD_TABLE

ROWS_LINE = b'{"type":"rows",'  # how the exporter starts a page of a table's rows
NOTE_COLUMNS = ("id", "root_id", "parent_id", "holder", "issuer", "amount", "currency",
                "status", "maturity_date", "financed", "frozen")
NOTE_ROW = (*NOTE_COLUMNS, "height")
NOTE_KEYS, RECORD_KEYS = frozenset(NOTE_ROW), frozenset(RECORD_ROW)  # a row's exact columns
_FINANCED, _FROZEN = NOTE_ROW.index("financed"), NOTE_ROW.index("frozen")
assert _FROZEN == _FINANCED + 1  # note_cells replaces the two together
_EXACT = frozenset({str, int, bool, type(None)})
StateRow = tuple[str, bytes, int]  # key, value bytes, height of the last write
DIGESTED = (STATE_TABLE, NOTE_TABLE, PARTY_TABLE, NONCE_TABLE, RECORD_TABLE)


def state_digest(keys: list[str], values: list[bytes], heights: list[int]) -> bytes:
    """Return the digest of the state rows (key, value, height), given sorted by key."""
    digest = hashlib.sha256(orjson.dumps([keys, heights, list(map(len, values))]))
    digest.update(b"".join(values))
    return digest.digest()


def listing_digest(rows: Sequence[tuple[Any, ...]]) -> bytes:
    """Return the digest of a sorted listing of rows of exact JSON scalars.

    Raises orjson.JSONEncodeError for what JSON cannot hold exactly (an
    integer beyond 64 bits, a lone surrogate); callers treat that as no
    digest.
    """
    return hashlib.sha256(orjson.dumps(rows)).digest()


def note_cells(cells: tuple[Any, ...]) -> tuple[Any, ...]:
    """Return a stored note row's cells with the flags as booleans where stored as 0/1."""
    return (*cells[:_FINANCED], _flag(cells[_FINANCED]), _flag(cells[_FROZEN]),
            *cells[_FROZEN + 1:])


def _flag(cell: Any) -> Any:
    return bool(cell) if type(cell) is int and cell in (0, 1) else cell


def _columns(rows: list[StateRow]) -> tuple[list[str], list[bytes], list[int]]:
    return ([key for key, _, _ in rows], [value for _, value, _ in rows],
            [height for _, _, height in rows])


class _Unclean(Exception):
    """A row or line is not as the exporter writes it: leave it to the row-by-row checks."""


@dataclass
class TableSummary:
    """What the verifier process found in the rows lines it was given."""

    counts: dict[str, int]  # rows per table (every table, as FileShape counts them)
    digests: dict[str, bytes]  # per table of DIGESTED


@dataclass
class StoredTables:
    """Collects the rows lines' stored rows in the verifier process; sums them up at the end."""

    counts: Counter[str] = field(default_factory=Counter)
    clean: bool = True
    state: list[StateRow] = field(default_factory=list)
    notes: list[tuple[Any, ...]] = field(default_factory=list)
    parties: list[tuple[int, str]] = field(default_factory=list)
    nonces: list[tuple[str, str]] = field(default_factory=list)
    records: list[tuple[Any, ...]] = field(default_factory=list)

    def take(self, raw: bytes) -> None:
        """Take one rows line; anything unusual makes the whole summary void."""
        if not self.clean:
            return
        try:
            record = orjson.loads(raw)
            if type(record) is not dict or record.get("type") != "rows":
                raise _Unclean
            table, rows = record.get("table"), record.get("rows")
            if type(table) is not str or type(rows) is not list:
                raise _Unclean
            self.counts[table] += len(rows)
            take = self._takers().get(table)
            if take is not None:
                take(rows)
        except Exception:
            self.clean = False

    def _takers(self) -> dict[str, Callable[[list[Any]], None]]:
        return {STATE_TABLE: self._state, NOTE_TABLE: self._notes,
                PARTY_TABLE: self._parties, NONCE_TABLE: self._nonces,
                RECORD_TABLE: self._records}

    def _state(self, rows: list[Any]) -> None:
        add = self.state.append
        for row in rows:
            key, height, cell = row["key"], row["height"], row["value"]
            if type(key) is not str or type(height) is not int or type(cell) is not dict \
                    or len(cell) != 1 or len(row) != 3:
                raise _Unclean
            add((key, a2b_base64(cell["b64"], strict_mode=True), height))

    def _notes(self, rows: list[Any]) -> None:
        add, exact = self.notes.append, _EXACT
        for row in rows:
            cells = tuple(map(row.get, NOTE_ROW))
            if type(cells[0]) is not str or not set(map(type, cells)) <= exact \
                    or row.keys() != NOTE_KEYS:
                raise _Unclean
            add(note_cells(cells))

    def _parties(self, rows: list[Any]) -> None:
        add = self.parties.append
        for row in rows:  # rows with a tx id (chain file version 1) are checked row by row
            log_index, uscc = row["log_index"], row["uscc"]
            if type(log_index) is not int or type(uscc) is not str or len(row) != 2:
                raise _Unclean
            add((log_index, uscc))

    def _nonces(self, rows: list[Any]) -> None:
        add = self.nonces.append
        for row in rows:
            signer, nonce = row["signer"], row["nonce"]
            if type(signer) is not str or type(nonce) is not str or len(row) != 2:
                raise _Unclean
            add((signer, nonce))

    def _records(self, rows: list[Any]) -> None:
        add, exact = self.records.append, _EXACT
        for row in rows:
            cells = tuple(map(row.get, RECORD_ROW))
            if type(cells[0]) is not str or not set(map(type, cells)) <= exact \
                    or row.keys() != RECORD_KEYS:
                raise _Unclean
            add(cells)

    def summary(self) -> TableSummary | None:
        """Return the counts and digests, or None if any line or row was unusual."""
        if not self.clean:
            return None
        try:
            digests = {
                STATE_TABLE: state_digest(*_columns(sorted(self.state, key=itemgetter(0)))),
                NOTE_TABLE: listing_digest(sorted(self.notes, key=itemgetter(0))),
                PARTY_TABLE: listing_digest(sorted(self.parties)),
                NONCE_TABLE: listing_digest(sorted(self.nonces)),
                RECORD_TABLE: listing_digest(sorted(self.records, key=itemgetter(0))),
            }
        except orjson.JSONEncodeError:
            return None
        return TableSummary(dict(self.counts), digests)
