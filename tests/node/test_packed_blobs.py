"""Envelopes, events and state values are stored packed (ledger/blob_codec.py), served exact.

The database holds the packed cells; the store and the chain file give the
exact canonical bytes, so the audit reads a file like any before.  A database
whose rows an older version wrote unpacked opens and audits as it is, rows of
both forms side by side; a damaged packed cell reaches the audit as stored
and is found at its transaction.
"""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest
from sqlalchemy import create_engine

from client.audit import audit_source
from ledger.blob_codec import is_packed, pack, unpack
from node.storage.chain_lines import export_database
from node.storage.hex_ids import hex_of, stored_id
from node.storage.store import Store
from scripts.sample_chain import build_sample_chain
from tests.client.audit.chain_lines import Lines

BLOBS = (("transactions", "id", "envelope"), ("transactions", "id", "events"),
         ("state", "key", "value"))


def _cells(url: str, table: str, key: str, column: str) -> dict[str, bytes]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f"SELECT {key}, {column} FROM {table}").all()
    engine.dispose()
    return {k if isinstance(k, str) else hex_of(k): bytes(v) for k, v in rows}


def _served(store: Store) -> dict[str, dict[str, bytes]]:
    """Return what the store serves: each transaction's envelope and events, each state value."""
    head = store.head_height() or 0
    txs = [t for h in range(head + 1) for t in store.block_txs(h)]
    return {"envelope": {t.id: bytes(t.envelope) for t in txs},
            "events": {t.id: bytes(t.events) for t in txs},
            "value": {k: v for k, v, _ in store.state_items()}}


def _audit(url: str) -> list[str]:
    out = io.BytesIO()
    export_database(url, out)
    return [str(f) for f in audit_source(Lines(out.getvalue()), parallel=False).findings]


def _unpack_older_cells(url: str, below: int) -> None:
    """Rewrite the rows of blocks under `below` as an older version left them: unpacked."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    mark = "%s" if url.startswith("postgresql") else "?"
    with engine.begin() as conn:
        for table, key, column in BLOBS:
            rows = conn.exec_driver_sql(
                f"SELECT {key}, {column} FROM {table} WHERE height < {below}").all()
            conn.exec_driver_sql(f"UPDATE {table} SET {column} = {mark} WHERE {key} = {mark}",
                                 [(unpack(bytes(v)), k) for k, v in rows])
    engine.dispose()


def test_blobs_are_stored_packed_and_served_and_exported_exact(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'n.db'}"
    build_sample_chain(url, transactions=60, lanes=6)
    store = Store(url)
    served = _served(store)
    store.close()
    for table, key, column in BLOBS:
        cells = _cells(url, table, key, column)
        assert {k: unpack(v) for k, v in cells.items()} == served[column]
        packed = [k for k, v in cells.items() if is_packed(v)]
        assert len(packed) > 0.9 * len(cells), (table, column, len(packed), len(cells))
        assert sum(map(len, cells.values())) < 0.6 * sum(map(len, served[column].values()))
    for envelope in served["envelope"].values():
        orjson.loads(envelope)
    assert not _audit(url)


def _check_older(url: str) -> None:
    build_sample_chain(url, transactions=60, lanes=6)
    store = Store(url)
    served, head = _served(store), store.head_height() or 0
    store.close()
    _unpack_older_cells(url, head // 2)
    for table, key, column in BLOBS:  # rows of both forms side by side
        cells = _cells(url, table, key, column).values()
        assert any(is_packed(v) for v in cells) and any(not is_packed(v) for v in cells)
    store = Store(url)
    assert _served(store) == served
    store.close()
    assert not _audit(url)


def test_an_older_database_with_unpacked_rows_reads_and_audits_as_it_is(tmp_path: Path) -> None:
    _check_older(f"sqlite:///{tmp_path / 'old.db'}")


@pytest.mark.postgres
def test_an_older_postgres_database_with_unpacked_rows_reads_and_audits(
    fresh_postgres_url: str,
) -> None:
    _check_older(fresh_postgres_url)


def test_a_damaged_packed_cell_is_found_at_its_transaction(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'n.db'}"
    build_sample_chain(url, transactions=60, lanes=6)
    tx_id, cell = max(_cells(url, "transactions", "id", "events").items(),
                      key=lambda item: len(item[1]))
    assert is_packed(cell)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE transactions SET events = ? WHERE id = ?",
                             (cell[:-2], stored_id(tx_id)))
    engine.dispose()
    findings = _audit(url)
    assert findings and tx_id in findings[0], findings[:3]
    assert pack(b"") == b""
