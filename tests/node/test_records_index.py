"""The records index: written with each block, and rebuilt once for an older database.

A real chain (executor, contracts, store) on SQLite and PostgreSQL commits a
credit line, an issuance, its acceptance, a split and a financing request;
the index then holds one row per record with its parties, status and date.
A database from before the index has no `records` table: dropping it and
opening the store again must bring back exactly the same rows, from the state.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from contracts import CONTRACTS
from ledger.crypto import sha256_hex
from ledger.execution import Executor
from ledger.genesis import Genesis
from ledger.timefmt import format_timestamp
from node.ordering import OrderedBatch
from node.pipeline.chain import Chain, SignatureCache
from node.storage.hex_ids import hex_of
from node.storage.records_index import prefix_range
from node.storage.store import Store
from tests.builders import START, build_tx, make_orgs
from tests.nodes import write_genesis

ORGS = make_orgs()
U = {name: org.uscc for name, org in ORGS.items()}
MATURITY = "2026-03-01"


def _derived(tx_id: str, kind: str, index: int = 0) -> str:
    return sha256_hex(f"{kind}:{tx_id}:{index}".encode())


def _batch(position: int, envelopes: list[Any]) -> OrderedBatch:
    return OrderedBatch(position, orjson.dumps({
        "chain_id": "test-chain", "proposer": "n1", "time": format_timestamp(START),
        "txs": [e.to_json() for e in envelopes]}))


def _tx(signers: list[str], action: str, args: dict[str, Any]) -> Any:
    return build_tx(ORGS, signers, "receivable", action, args, now=START)


def _play(chain: Chain) -> dict[str, str]:
    """Commit the story; return the ids of its credit line, credential and financing."""
    line_tx = _tx(["b1", "core"], "grant_credit_line",
                  {"bank": U["b1"], "core": U["core"], "limit": 10**9, "currency": "CNY",
                   "expiry_date": "2026-12-31"})
    line = _derived(line_tx.tx_id, "credit_line")
    trade = {"contract_no": "PO-1", "documents": [], "invoices": [
        {"seller": U["s1"], "number": "INV-1", "amount": 10**8, "allocated": 10**8}]}
    issue = _tx(["core"], "issue", {"credit_line": line, "to": U["s1"], "amount": 10**8,
                                    "currency": "CNY", "maturity_date": MATURITY,
                                    "trade": trade})
    root = _derived(issue.tx_id, "note")
    accept = _tx(["s1"], "accept", {"receivable": root})
    split = _tx(["s1"], "transfer", {"note": root, "payments": [{"to": U["s2"], "amount": 10**7}]})
    chain.apply_batch(_batch(1, [line_tx]))
    chain.apply_batch(_batch(2, [issue, accept, split]))
    s2_note = chain.store.notes_where(holder=U["s2"])[0].id
    ask = _tx(["s2"], "request_financing", {"note": s2_note, "bank": U["b2"]})
    chain.apply_batch(_batch(3, [ask]))
    assert all(row.valid for row in chain.store.txs_range(1, 3))
    return {"line": line, "root": root, "financing": _derived(ask.tx_id, "financing")}


def _genesis(tmp_path: Path) -> Genesis:
    write_genesis(tmp_path / "genesis.json", ORGS)
    return Genesis.from_json(json.loads((tmp_path / "genesis.json").read_text()))


def _rows(store: Store) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        return [(kind, hex_of(record_id), *rest) for kind, record_id, *rest in conn.execute(text(
            "SELECT kind, id, status, party_a, party_b, date, height FROM records ORDER BY id"))]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'node.db'}"
    request.applymarker(pytest.mark.postgres)
    return str(request.getfixturevalue("fresh_postgres_url"))


def test_each_block_indexes_its_records_and_an_old_database_gets_them_back(
    tmp_path: Path, database_url: str
) -> None:
    genesis = _genesis(tmp_path)
    chain = Chain(Store(database_url), genesis, Executor(CONTRACTS, SignatureCache()))
    ids = _play(chain)
    rows = _rows(chain.store)
    assert sorted(rows) == sorted([
        ("credit_line", ids["line"], "open", U["b1"], U["core"], "2026-12-31", 2),
        ("receivable", ids["root"], "active", U["core"], U["s1"], MATURITY, 2),
        ("financing", ids["financing"], "requested", U["s2"], U["b2"], MATURITY, 3),
    ])
    with chain.store.engine.begin() as conn:
        conn.execute(text("DROP TABLE records"))  # as a database made before the index
    chain.store.close()

    reopened = Store(database_url)
    try:
        assert _rows(reopened) == rows
        again = Store(database_url)  # the table is there now: nothing is filled twice
        assert _rows(again) == rows
        again.close()
    finally:
        reopened.close()


@pytest.mark.parametrize(("prefix", "bounds"), [
    ("0123abcd", ("0123abcd", "0123abce")),
    ("0123abc9", ("0123abc9", "0123abca")),
    ("0123abff", ("0123abff", "0123ac")),
    ("ffffffff", ("ffffffff", None)),
])
def test_a_prefix_is_a_range_of_ids(prefix: str, bounds: tuple[str, str | None]) -> None:
    assert prefix_range(prefix) == bounds
    low, high = bounds
    for inside in (prefix + "0" * 56, prefix + "f" * 56):
        assert low <= inside and (high is None or inside < high)
