"""Checks of the stored tables against the state the audit rebuilt, and conservation.

After the last block the rebuilt world state is complete, so every stored
state row (key, value bytes, height of its last write), note-index row,
party-index row and used nonce can be compared with what re-execution
produced; anything missing, extra or different is a finding that names the
block and transaction that last wrote it (for a note: the transaction that
created it).  Then every receivable must conserve value: its live notes and
its clearings add up to its face (DOMAIN.md), its clearings to what was
paid, and its list of live leaves names exactly its live notes.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from client.audit.cells import differing, same
from client.audit.replay import Replay
from client.audit.report import AuditReport
from client.audit.source import Row
from ledger.canonical import parse_trusted
from ledger.chainfile import NONCE_TABLE, NOTE_TABLE, PARTY_TABLE, STATE_TABLE, decode_cell

NOTE_PREFIX, RECEIVABLE_PREFIX, CLEARING_PREFIX = "note/", "receivable/", "clearing/"
NOTE_COLUMNS = ("id", "root_id", "parent_id", "holder", "issuer", "amount", "currency",
                "status", "maturity_date", "financed", "frozen")
LIVE = frozenset({"pending", "active", "financing"})
EFFECTIVE = frozenset({"active", "paid", "overdue"})


class TableChecks:
    """Compares stored rows, as they stream past, with the rebuilt chain."""

    def __init__(self, report: AuditReport, replay: Replay) -> None:
        self.report = report
        self.replay = replay
        self.seen: dict[str, set[Any]] = defaultdict(set)
        self.stored_parties: dict[Any, set[tuple[Any, Any]]] = defaultdict(set)
        self.stored_nonces: set[tuple[Any, Any]] = set()

    def rows(self, table: str, rows: Any) -> None:
        """Check one page of a table's rows, as cells (tables the audit does not know are skipped).

        Text and integer cells are the stored values themselves, so only the
        byte cells a check needs are decoded.
        """
        check = {STATE_TABLE: self._state, NOTE_TABLE: self._note,
                 PARTY_TABLE: self._party, NONCE_TABLE: self._nonce}.get(table)
        if check is None:
            return
        for row in rows if isinstance(rows, list) else [rows]:
            if isinstance(row, dict):
                check(row)
            else:
                self.report.find("source", f"a {table} row is not an object")

    def _writer(self, key: str) -> tuple[int | None, str | None]:
        height, tx = self.replay.last_writer.get(key, (None, None))
        return height, tx

    def _state(self, row: Row) -> None:
        key = row.get("key")
        if not isinstance(key, str):
            self.report.find("state", f"a state row's key is not text: {key!r}"[:200])
            return
        self.seen[STATE_TABLE].add(key)
        expected = self.replay.state.raw(key)
        block, tx = self._writer(key)
        if expected is None:
            self.report.find("state", f"stored key {key} is not in the re-executed state",
                             block=_int(row.get("height")))
        elif decode_cell(row.get("value")) != expected:
            self.report.find("state", f"the stored value of {key} differs from the "
                             "re-executed one", block=block, tx=tx)
        elif _int(row.get("height")) != self.replay.state.version(key):
            self.report.find("state", f"the stored height of {key} is "
                             f"{row.get('height')!r}, not {self.replay.state.version(key)}",
                             block=block, tx=tx)

    def _note(self, row: Row) -> None:
        note_id = row.get("id")
        if not isinstance(note_id, str):
            self.report.find("note", f"a note row's id is not text: {note_id!r}"[:200])
            return
        self.seen[NOTE_TABLE].add(note_id)
        expected = self._note_row(note_id)
        if expected is None:
            self.report.find("note", "a stored note row names no note of the re-executed state",
                             block=_int(row.get("height")), note=note_id)
            return
        wrong = [c for c in (*NOTE_COLUMNS, "height") if not same(row.get(c), expected[c])]
        if wrong:
            block, tx = self._creator(note_id)
            self.report.find("note", f"stored {differing(wrong)} from the note in "
                             "the re-executed state", block=block, tx=tx, note=note_id)

    def _note_row(self, note_id: str) -> dict[str, Any] | None:
        raw = self.replay.state.raw(NOTE_PREFIX + note_id)
        if raw is None:
            return None
        note = parse_trusted(raw)
        row = {c: note.get(c) for c in NOTE_COLUMNS}
        row["height"] = self.replay.state.version(NOTE_PREFIX + note_id)
        return row

    def _creator(self, note_id: str) -> tuple[int | None, str | None]:
        raw = self.replay.state.raw(NOTE_PREFIX + note_id)
        created = parse_trusted(raw).get("created_tx") if raw is not None else None
        if isinstance(created, str) and created in self.replay.tx_height:
            return self.replay.tx_height[created], created
        return self._writer(NOTE_PREFIX + note_id)

    def _party(self, row: Row) -> None:
        uscc, log_index, tx_id = (decode_cell(row.get(c)) for c in ("uscc", "log_index", "tx_id"))
        self.stored_parties[log_index].add((uscc, tx_id))

    def _nonce(self, row: Row) -> None:
        self.stored_nonces.add((decode_cell(row.get("signer")), decode_cell(row.get("nonce"))))

    def orphans(self, table: str, rows: list[Row]) -> None:
        """Report rows of per-block tables whose block row is missing."""
        for row in rows:
            tx = row.get("id") if table == "transactions" else None
            self.report.find("source", f"a stored {table} row belongs to no stored block "
                             f"(its height column says {row.get('height')!r})"[:300],
                             block=_int(row.get("height")), tx=tx if isinstance(tx, str) else None)

    def finish(self) -> None:
        """Report what was never stored, then check conservation."""
        self._missing_state()
        self._missing_notes()
        self._parties()
        self._nonces()
        Conservation(self.report, self.replay).check()

    def _missing_state(self) -> None:
        for key, _, _ in self.replay.state.items():
            if key not in self.seen[STATE_TABLE]:
                block, tx = self._writer(key)
                self.report.find("state", f"key {key} of the re-executed state is not stored",
                                 block=block, tx=tx)

    def _missing_notes(self) -> None:
        for key in self.replay.state.keys_with_prefix(NOTE_PREFIX):
            note_id = key[len(NOTE_PREFIX):]
            if note_id not in self.seen[NOTE_TABLE]:
                block, tx = self._creator(note_id)
                self.report.find("note", "the note has no stored note row", block=block, tx=tx,
                                 note=note_id)

    def _parties(self) -> None:
        for log_index, (tx_id, parties) in self.replay.parties.items():
            stored = self.stored_parties.pop(log_index, set())
            if stored != {(p, tx_id) for p in parties}:
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


class Conservation:
    """For every receivable: live notes + clearings = face, clearings = paid, leaves listed."""

    def __init__(self, report: AuditReport, replay: Replay) -> None:
        self.report = report
        self.replay = replay
        self.live: dict[str, dict[str, int]] = defaultdict(dict)
        self.cleared: dict[str, int] = defaultdict(int)

    def check(self) -> None:
        """Check every receivable of the rebuilt state."""
        state = self.replay.state
        for key in state.keys_with_prefix(NOTE_PREFIX):
            note = state.get(key)
            if isinstance(note, dict) and note.get("status") in LIVE:
                self.live[note["root_id"]][note["id"]] = note["amount"]
        for key in state.keys_with_prefix(CLEARING_PREFIX):
            clearing = state.get(key)
            if isinstance(clearing, dict):
                self.cleared[clearing["root_id"]] += clearing["amount"]
        receivables = state.keys_with_prefix(RECEIVABLE_PREFIX)
        self.report.stats.receivables = len(receivables)
        self.report.stats.notes = len(state.keys_with_prefix(NOTE_PREFIX))
        self.report.stats.state_keys = len(state)
        for key in receivables:
            self._receivable(key, state.get(key))

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
                (set(live) != set(record.get("live", ())),
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
