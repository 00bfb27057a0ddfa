"""Acceptance: 200 single-byte flips in a node's database, each found and placed by the audit.

A sample chain of about three hundred transactions of every kind (signed
batches, two attesting nodes) is built in a node database with the node's own
Chain.  Then, 200 times with a fixed seed: copy the database, flip one byte
of one value of one row (a transaction column, a header, a batch, an
attestation, a note row, a state row, a party or nonce index row), export it
with the offline exporter, audit the chain file.  Every flip must be found,
and some finding must name the block the row belongs to, the transaction
(where the row belongs to one) and, for a note row, the note and the
transaction that created it.

Primary keys that place a row in its block (blocks.height,
block_batches.height, attestations.height) are not flipped: moving a block
row elsewhere is a different corruption (found, but not "at its block").
"""

from __future__ import annotations

import io
import json
import random
import shutil
import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from client.audit import AuditReport, audit_source
from ledger.blob_codec import unpack
from node.storage.chain_lines import export_database
from node.storage.hex_ids import hex_of, stored_id
from scripts.sample_chain import build_sample_chain
from tests.client.audit.chain_lines import Lines

FLIPS = 200
SEED = 20260105
COLUMNS = {
    "transactions": ("id", "height", "position", "log_index", "contract", "action", "valid",
                     "code", "reason", "envelope", "leaf_hash", "events"),
    "blocks": ("hash", "position", "time", "tx_count", "header"),
    "block_batches": ("data", "refs"),
    "attestations": ("node_id", "header_hash", "signature", "note_signature"),
    "notes": ("id", "root_id", "parent_id", "holder", "issuer", "amount", "currency", "status",
              "maturity_date", "financed", "frozen", "height"),
    "state": ("key", "height", "value"),
    "tx_parties": ("uscc", "log_index"),
    "nonces": ("signer", "nonce"),
}

# tables without a rowid: their primary key
KEYS = {"tx_parties": ("uscc", "log_index"), "nonces": ("signer", "nonce"), "state": ("key",)}
PAIRS = [(table, column) for table, columns in sorted(COLUMNS.items()) for column in columns]


@dataclass(frozen=True)
class Flip:
    """One corrupted value, and where the audit must say it is."""

    table: str
    column: str
    block: int
    tx: str | None
    note: str | None

    def found_in(self, report: AuditReport) -> bool:
        """Return whether a finding names this flip's block, transaction and note."""
        return any(f.block == self.block and (self.tx is None or f.tx == self.tx)
                   and (self.note is None or f.note == self.note) for f in report.findings)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the sample chain once; return its database file (rollback journal, one file)."""
    path = tmp_path_factory.mktemp("tamper") / "node.db"
    build_sample_chain(f"sqlite:///{path}", transactions=300, lanes=32)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=DELETE")
    return path


def audit_database(path: Path) -> AuditReport:
    """Export the database with the offline exporter and audit the chain file."""
    out = io.BytesIO()
    export_database(f"sqlite:///{path}", out)
    return audit_source(Lines(out.getvalue()), parallel=False)


def test_the_untouched_sample_chain_audits_clean(pristine: Path) -> None:
    report = audit_database(pristine)
    assert report.passed, [str(f) for f in report.findings]
    assert report.stats.txs >= 250 and report.stats.invalid_txs >= 3
    assert report.stats.final_blocks == report.stats.blocks - 1  # all but genesis certified


@pytest.mark.slow  # one audit per byte, ~30 s
def test_every_single_byte_flip_is_found_and_placed(pristine: Path, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    missed, kinds, findings = [], Counter(), 0
    for number in range(FLIPS):
        copy = tmp_path / f"flip{number}.db"
        shutil.copyfile(pristine, copy)
        flip = flip_one_byte(copy, rng)
        report = audit_database(copy)
        kinds[f"{flip.table}.{flip.column}"] += 1
        findings += len(report.findings)
        assert not any("could not check" in f.message for f in report.findings), flip
        if not flip.found_in(report):
            missed.append((flip, [str(f) for f in report.findings[:5]]))
        copy.unlink()
    print(f"\n{FLIPS} flips, {findings / FLIPS:.1f} findings each on average, over "
          f"{len(kinds)} columns: {dict(sorted(kinds.items()))}")
    assert not missed, missed
    assert len(kinds) >= len(PAIRS) - 3  # the seed reaches (nearly) every column


def flip_one_byte(path: Path, rng: random.Random) -> Flip:
    """Flip one byte of one random value in the database at `path`; return where it is."""
    with sqlite3.connect(path) as db:
        while True:
            table, column = rng.choice(PAIRS)
            key = KEYS.get(table, ("rowid",))
            *rowid, value = rng.choice(db.execute(
                f"SELECT {', '.join(key)}, {column} FROM {table}").fetchall())
            changed = flipped(value, rng)
            if changed is None:
                continue  # NULL or empty text: no byte to flip
            place = placement(db, table, rowid if len(rowid) > 1 else rowid[0])
            where = " AND ".join(f"{k} = ?" for k in key)
            try:
                db.execute(f"UPDATE {table} SET {column} = ? WHERE {where}", (changed, *rowid))
            except sqlite3.IntegrityError:
                continue  # the flipped key collides with another row's: pick again
            return Flip(table, column, *place)


def flipped(value: Any, rng: random.Random) -> Any:
    """Return `value` with one byte xor-ed with a random non-zero byte (None if it has none)."""
    if isinstance(value, int):
        raw = bytearray(value.to_bytes(8, "big", signed=True))
        raw[rng.randrange(8)] ^= rng.randrange(1, 256)
        return int.from_bytes(raw, "big", signed=True)
    if isinstance(value, bytes | str):
        raw = bytearray(value.encode("utf-8") if isinstance(value, str) else value)
        if not raw:
            return None
        raw[rng.randrange(len(raw))] ^= rng.randrange(1, 256)
        if isinstance(value, bytes):
            return bytes(raw)
        try:
            return bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            return bytes(raw)  # text that is no longer UTF-8: stored as it now is
    return None


def placement(db: sqlite3.Connection, table: str, rowid: Any) -> tuple[int, str | None,
                                                                         str | None]:
    """Return (block, transaction, note) a row of `table` belongs to, read before the flip."""
    def one(sql: str, *args: Any) -> Any:
        return db.execute(sql, args).fetchone()

    if table in ("blocks", "block_batches", "attestations"):
        return one(f"SELECT height FROM {table} WHERE rowid = ?", rowid)[0], None, None
    if table == "transactions":
        height, tx_id = one("SELECT height, id FROM transactions WHERE rowid = ?", rowid)
        return height, hex_of(tx_id), None
    if table == "tx_parties":
        height, tx_id = one("SELECT height, id FROM transactions WHERE log_index = ?", rowid[1])
        return height, hex_of(tx_id), None
    if table == "nonces":
        signer, nonce = rowid
        return first_user(db, signer, nonce)
    if table == "notes":
        note_id = hex_of(one("SELECT id FROM notes WHERE rowid = ?", rowid)[0])
        value = json.loads(unpack(one("SELECT value FROM state WHERE key = ?",
                                      "note/" + note_id)[0]))
        creator = value["created_tx"]
        height = one("SELECT height FROM transactions WHERE id = ?", stored_id(creator))[0]
        return height, creator, note_id
    return one("SELECT height FROM state WHERE key = ?", rowid)[0], None, None


def first_user(db: sqlite3.Connection, signer: str, nonce: str) -> tuple[int, str, None]:
    """Return the block and id of the first transaction `signer` signed with `nonce`."""
    for height, tx_id, envelope in db.execute(
            "SELECT height, id, envelope FROM transactions ORDER BY log_index"):
        body = json.loads(json.loads(unpack(envelope))["body"])
        if body["nonce"] == nonce and signer in body["signers"]:
            return height, hex_of(tx_id), None
    raise AssertionError(f"no transaction used nonce {nonce} of {signer}")
