"""Checks of the stored tables against the state the audit rebuilt, and conservation.

After the last block the rebuilt world state is complete, so every stored
state row (key, value bytes, height of its last write), note-index row,
records-index row, party-index row and used nonce can be compared with what re-execution
produced; anything missing, extra or different is a finding that names the
block and transaction that last wrote it (for a note: the transaction that
created it).  Then every receivable must conserve value: its live notes and
its clearings add up to its face (DOMAIN.md), its clearings to what was
paid, and its list of live leaves names exactly its live notes.
"""

from __future__ import annotations

import gc
import os
import pickle
from collections import defaultdict
from collections.abc import Callable
from enum import Enum
from functools import partial
from operator import attrgetter, itemgetter
from typing import Any

import orjson

from client.audit.cells import differing, same
from client.audit.digests import (
    DIGESTED,
    NOTE_COLUMNS,
    NOTE_ROW,
    TableSummary,
    listing_digest,
    state_digest,
)
from client.audit.replay import Replay
from client.audit.report import AuditReport, Finding
from client.audit.source import Row
from contracts.records import Note
from ledger.chainfile import NONCE_TABLE, NOTE_TABLE, PARTY_TABLE, STATE_TABLE, decode_cell
from ledger.record_index import (
    FIELDS_OF_KIND,
    KIND_OF_PREFIX,
    RECORD_ROW,
    RECORD_TABLE,
    index_row,
)
from ledger.state import StateCache

# The exact columns of each table's rows in a chain file (parties carried tx ids in version 1)
ROW_COLUMNS: dict[str, tuple[frozenset[str], ...]] = {
    STATE_TABLE: (frozenset({"key", "value", "height"}),),
    NOTE_TABLE: (frozenset(NOTE_ROW),),
    RECORD_TABLE: (frozenset(RECORD_ROW),),
    PARTY_TABLE: (frozenset({"uscc", "log_index"}), frozenset({"uscc", "log_index", "tx_id"})),
    NONCE_TABLE: (frozenset({"signer", "nonce"}),),
}
NOTE_PREFIX, RECEIVABLE_PREFIX, CLEARING_PREFIX = "note/", "receivable/", "clearing/"
NOTE_SUMS = ("id", "root_id", "amount", "status")
RECEIVABLE_FIELDS = ("status", "face", "paid", "live")
LIVE = frozenset({"pending", "active", "financing"})
EFFECTIVE = frozenset({"active", "paid", "overdue"})
NONE = type(None)


class TableChecks:
    """Collects stored rows as they stream past; compares them with the rebuilt chain at the end."""

    def __init__(self, report: AuditReport, replay: Replay) -> None:
        self.report = report
        self.replay = replay
        self.stored_state: dict[str, tuple[Any, Any]] = {}
        self.stored_notes: dict[str, dict[str, Any]] = {}
        self.stored_parties: dict[Any, set[tuple[Any, Any]]] = defaultdict(set)
        self.party_ids = False  # party rows carry tx ids (chain file version 1)
        self.stored_nonces: set[tuple[Any, Any]] = set()
        self.stored_records: dict[str, Row] = {}
        self._note_listing: list[tuple[Any, ...]] | None = None

    def rows(self, table: str, rows: Any) -> None:
        """Take one page of a table's rows, as cells (tables the audit does not know are skipped).

        Text and integer cells are the stored values themselves, so only the
        byte cells a check needs are decoded.
        """
        take = {STATE_TABLE: self._state, NOTE_TABLE: self._note,
                PARTY_TABLE: self._party, NONCE_TABLE: self._nonce,
                RECORD_TABLE: self._record}.get(table)
        if take is None:
            return
        allowed = ROW_COLUMNS[table]
        for row in rows if isinstance(rows, list) else [rows]:
            if not isinstance(row, dict):
                self.report.find("source", f"a {table} row is not an object")
                continue
            if row.keys() not in allowed:  # a renamed column's value must not pass as another's
                self.report.find("source", (
                    f"a {table} row has the columns {sorted(row)}, not "
                    f"{' or '.join(str(sorted(c)) for c in allowed)}")[:300],
                    block=_int(row.get("height")))
            take(row)

    def _writer(self, key: str) -> tuple[int | None, str | None]:
        height, tx = self.replay.last_writer.get(key, (None, None))
        return height, tx

    def _state(self, row: Row) -> None:
        key = row.get("key")
        if type(key) is not str:
            self.report.find("state", f"a state row's key is not text: {key!r}"[:200],
                             block=_int(row.get("height")))
            return
        self.stored_state[key] = (row.get("value"), row.get("height"))

    def _note(self, row: Row) -> None:
        note_id = row.get("id")
        if type(note_id) is not str:
            self.report.find("note", f"a note row's id is not text: {note_id!r}"[:200],
                             block=_int(row.get("height")))
            return
        self.stored_notes[note_id] = row

    def _record(self, row: Row) -> None:
        record_id = row.get("id")
        if type(record_id) is not str:
            self.report.find("record", f"a records row's id is not text: {record_id!r}"[:200],
                             block=_int(row.get("height")))
            return
        self.stored_records[record_id] = row

    def _party(self, row: Row) -> None:
        uscc, log_index, tx_id = row.get("uscc"), row.get("log_index"), row.get("tx_id")
        self.party_ids = self.party_ids or "tx_id" in row
        if not (type(uscc) is str and type(log_index) is int and type(tx_id) in (str, NONE)):
            uscc, log_index, tx_id = decode_cell(uscc), decode_cell(log_index), decode_cell(tx_id)
            if type(log_index) is not int:  # True would find log index 1
                log_index = repr(log_index)
        self.stored_parties[log_index].add((uscc, tx_id))

    def _nonce(self, row: Row) -> None:
        signer, nonce = row.get("signer"), row.get("nonce")
        if not (type(signer) is str and type(nonce) is str):
            signer, nonce = decode_cell(signer), decode_cell(nonce)
        self.stored_nonces.add((signer, nonce))

    def orphans(self, table: str, rows: list[Row]) -> None:
        """Report rows of per-block tables whose block row is missing."""
        for row in rows:
            tx = row.get("id") if table == "transactions" else None
            self.report.find("source", f"a stored {table} row belongs to no stored block "
                             f"(its height column says {row.get('height')!r})"[:300],
                             block=_int(row.get("height")), tx=tx if isinstance(tx, str) else None)

    @staticmethod
    def vouched(summary: TableSummary | None, rebuilt: dict[str, bytes | None]) -> bool:
        """Say whether the verifier's digests of the stored rows are those of the rebuilt chain.

        If so, the row-by-row checks would find nothing (client/audit/digests.py)
        and are skipped; only conservation remains.
        """
        if summary is None:
            return False
        return all(rebuilt[table] is not None and rebuilt[table] == summary.digests.get(table)
                   for table in DIGESTED)

    def rebuilt_digests(self) -> dict[str, bytes | None]:
        """Return the digest of each table's listing as the rebuilt chain implies it."""
        listings: dict[str, Callable[[], bytes]] = {
            STATE_TABLE: self._state_digest, NOTE_TABLE: self._note_digest,
            PARTY_TABLE: self._party_digest, NONCE_TABLE: self._nonce_digest,
            RECORD_TABLE: self._record_digest}
        digests: dict[str, bytes | None] = {}
        for table, digest in listings.items():
            try:
                digests[table] = digest()
            except orjson.JSONEncodeError:  # not a listing any stored rows could give
                digests[table] = None
        return digests

    def _state_digest(self) -> bytes:
        return state_digest(*self.replay.state.columns_by_key())

    def _note_digest(self) -> bytes:
        return listing_digest(self.note_listing())

    def note_listing(self) -> list[tuple[Any, ...]]:
        """Return each note's expected index row (`NOTE_ROW`), sorted by note id (made once)."""
        if self._note_listing is None:
            state = self.replay.state
            columns = _getter(NOTE_COLUMNS)
            listing = []
            for key in sorted(state.keys_with_prefix(NOTE_PREFIX)):
                record = state.cached(key)
                values = (columns(record) if type(record) is Note
                          else fields_of(state, key, NOTE_COLUMNS))
                listing.append((*values, state.version(key)))
            self._note_listing = listing
        return self._note_listing

    def _record_digest(self) -> bytes:
        return listing_digest(self.record_listing())

    def record_listing(self) -> list[tuple[Any, ...]]:
        """Return each record's expected records-index row (`RECORD_ROW`), sorted by id."""
        state = self.replay.state

        def maturity_of(note_id: str) -> Any:
            return fields_of(state, NOTE_PREFIX + note_id, ("maturity_date",))[0]

        listing = []
        for prefix, kind in KIND_OF_PREFIX.items():
            names = FIELDS_OF_KIND[kind]
            for key in state.keys_with_prefix(prefix):
                record = dict(zip(names, fields_of(state, key, names), strict=True))
                row = index_row(kind, record, state.version(key), maturity_of)
                listing.append(tuple(row[c] for c in RECORD_ROW))
        return sorted(listing, key=lambda row: str(row[0]))

    def _party_digest(self) -> bytes:
        listing: list[tuple[int, str]] = []
        for log_index, (_, parties) in self.replay.parties.items():
            listing += [(log_index, party) for party in sorted(parties)]
        listing.sort()  # in log order already, so this only confirms it (one pass)
        return listing_digest(listing)

    def _nonce_digest(self) -> bytes:
        return listing_digest(sorted(self.replay.nonce_user))

    def conservation(self) -> list[Finding]:
        """Check conservation; return its findings without reporting them (see `finish`)."""
        before = len(self.report.findings)
        Conservation(self.report, self.replay).check(self.note_listing())
        found = self.report.findings[before:]
        del self.report.findings[before:]
        return found

    def finish(self, *, split: bool = False, conservation: list[Finding] | None = None) -> None:
        """Compare everything collected with the rebuilt chain, then check conservation.

        With `split` (and where processes can fork), a forked copy of this
        process compares the state and party rows on the other core while
        this one compares the note rows and nonces and checks conservation;
        the findings are then put in the order the checks run in one
        process (state, notes, parties, nonces, conservation).  If the copy
        fails, everything is checked here.  `conservation` is the findings
        of a conservation check already made (`conservation()`).
        """
        steps: list[tuple[str, Callable[[], None]]] = [
            ("state", self._state_rows), ("notes", self._note_rows),
            ("records", self._record_rows), ("parties", self._parties), ("nonces", self._nonces),
            ("conservation", partial(Conservation(self.report, self.replay).check,
                                     self.note_listing())
             if conservation is None else partial(self.report.findings.extend, conservation))]
        forked = ("state", "parties")  # about half the work each (measured on the sample chain)
        collect = _fork([(n, f) for n, f in steps if n in forked], self.report) if split else None
        start = len(self.report.findings)
        mine: dict[str, list[Finding]] = {}
        try:
            for name, step in steps:
                if collect is None or name not in forked:
                    before = len(self.report.findings)
                    step()
                    mine[name] = self.report.findings[before:]
        finally:
            done = None if collect is None else collect()  # always reap the copy
        if collect is not None and done is None:  # the copy failed: do its part here
            for name, step in steps:
                if name in forked:
                    before = len(self.report.findings)
                    step()
                    mine[name] = self.report.findings[before:]
        found = {**mine, **(done or {})}
        self.report.findings[start:] = [f for name, _ in steps for f in found[name]]

    def _state_rows(self) -> None:
        state, stored = self.replay.state, self.stored_state
        for key, raw, version in state.items():
            cell = stored.pop(key, None)
            if cell is not None and cell[1] == version and type(cell[1]) is int and \
                    decode_cell(cell[0]) == raw:
                continue
            block, tx = self._writer(key)
            if cell is None:
                message = f"key {key} of the re-executed state is not stored"
            elif decode_cell(cell[0]) != raw:
                message = f"the stored value of {key} differs from the re-executed one"
            else:
                message = f"the stored height of {key} is {cell[1]!r}, not {version}"
            self.report.find("state", message, block=block, tx=tx)
        for key, (_, height) in stored.items():
            self.report.find("state", f"stored key {key} is not in the re-executed state",
                             block=_int(height))

    def _note_rows(self) -> None:
        state, stored = self.replay.state, self.stored_notes
        columns = _getter(NOTE_COLUMNS)
        for key in state.keys_with_prefix(NOTE_PREFIX):
            note_id = key[len(NOTE_PREFIX):]
            row = stored.pop(note_id, None)
            if row is not None:
                record = state.cached(key)
                if type(record) is Note and _faithful(tuple(map(row.get, NOTE_ROW)),
                                                      (*columns(record), state.version(key))):
                    continue  # the usual case, in one compare (a StrEnum equals its text)
            expected = (*fields_of(state, key, NOTE_COLUMNS), state.version(key))
            if row is not None:
                if _faithful(tuple(map(row.get, NOTE_ROW)), expected):
                    continue
                wrong = [c for c, value in zip(NOTE_ROW, expected, strict=True)
                         if not same(row.get(c), value)]
                if not wrong:
                    continue
            block, tx = self._creator(note_id)
            message = ("the note has no stored note row" if row is None else
                       f"stored {differing(wrong)} from the note in the re-executed state")
            self.report.find("note", message, block=block, tx=tx, note=note_id)
        for note_id, row in stored.items():
            self.report.find("note", "a stored note row names no note of the re-executed state",
                             block=_int(row.get("height")), note=note_id)

    def _record_rows(self) -> None:
        stored = self.stored_records
        for expected in self.record_listing():
            record_id = expected[0]
            row = stored.pop(record_id, None)
            if row is not None and all(same(row.get(c), v) for c, v in zip(RECORD_ROW, expected,
                                                                             strict=True)):
                continue
            key = f"{expected[1]}/{record_id}"
            block, tx = self._writer(key)
            if row is None:
                message = f"the {expected[1]} has no stored records row"
            else:
                wrong = [c for c, v in zip(RECORD_ROW, expected, strict=True)
                         if not same(row.get(c), v)]
                message = f"its stored records row: {differing(wrong)} from the re-executed state"
            self.report.find("record", f"{key}: {message}", block=block, tx=tx)
        for record_id, row in stored.items():
            self.report.find("record", f"a stored records row ({record_id}) names no record of "
                             "the re-executed state", block=_int(row.get("height")))

    def _creator(self, note_id: str) -> tuple[int | None, str | None]:
        (created,) = fields_of(self.replay.state, NOTE_PREFIX + note_id, ("created_tx",))
        if isinstance(created, str) and created in self.replay.tx_height:
            return self.replay.tx_height[created], created
        return self._writer(NOTE_PREFIX + note_id)

    def _parties(self) -> None:
        for log_index, (tx_id, parties) in self.replay.parties.items():
            stored = self.stored_parties.pop(log_index, set())
            named = tx_id if self.party_ids else None
            if stored != {(p, named) for p in parties}:
                self.report.find("party", "the stored parties of the transaction differ from "
                                 "its signers and the parties its events name",
                                 block=self.replay.tx_height.get(tx_id), tx=tx_id)
        for log_index, rows in self.stored_parties.items():
            tx = next((t for _, t in rows if isinstance(t, str)), None)
            self.report.find("party", f"party rows name log index {log_index!r}, which holds "
                             "no such transaction", tx=tx)

    def _nonces(self) -> None:
        for pair, tx_id in self.replay.nonce_user.items():
            if pair not in self.stored_nonces:
                self.report.find("nonce", f"the used nonce {pair[1]} of {pair[0]} is not "
                                 "stored", block=self.replay.tx_height.get(tx_id), tx=tx_id)
        extra = self.stored_nonces - self.replay.nonce_user.keys()
        for signer, nonce in sorted(extra, key=repr)[:100]:
            self.report.find("nonce", f"a stored used nonce ({signer!r}, {nonce!r}) was used by "
                             "no transaction")


Collect = Callable[[], dict[str, list[Finding]] | None]


def _fork(steps: list[tuple[str, Callable[[], None]]], report: AuditReport) -> Collect | None:
    """Start `steps` in a forked copy of this process; return how to collect their findings.

    Returns None where processes cannot fork; the collector returns each
    step's findings by name, or None if the copy did not answer (the caller
    then runs the steps itself).
    """
    if not hasattr(os, "fork"):
        return None
    read, write = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read)
        os.close(write)
        return None
    if pid == 0:  # the copy: check, send the findings, leave without any cleanup
        status = 1
        try:
            os.close(read)
            gc.disable()
            found: dict[str, list[Finding]] = {}
            for name, step in steps:
                report.findings = []
                step()
                found[name] = report.findings
            with os.fdopen(write, "wb") as pipe:
                pipe.write(pickle.dumps(found, protocol=pickle.HIGHEST_PROTOCOL))
            status = 0
        finally:
            os._exit(status)
    os.close(write)

    def collect() -> dict[str, list[Finding]] | None:
        with os.fdopen(read, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
        if status != 0:
            return None
        try:
            found = pickle.loads(data)
        except (pickle.UnpicklingError, EOFError):
            return None
        return found if isinstance(found, dict) and set(found) == {n for n, _ in steps} else None
    return collect


def fields_of(state: StateCache, key: str, names: tuple[str, ...]) -> tuple[Any, ...]:
    """Return fields of the record at `key` as JSON values (None where absent).

    Uses the record the contracts left decoded in the rebuilt state where
    there is one (it encodes to exactly the stored bytes), else the JSON.
    """
    record = state.cached(key)
    if record is not None and not isinstance(record, dict | list | tuple):
        try:
            values = _getter(names)(record)
        except AttributeError:
            pass
        else:
            values = values if len(names) > 1 else (values,)
            if set(map(type, values)) <= _SCALARS:
                return values
            return tuple(map(_json_value, values))
    value = state.get(key)
    return tuple(value.get(n) for n in names) if isinstance(value, dict) else (None,) * len(names)


_SCALARS = frozenset({str, int, bool, type(None)})
_NOTE_SUMS_OF_ROW = itemgetter(*(NOTE_ROW.index(c) for c in NOTE_SUMS))
_AMOUNT, _HEIGHT = NOTE_ROW.index("amount"), NOTE_ROW.index("height")


def _faithful(cells: tuple[Any, ...], expected: tuple[Any, ...]) -> bool:
    """Say whether a note row's cells are the expected values, as `same` judges each.

    Equal, and no float (1.0 equals 1), and the integer columns exactly
    integers (True equals 1); text equals only text, and the flags may be
    stored as booleans or as 0/1.
    """
    return (cells == expected and float not in set(map(type, cells))
            and type(cells[_AMOUNT]) is int and type(cells[_HEIGHT]) is int)


_GETTERS: dict[tuple[str, ...], Callable[[Any], Any]] = {}


def _getter(names: tuple[str, ...]) -> Callable[[Any], Any]:
    found = _GETTERS.get(names)
    if found is None:
        found = _GETTERS[names] = attrgetter(*names)
    return found


def _json_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    return list(value) if isinstance(value, tuple) else value


class Conservation:
    """For every receivable: live notes + clearings = face, clearings = paid, leaves listed."""

    def __init__(self, report: AuditReport, replay: Replay) -> None:
        self.report = report
        self.replay = replay
        self.live: dict[str, dict[str, int]] = defaultdict(dict)
        self.cleared: dict[str, int] = defaultdict(int)

    def check(self, notes: list[tuple[Any, ...]] | None = None) -> None:
        """Check every receivable of the rebuilt state.

        `notes` is the note listing (`TableChecks.note_listing`), if made
        already: each note's index row, whose sums are taken from it.
        """
        state = self.replay.state
        if notes is None:
            sums = [fields_of(state, key, NOTE_SUMS) for key in state.keys_with_prefix(NOTE_PREFIX)]
        else:
            sums = list(map(_NOTE_SUMS_OF_ROW, notes))
        for note_id, root_id, amount, status in sums:
            if status in LIVE:
                self.live[root_id][note_id] = amount
        for key in state.keys_with_prefix(CLEARING_PREFIX):
            root_id, amount = fields_of(state, key, ("root_id", "amount"))
            self.cleared[root_id] += amount
        receivables = state.keys_with_prefix(RECEIVABLE_PREFIX)
        self.report.stats.receivables = len(receivables)
        self.report.stats.notes = len(sums)
        self.report.stats.state_keys = len(state)
        for key in receivables:
            self._receivable(key, dict(zip(RECEIVABLE_FIELDS,
                                           fields_of(state, key, RECEIVABLE_FIELDS), strict=True)))

    def _receivable(self, key: str, record: Any) -> None:
        root_id = key[len(RECEIVABLE_PREFIX):]
        live = self.live.get(root_id, {})
        cleared = self.cleared.get(root_id, 0)
        status, face = record.get("status"), record.get("face")
        if status in EFFECTIVE:
            problems = [
                (sum(live.values()) + cleared != face,
                 f"live notes {sum(live.values())} + cleared {cleared} != face {face}"),
                (cleared != record.get("paid"),
                 f"clearings add up to {cleared}, but {record.get('paid')} was paid"),
                (set(live) != set(record.get("live") or ()),
                 "its list of live leaves is not the set of its live notes"),
            ]
        elif status == "pending":
            problems = [(live != {root_id: face}, "a pending credential is not one pending note "
                                                  "of its face")]
        else:
            problems = [(bool(live) or cleared != 0, f"a {status} credential still has live "
                                                     "notes or clearings")]
        block, tx = self.replay.last_writer.get(key, (None, None))
        for failed, message in problems:
            if failed:
                self.report.find("conservation", message, block=block, tx=tx, note=root_id)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
