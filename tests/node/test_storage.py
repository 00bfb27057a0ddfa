"""Storage on SQLite and PostgreSQL: blocks commit atomically and a restart resumes exactly.

The same story runs through the real chain (executor, contracts, store) on
both databases; afterwards a fresh Chain over the same database must hold the
same head, state, notes and log root, and the two databases must agree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from contracts import CONTRACTS
from ledger.execution import Executor
from ledger.genesis import Genesis
from ledger.timefmt import format_timestamp
from node.ordering import OrderedBatch
from node.pipeline.chain import Chain, SignatureCache
from node.storage.store import Store
from tests.builders import START, build_tx, make_orgs
from tests.nodes import write_genesis


def _batch(position: int, envelopes: list[Any], when: Any) -> OrderedBatch:
    data = orjson.dumps({"chain_id": "test-chain", "proposer": "n1",
                         "time": format_timestamp(when), "txs": [e.to_json() for e in envelopes]})
    return OrderedBatch(position, data)


def _derived(tx_id: str, kind: str) -> str:
    from ledger.crypto import sha256_hex

    return sha256_hex(f"{kind}:{tx_id}:0".encode())



def _story_batches() -> tuple[list[OrderedBatch], list[str]]:
    """Build a credit line, an issuance, acceptance and a split; return batches and tx ids."""
    orgs = make_orgs()
    u = {name: org.uscc for name, org in orgs.items()}
    line_tx = build_tx(orgs, ["b1", "core"], "receivable", "grant_credit_line",
                       {"bank": u["b1"], "core": u["core"], "limit": 10**9, "currency": "CNY",
                        "expiry_date": "2026-12-31"}, now=START)
    line = {"id": _derived(line_tx.tx_id, "credit_line")}
    trade = {"contract_no": "PO-1", "documents": [], "invoices": [
        {"seller": u["s1"], "number": "INV-1", "amount": 10**8, "allocated": 10**8}]}
    issue = build_tx(orgs, ["core"], "receivable", "issue",
                     {"credit_line": line["id"], "to": u["s1"], "amount": 10**8,
                      "currency": "CNY", "maturity_date": "2026-03-01", "trade": trade},
                     now=START)
    root = _derived(issue.tx_id, "note")
    accept = build_tx(orgs, ["s1"], "receivable", "accept", {"receivable": root}, now=START)
    split = build_tx(orgs, ["s1"], "receivable", "transfer",
                     {"note": root, "payments": [{"to": u["s2"], "amount": 4 * 10**7}]},
                     now=START)
    batches = [_batch(1, [line_tx], START), _batch(2, [issue, accept], START),
               _batch(3, [split, split], START)]  # the repeated split is dropped as a duplicate
    return batches, [line_tx.tx_id, issue.tx_id, accept.tx_id, split.tx_id]


STORY = _story_batches()


def _story(chain: Chain) -> list[str]:
    """Apply the story's batches to `chain`; return its tx ids."""
    batches, ids = STORY
    for batch in batches:
        chain.apply_batch(batch)
    return ids


def _open(url: str, genesis: Genesis) -> Chain:
    return Chain(Store(url), genesis, Executor(CONTRACTS, SignatureCache()))


def _snapshot(chain: Chain) -> dict[str, Any]:
    return {
        "head": chain.head.hash(), "height": chain.head.height,
        "log_root": chain.log.root().hex(), "log_size": chain.log.size,
        "state": {k: v for k, v, _ in chain.store.state_items()},
        "notes": sorted((n.id, n.holder, n.amount, n.status)
                        for n in chain.store.notes_where(limit=1000)),
    }


def _genesis(tmp_path: Path) -> Genesis:
    write_genesis(tmp_path / "genesis.json", make_orgs())
    return Genesis.from_json(json.loads((tmp_path / "genesis.json").read_text()))


def _run_and_reopen(url: str, genesis: Genesis) -> tuple[dict[str, Any], dict[str, Any]]:
    chain = _open(url, genesis)
    ids = _story(chain)
    assert [chain.store.tx(i).valid for i in ids] == [True] * 4  # type: ignore[union-attr]
    before = _snapshot(chain)
    chain.store.close()
    reopened = _open(url, genesis)
    after = _snapshot(reopened)
    reopened.store.close()
    return before, after


def test_sqlite_restart_resumes_at_the_last_block(tmp_path: Path) -> None:
    before, after = _run_and_reopen(f"sqlite:///{tmp_path / 'n.db'}", _genesis(tmp_path))
    assert before == after
    assert after["height"] == 3 and after["log_size"] == 5


@pytest.mark.postgres
def test_postgres_restart_resumes_at_the_last_block(
    tmp_path: Path, fresh_postgres_url: str
) -> None:
    before, after = _run_and_reopen(fresh_postgres_url, _genesis(tmp_path))
    assert before == after


@pytest.mark.postgres
def test_sqlite_and_postgres_compute_the_same_chain(
    tmp_path: Path, fresh_postgres_url: str
) -> None:
    genesis = _genesis(tmp_path)
    lite, _ = _run_and_reopen(f"sqlite:///{tmp_path / 'n.db'}", genesis)
    pg, _ = _run_and_reopen(fresh_postgres_url, genesis)
    assert lite == pg


def test_a_block_that_fails_midway_through_its_commit_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    genesis = _genesis(tmp_path)
    url = f"sqlite:///{tmp_path / 'n.db'}"
    chain = _open(url, genesis)
    before = _snapshot(chain)

    def disk_full(*_args: Any) -> None:
        raise OSError("disk full")

    # Blocks, transactions, nonces, parties and state are already written
    # inside the block's database transaction when the note index fails.
    monkeypatch.setattr(Store, "_upsert_notes", staticmethod(disk_full))
    with pytest.raises(OSError):
        chain.apply_batch(STORY[0][0])
    assert _snapshot(chain) == before
    chain.store.close()
    monkeypatch.undo()
    reopened = _open(url, genesis)
    assert _snapshot(reopened) == before
    assert reopened.store.tx(STORY[1][0]) is None
    _story(reopened)
    assert reopened.head.height == 3
    reopened.store.close()


def test_a_database_of_another_chain_is_refused(tmp_path: Path) -> None:
    from ledger.errors import LedgerError
    from ledger.genesis import make_genesis

    url = f"sqlite:///{tmp_path / 'n.db'}"
    _open(url, _genesis(tmp_path)).store.close()
    orgs = make_orgs()
    other = make_genesis("other-chain", START, {o.uscc: (o.member(), o.key)
                                                for o in orgs.values()}, {})
    with pytest.raises(LedgerError, match="another chain"):
        _open(url, other)


def _replay_lookups(store: Store, ids: list[str]) -> tuple[set[str], set[tuple[str, str]]]:
    """Ask the store which story transactions and nonces it has seen, plus unknown ones."""
    batches, _ = STORY
    pairs = {(signer, json.loads(tx["body"])["nonce"])
             for batch in batches for tx in orjson.loads(batch.data)["txs"]
             for signer in json.loads(tx["body"])["signers"]}
    unknown = {("f" * 18, "nonce-never-used"), (next(iter(pairs))[0], "nonce-never-used")}
    return (store.seen_tx_ids([*ids, "0" * 64]), store.used_nonces(pairs | unknown)), pairs


def test_replay_lookups_find_exactly_what_was_committed(tmp_path: Path) -> None:
    chain = _open(f"sqlite:///{tmp_path / 'n.db'}", _genesis(tmp_path))
    ids = _story(chain)
    (seen, used), pairs = _replay_lookups(chain.store, ids)
    assert seen == set(ids) and used == pairs
    chain.store.close()


@pytest.mark.postgres
def test_replay_lookups_on_postgres(tmp_path: Path, fresh_postgres_url: str) -> None:
    chain = _open(fresh_postgres_url, _genesis(tmp_path))
    ids = _story(chain)
    (seen, used), pairs = _replay_lookups(chain.store, ids)
    assert seen == set(ids) and used == pairs
    chain.store.close()


def test_replay_lookups_search_an_index_and_never_scan_a_table(tmp_path: Path) -> None:
    """Every submission runs these lookups: a table scan would slow it as the chain grows."""
    from sqlalchemy import event

    chain = _open(f"sqlite:///{tmp_path / 'n.db'}", _genesis(tmp_path))
    ids = _story(chain)
    statements: list[tuple[str, Any]] = []

    def remember(_conn: Any, _cursor: Any, sql: str, params: Any, *_rest: Any) -> None:
        statements.append((sql, params))

    event.listen(chain.store.engine, "before_cursor_execute", remember)
    _replay_lookups(chain.store, ids)
    event.remove(chain.store.engine, "before_cursor_execute", remember)
    assert len(statements) >= 2
    with chain.store.engine.connect() as conn:
        for sql, params in statements:
            plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {sql}", params).fetchall())
            assert "SEARCH" in plan and "SCAN" not in plan, (sql, plan)
    chain.store.close()


def _attestations_before_note_signatures(url: str) -> None:
    """Create the attestations table as versions before checkpoint cosigning did, with a row."""
    from sqlalchemy import create_engine

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    kind = "BYTEA" if url.startswith("postgresql") else "BLOB"
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE attestations (height INTEGER NOT NULL, node_id VARCHAR NOT NULL, "
            f"header_hash VARCHAR NOT NULL, signature {kind} NOT NULL, "
            "PRIMARY KEY (height, node_id))")
        conn.exec_driver_sql("INSERT INTO attestations VALUES (1, 'node1', 'aa', "
                             + ("'\\x0102'::bytea)" if kind == "BYTEA" else "x'0102')"))
    engine.dispose()


def _check_upgraded(url: str) -> None:
    from node.storage.store import StoredAttestation

    _attestations_before_note_signatures(url)
    store = Store(url)
    store.add_attestations([StoredAttestation(1, "node2", "aa", b"\3", b"\4" * 64)])
    assert store.attestations(1, 1) == [StoredAttestation(1, "node1", "aa", b"\1\2", None),
                                        StoredAttestation(1, "node2", "aa", b"\3", b"\4" * 64)]
    store.close()
    assert Store(url).attestations(1, 1)[1].note_signature == b"\4" * 64  # idempotent reopen


def test_an_older_database_gains_the_note_signature_column(tmp_path: Path) -> None:
    _check_upgraded(f"sqlite:///{tmp_path / 'old.db'}")


@pytest.mark.postgres
def test_an_older_postgres_database_gains_the_note_signature_column(
    fresh_postgres_url: str,
) -> None:
    _check_upgraded(fresh_postgres_url)
