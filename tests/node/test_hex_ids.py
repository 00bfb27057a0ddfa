"""Transaction, note and record ids are stored as their 32 bytes, and read as hex.

Half the bytes in each row and in every index over an id.  What the store
serves is unchanged; text that is not a lower-case hex id finds nothing (it
does not fail); an older database, with the ids as text, is converted once
when the node opens it, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine

from client.audit import audit_source
from node.storage.chain_lines import export_database
from node.storage.hex_ids import NOT_HEX, hex_of, hex_range, stored_id
from node.storage.store import Store
from scripts.sample_chain import build_sample_chain
from tests.client.audit.chain_lines import Lines

ID_COLUMNS = {"transactions": ("id",), "notes": ("id", "root_id", "parent_id"), "records": ("id",)}
hex_ids = st.binary(min_size=32, max_size=32).map(bytes.hex)


@given(hex_ids)
def test_an_id_is_stored_as_its_bytes_and_read_back_as_the_same_hex(tx_id: str) -> None:
    assert stored_id(tx_id) == bytes.fromhex(tx_id) and len(stored_id(tx_id)) == 32
    assert hex_of(stored_id(tx_id)) == tx_id


@given(st.text(max_size=70).filter(lambda t: t != t.lower() or not _is_hex(t)))
def test_text_that_is_not_a_lower_case_hex_id_is_bound_as_no_stored_id(text: str) -> None:
    bound = stored_id(text)
    assert bound.startswith(NOT_HEX) and len(bound) != 32


@given(hex_ids, st.text(alphabet="0123456789abcdef", max_size=64))
def test_a_prefix_range_holds_exactly_the_ids_that_start_with_the_prefix(
    tx_id: str, prefix: str,
) -> None:
    from node.storage.records_index import prefix_range

    low, high = hex_range(*prefix_range(prefix))
    inside = low <= stored_id(tx_id) and (high is None or stored_id(tx_id) < high)
    assert inside == tx_id.startswith(prefix)
    if prefix:  # and the id that begins so is found however the prefix is cut
        assert low <= stored_id(prefix + tx_id[len(prefix):])


def _is_hex(text: str) -> bool:
    return len(text) % 2 == 0 and all(c in "0123456789abcdef" for c in text)


def _served(store: Store) -> dict[str, Any]:
    """Return what the store answers about every transaction, note and record."""
    head = store.head_height() or 0
    txs = [t for h in range(head + 1) for t in store.block_txs(h)]
    notes = store.notes_where(limit=100_000)
    tx_id, note = txs[-1].id, notes[-1]
    return {
        "txs": [(t.id, t.log_index) for t in txs],
        "tx": store.tx(tx_id), "seen": store.seen_tx_ids([tx_id, "ab" * 32]),
        "parties": store.parties(tx_id),
        "notes": notes, "note": store.note(note.id),
        "by_root": store.notes_where(root_id=note.root_id),
        "prefixed": store.ids_with_prefix("note", note.id[:5], 10),
        "tx_prefixed": store.ids_with_prefix("tx", tx_id[:6], 10),
    }


def _stored_kinds(url: str) -> dict[str, set[Any]]:
    """Return, per id column, the (type, length) of its stored values (SQLite)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        kinds = {f"{t}.{c}": {tuple(r) for r in conn.exec_driver_sql(
            f"SELECT DISTINCT typeof({c}), length({c}) FROM {t} WHERE {c} IS NOT NULL")}
            for t, columns in ID_COLUMNS.items() for c in columns}
    engine.dispose()
    return kinds


def test_ids_are_stored_as_32_bytes_and_served_as_hex(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'n.db'}"
    build_sample_chain(url, transactions=60, lanes=6)
    assert all(kinds == {("blob", 32)} for kinds in _stored_kinds(url).values())
    store = Store(url)
    served = _served(store)
    assert served["tx"] is not None and len(served["tx"].id) == 64
    assert served["seen"] == {served["tx"].id}
    assert served["note"] == served["notes"][-1]
    assert served["prefixed"][0] == served["note"].id
    assert served["tx_prefixed"] == [served["tx"].id]
    upper, note = served["tx"].id.upper(), served["note"].id
    assert store.tx(upper) is None and store.seen_tx_ids([upper]) == set()
    assert store.note(note.upper()) is None and store.note("not an id") is None
    assert store.note(note[:-1]) is None and store.notes_where(root_id="zz") == []
    assert store.ids_with_prefix("note", "xyz", 10) == []
    assert store.ids_with_prefix("note", note[:5].upper(), 10) == []
    store.close()


def _as_text_ids(url: str) -> None:
    """Give the database the id columns older versions made: lower-case hex text."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        if url.startswith("postgresql"):
            for table, columns in ID_COLUMNS.items():
                for c in columns:
                    conn.exec_driver_sql(f"ALTER TABLE {table} ALTER COLUMN {c} TYPE VARCHAR "
                                         f"USING encode({c}, 'hex')")
            engine.dispose()
            return
        for table, columns in ID_COLUMNS.items():
            sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = ?",
                                       (table,)).scalar_one()
            indexes = list(conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                "AND sql IS NOT NULL", (table,)))
            conn.exec_driver_sql(f"ALTER TABLE {table} RENAME TO {table}_now")
            for name, _ in indexes:
                conn.exec_driver_sql(f"DROP INDEX {name}")
            for c in columns:
                sql = sql.replace(f"\t{c} BLOB", f"\t{c} VARCHAR")
            conn.exec_driver_sql(sql)
            for _, index in indexes:
                conn.exec_driver_sql(index)
            names = [r[1] for r in conn.exec_driver_sql(f"PRAGMA table_info({table}_now)")]
            values = ", ".join(f"lower(hex({n}))" if n in columns and n != "parent_id"
                               else f"CASE WHEN {n} IS NULL THEN NULL ELSE lower(hex({n})) END"
                               if n in columns else n for n in names)
            conn.exec_driver_sql(f"INSERT INTO {table} SELECT {values} FROM {table}_now")
            conn.exec_driver_sql(f"DROP TABLE {table}_now")
    engine.dispose()


def _audit_findings(url: str) -> list[str]:
    out = io.BytesIO()
    export_database(url, out)
    return [str(f) for f in audit_source(Lines(out.getvalue()), parallel=False).findings]


def _check_text_ids_converted(url: str, caplog: pytest.LogCaptureFixture) -> None:
    build_sample_chain(url, transactions=60, lanes=6)
    store = Store(url)
    before = _served(store)
    store.close()
    _as_text_ids(url)
    if url.startswith("sqlite"):
        assert _stored_kinds(url)["notes.root_id"] == {("text", 64)}
    with caplog.at_level(logging.WARNING, logger="node.storage"):
        store = Store(url)
    for table in ID_COLUMNS:
        assert f"storing the ids of the {table} table's" in caplog.text
    assert _served(store) == before
    store.close()
    if url.startswith("sqlite"):
        assert all(kinds == {("blob", 32)} for kinds in _stored_kinds(url).values())
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="node.storage"):
        Store(url).close()  # converted once
    assert "storing the ids" not in caplog.text
    assert _audit_findings(url) == []


def test_an_older_database_has_its_text_ids_stored_as_bytes_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    _check_text_ids_converted(f"sqlite:///{tmp_path / 'n.db'}", caplog)


@pytest.mark.postgres
def test_an_older_postgresql_database_has_its_text_ids_stored_as_bytes_once(
    fresh_postgres_url: str, caplog: pytest.LogCaptureFixture,
) -> None:
    _check_text_ids_converted(fresh_postgres_url, caplog)
