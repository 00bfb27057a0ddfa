"""Each envelope is stored once, the indexes are compact, and older databases are migrated.

A block's kept batch loses the wires of the transactions the block stores
(ledger/batch_pack.py) and is rebuilt byte for byte when served; the party
index is keyed by log index without the tx id; on SQLite the state table has
no rowid (its key is the row).  A database an older version made (batches
whole, party rows with tx ids, a state table with a rowid, transactions keyed
by id) is migrated, each
step in one database transaction, when the node opens it.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, inspect

from client.audit import audit_source
from ledger.batch import open_batch
from ledger.batch_pack import REF, UnpackError, pack_batch, unpack_batch, wire_of
from node.storage.chain_lines import export_database
from node.storage.hex_ids import hex_of
from node.storage.store import Store
from scripts.sample_chain import build_sample_chain
from tests.client.audit.chain_lines import Lines


def _sample(url: str) -> dict[int, bytes]:
    """Build a small sample chain at `url`; return each block's batch as the store serves it."""
    build_sample_chain(url, transactions=60, lanes=6)
    store = Store(url)
    try:
        head = store.head_height()
        assert head is not None
        return {h: b for h in range(1, head + 1) if (b := store.block_batch(h)) is not None}
    finally:
        store.close()


def _raw(url: str) -> list[tuple[int, bytes, bytes | None]]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT height, data, refs FROM block_batches ORDER BY height").all()
    engine.dispose()
    return [(int(h), bytes(d), None if r is None else bytes(r)) for h, d, r in rows]


def _as_older_version(url: str, batches: dict[int, bytes]) -> None:
    """Give the database the batches and party tables older versions made, with their rows."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    kind = "BYTEA" if url.startswith("postgresql") else "BLOB"
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE tx_parties RENAME TO parties_now")
        conn.exec_driver_sql("DROP INDEX IF EXISTS ix_tx_parties_log_index")
        conn.exec_driver_sql("CREATE TABLE tx_parties (uscc VARCHAR NOT NULL, log_index INTEGER "
                             "NOT NULL, tx_id VARCHAR NOT NULL, PRIMARY KEY (uscc, log_index))")
        conn.exec_driver_sql("CREATE INDEX ix_tx_parties_tx_id ON tx_parties (tx_id)")
        as_text = "lower(hex(t.id))" if kind == "BLOB" else "encode(t.id, 'hex')"
        conn.exec_driver_sql(f"INSERT INTO tx_parties SELECT p.uscc, p.log_index, {as_text} "
                             "FROM parties_now p JOIN transactions t ON t.log_index = p.log_index")
        conn.exec_driver_sql("DROP TABLE parties_now")
        if kind == "BLOB":  # SQLite: the state table with a rowid and a key index of its own
            conn.exec_driver_sql("ALTER TABLE state RENAME TO state_now")
            conn.exec_driver_sql('CREATE TABLE state ("key" VARCHAR NOT NULL, height INTEGER '
                                 'NOT NULL, value BLOB NOT NULL, PRIMARY KEY ("key"))')
            conn.exec_driver_sql("INSERT INTO state SELECT * FROM state_now")
            conn.exec_driver_sql("DROP TABLE state_now")
            conn.exec_driver_sql("ALTER TABLE transactions RENAME TO txs_now")
            conn.exec_driver_sql("DROP INDEX ix_transactions_height")
            conn.exec_driver_sql(
                "CREATE TABLE transactions (id VARCHAR NOT NULL, height INTEGER NOT NULL, "
                "position INTEGER NOT NULL, log_index INTEGER NOT NULL, contract VARCHAR NOT NULL, "
                "action VARCHAR NOT NULL, valid BOOLEAN NOT NULL, code VARCHAR NOT NULL, "
                "reason VARCHAR NOT NULL, envelope BLOB NOT NULL, leaf_hash BLOB NOT NULL, "
                "events BLOB NOT NULL, PRIMARY KEY (id), UNIQUE (log_index))")
            conn.exec_driver_sql("CREATE INDEX ix_transactions_height ON transactions (height)")
            conn.exec_driver_sql("INSERT INTO transactions SELECT lower(hex(id)), height, "
                                 "position, "
                                 "log_index, contract, action, valid, code, reason, envelope, "
                                 "leaf_hash, events FROM txs_now")
            conn.exec_driver_sql("DROP TABLE txs_now")
        conn.exec_driver_sql("DROP TABLE block_batches")
        conn.exec_driver_sql(f"CREATE TABLE block_batches (height INTEGER NOT NULL, "
                             f"data {kind} NOT NULL, PRIMARY KEY (height))")
        conn.exec_driver_sql("INSERT INTO block_batches (height, data) VALUES (%s, %s)"
                             if kind == "BYTEA" else
                             "INSERT INTO block_batches (height, data) VALUES (?, ?)",
                             list(batches.items()))
    engine.dispose()


def test_a_kept_batch_stores_no_envelope_twice_and_is_served_whole(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'n.db'}"
    batches = _sample(url)
    store = Store(url)
    for height, data, refs in _raw(url):
        envelopes = [r.envelope for r in store.block_txs(height)]
        assert refs is not None and len(refs) == REF.size * len(envelopes)
        assert not any(orjson.loads(e)["body"].encode() in data for e in envelopes)
        assert len(data) + sum(len(wire_of(e) or b"") for e in envelopes) == len(batches[height])
        open_batch(batches[height])  # still the signed batch
    store.close()


def test_the_state_and_transactions_tables_are_their_own_key_index_on_sqlite(
    tmp_path: Path,
) -> None:
    """Without a rowid the state key is stored once, in the table, not again in an index of
    its own; the transactions table's rowid is its log index, which needs no index either."""
    url = f"sqlite:///{tmp_path / 'n.db'}"
    _sample(url)
    assert _without_rowid(url, "state")
    assert _keyed_by_log_index(url)


def _party_rows(url: str) -> dict[str, set[str]]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT t.id, p.uscc FROM tx_parties p JOIN transactions t "
                                    "ON t.log_index = p.log_index").all()
    engine.dispose()
    found: dict[str, set[str]] = {}
    for tx_id, uscc in rows:
        found.setdefault(hex_of(tx_id), set()).add(str(uscc))
    return found


def _check_party_index_by_log_index_dropped(url: str, caplog: pytest.LogCaptureFixture) -> None:
    """The parties of one transaction come from its row (signers and events), so the party
    index needs no index by log index: a database that has one loses it at start."""
    _sample(url)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    assert not inspect(engine).get_indexes("tx_parties")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE INDEX ix_tx_parties_log_index ON tx_parties (log_index)")
    with caplog.at_level(logging.WARNING, logger="node.storage.store"):
        store = Store(url)
    assert "dropped the party index by log index" in caplog.text
    assert not inspect(engine).get_indexes("tx_parties")
    engine.dispose()
    stored = _party_rows(url)
    assert _parties(store) == {t: stored.get(t, set()) for t in _parties(store)}
    assert sum(map(len, stored.values())) > len(stored)
    store.close()


def test_a_party_index_by_log_index_is_dropped_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    _check_party_index_by_log_index_dropped(f"sqlite:///{tmp_path / 'n.db'}", caplog)


@pytest.mark.postgres
def test_a_postgres_party_index_by_log_index_is_dropped_at_start(
    fresh_postgres_url: str, caplog: pytest.LogCaptureFixture,
) -> None:
    _check_party_index_by_log_index_dropped(fresh_postgres_url, caplog)


def _parties(store: Store) -> dict[str, set[str]]:
    head = store.head_height() or 0
    return {t.id: store.parties(t.id) for h in range(head + 1) for t in store.block_txs(h)}


def _without_rowid(url: str, table: str) -> bool:
    """Return whether a SQLite table has no rowid (the key is the row)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = ?",
                                   (table,)).scalar_one()
    engine.dispose()
    return "WITHOUT ROWID" in str(sql).upper()


def _keyed_by_log_index(url: str) -> bool:
    """Return whether SQLite's transactions table is keyed by log index (its rowid)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'transactions'"
                                   ).scalar_one()
        indexes = conn.exec_driver_sql("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' "
                                       "AND tbl_name = 'transactions'").scalar_one()
    engine.dispose()
    return "PRIMARY KEY (log_index)" in str(sql) and indexes == 2  # id, height


def _transactions(store: Store) -> list[tuple[object, ...]]:
    head = store.head_height() or 0
    return [(t.id, t.height, t.position, t.log_index, t.contract, t.action, t.valid, t.code,
             t.reason, t.envelope, t.leaf_hash, t.events)
            for h in range(head + 1) for t in store.block_txs(h)]


def _check_migrated(url: str, caplog: pytest.LogCaptureFixture) -> None:
    batches = _sample(url)
    store = Store(url)
    parties = _parties(store)
    state = sorted(store.state_items())
    txs = _transactions(store)
    store.close()
    assert sum(map(len, parties.values())) > len(parties)
    _as_older_version(url, batches)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    assert "refs" not in {c["name"] for c in inspect(engine).get_columns("block_batches")}
    engine.dispose()
    with caplog.at_level(logging.WARNING, logger="node.storage"):
        store = Store(url)
    assert "packed" in caplog.text and f"packing {len(batches)} kept batches" in caplog.text
    assert "rebuilt the party index" in caplog.text
    assert all(refs is not None for _, _, refs in _raw(url))
    assert {h: store.block_batch(h) for h in batches} == batches
    assert _parties(store) == parties
    assert sorted(store.state_items()) == state
    assert _transactions(store) == txs
    assert store.tx(txs[5][0]) is not None and store.tx_at_log_index(5) is not None
    if url.startswith("sqlite"):
        assert "rebuilding the state table" in caplog.text and _without_rowid(url, "state")
        assert "storing the ids of the transactions table's" in caplog.text  # as bytes, in
        assert _keyed_by_log_index(url)  # today's layout, so keyed by log index too
    uscc = next(iter(parties[next(iter(parties))]))
    assert {t.id for t in store.txs_for_party(uscc, -1, 10_000)} == {
        t for t, who in parties.items() if uscc in who}
    store.close()
    caplog.clear()
    reopened = Store(url)  # nothing left to pack
    assert "packing" not in caplog.text and "party index" not in caplog.text
    assert "state table" not in caplog.text and "transactions table" not in caplog.text
    assert {h: reopened.block_batch(h) for h in batches} == batches
    reopened.close()


def test_an_older_database_has_its_whole_batches_packed_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    _check_migrated(f"sqlite:///{tmp_path / 'old.db'}", caplog)


@pytest.mark.postgres
def test_an_older_postgres_database_has_its_whole_batches_packed_at_start(
    fresh_postgres_url: str, caplog: pytest.LogCaptureFixture,
) -> None:
    _check_migrated(fresh_postgres_url, caplog)


def _wire(body: str, signer: str) -> bytes:
    return orjson.dumps({"body": body, "signatures": [{"signer": signer, "sig": "c2ln"}]})


def _canonical(body: str, signer: str) -> bytes:
    return orjson.dumps({"body": body, "signatures": [{"sig": "c2ln", "signer": signer}]})


def _id(n: int) -> str:
    return f"{n:064x}"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=20), st.sampled_from(["a", "b"]), st.booleans()),
                max_size=6), st.binary(max_size=12))
def test_packing_then_unpacking_gives_any_batch_back_byte_for_byte(
    txs: list[tuple[str, str, bool]], garbage: bytes,
) -> None:
    """Whatever the batch holds (duplicates, garbage, envelopes it lacks), it comes back exact."""
    batch = b"head" + garbage + b"[" + b",".join(
        _wire(body, signer) for body, signer, inside in txs if inside) + b"]" + garbage
    envelopes = [(_id(n), _canonical(body, signer)) for n, (body, signer, _) in enumerate(txs)]
    skeleton, refs = pack_batch(batch, envelopes)
    assert unpack_batch(skeleton, refs, dict(envelopes).get) == batch
    assert len(skeleton) <= len(batch)


def test_a_damaged_packed_batch_is_an_error_naming_the_transaction() -> None:
    envelope = _canonical("body", "a")
    skeleton, refs = pack_batch(b"[" + _wire("body", "a") + b"]", [(_id(7), envelope)])
    assert skeleton == b"[]" and refs == REF.pack(1, bytes.fromhex(_id(7)))
    assert wire_of(b"not json") is None
    stored = {_id(7): envelope}.get
    for bad_refs, problem in ((refs[:-1], "multiple"), (REF.pack(3, bytes(32)), "outside"),
                              (REF.pack(1, bytes.fromhex(_id(8))), f"transaction {_id(8)}")):
        with pytest.raises(UnpackError, match=problem):
            unpack_batch(skeleton, bad_refs, stored)
    with pytest.raises(UnpackError, match="no usable envelope") as raised:
        unpack_batch(skeleton, refs, lambda _: b"not json")
    assert raised.value.tx_id == _id(7)


def _chain_file(url: str) -> bytes:
    out = io.BytesIO()
    export_database(url, out)
    return out.getvalue()


def test_a_version_1_chain_file_still_audits_and_its_flips_are_found(tmp_path: Path) -> None:
    """A database in the old layout exports exactly what version 1 wrote (whole batches, party
    rows with tx ids): with its header saying so, it audits clean, and a changed tx id is found."""
    url = f"sqlite:///{tmp_path / 'n.db'}"
    batches = _sample(url)
    current = _chain_file(url)
    assert b'"format":"receivables-ledger-chain/2"' in current
    assert not audit_source(Lines(current), parallel=False).findings
    _as_older_version(url, batches)
    old = _chain_file(url).replace(b'"format":"receivables-ledger-chain/2"',
                                   b'"format":"receivables-ledger-chain/1"', 1)
    assert b'"refs"' not in old and b'"tx_id"' in old
    report = audit_source(Lines(old), parallel=False)
    assert not report.findings, [str(f) for f in report.findings]
    at = old.index(b'"tx_id":"') + len(b'"tx_id":"') + 3
    flipped = old[:at] + (b"0" if old[at:at + 1] != b"0" else b"1") + old[at + 1:]
    (finding, *_) = audit_source(Lines(flipped), parallel=False).findings
    assert finding.check == "party"
