"""Ids stored as bytes: a transaction's, a note's and an indexed record's id.

Every id the ledger makes is a SHA-256 in lower-case hex: 64 characters as
text, 32 bytes as what they encode.  Stored as bytes, each row and every
index over an id (the transactions' unique id, the notes' key and root, the
records' key) holds half as much: ~180 bytes per transaction of issue 17's
1.5 KB budget.  The code above the store still sees hex text: `HexId`
converts at the column, and the raw paths (SQLite's executemany, the
export, the snapshot) call `stored_id` and `hex_of` themselves.

Text that is not lower-case hex (an id a client typed) is bound as bytes no
stored id can equal, so a lookup by it finds nothing instead of failing.
Databases made before, with the ids as text, are converted once at start
(`store_ids_as_bytes`), each table in one database transaction.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from sqlalchemy import Engine, LargeBinary, Table, func, inspect, select
from sqlalchemy.types import String, TypeDecorator

log = logging.getLogger(__name__)
HEX = re.compile(r"(?:[0-9a-f]{2})*")
ID_BYTES = 32  # a SHA-256
NOT_HEX = b"\x00not hex:"  # then the text of a would-be id: no stored id is so made


class HexId(TypeDecorator[str]):
    """A lower-case hex id in Python, its bytes in the database (BLOB, or bytea)."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> bytes | None:
        """Return the bytes `value` is stored (or looked up) as."""
        return None if value is None else stored_id(value)

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        """Return the hex text of stored bytes."""
        return None if value is None else hex_of(value)


def stored_id(value: str | bytes) -> bytes:
    """Return the bytes hex id `value` is stored as (bytes pass as they are).

    Text that is not lower-case hex of whole bytes becomes NOT_HEX and its
    UTF-8, never 32 bytes long (one more byte if it would be), so it equals
    no id the ledger stores: those are all SHA-256s, 32 bytes.
    """
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = None
    if raw is not None and raw.hex() == value:  # lower-case, no spaces: as the ledger writes
        return raw
    bound = NOT_HEX + value.encode("utf-8", "surrogatepass")
    return bound + b"\x00" if len(bound) == ID_BYTES else bound


def hex_of(value: bytes | bytearray | memoryview | str) -> str:
    """Return the hex text of a stored id (a value still stored as text, as it is)."""
    return value if isinstance(value, str) else bytes(value).hex()


def hex_range(low: str, high: str | None) -> tuple[bytes, bytes | None]:
    """Return the byte bounds of the ids from hex `low` to before hex `high`.

    An odd-length bound ends in half a byte: "abc" is the ids from ab c0.
    """
    def padded(text: str) -> bytes:
        return bytes.fromhex(text + "0" * (len(text) % 2))

    return padded(low), None if high is None else padded(high)


def id_columns(table: Table) -> list[str]:
    """Return the names of `table`'s columns that hold ids as bytes."""
    return [c.name for c in table.columns if isinstance(c.type, HexId)]


# -- converting an older database ----------------------------------------------------------


def store_ids_as_bytes(engine: Engine, tables: list[Table]) -> None:
    """Convert `tables` whose id columns an older version made as text, each in one transaction.

    SQLite rebuilds the table (its columns' types cannot be altered);
    PostgreSQL alters the columns in place.  A stored value that is not
    hex is kept as `stored_id` keeps it, for the audit to find.
    """
    for table in tables:
        kinds = {c["name"]: c["type"] for c in inspect(engine).get_columns(table.name)}
        text = [name for name in id_columns(table) if isinstance(kinds.get(name), String)]
        if not text:
            continue
        with engine.begin() as conn:
            count = conn.execute(select(func.count()).select_from(table)).scalar()
            log.warning("storing the ids of the %s table's %s rows as bytes", table.name, count)
            if engine.dialect.name == "sqlite":
                _rebuild_sqlite(conn, table)
            else:
                for name in text:
                    conn.exec_driver_sql(
                        f'ALTER TABLE {table.name} ALTER COLUMN "{name}" TYPE bytea USING '
                        f"CASE WHEN \"{name}\" ~ '^([0-9a-f]{{2}})*$' "
                        f"THEN decode(\"{name}\", 'hex') ELSE '\\x{NOT_HEX.hex()}'::bytea "
                        f"|| convert_to(\"{name}\", 'UTF8') END")
        log.warning("stored the ids of the %s table as bytes", table.name)


def _rebuild_sqlite(conn: Any, table: Table) -> None:
    """Rebuild `table` in today's layout, its id columns' text converted to bytes."""
    conn.connection.driver_connection.create_function(
        "ledger_stored_id", 1, lambda v: None if v is None else stored_id(v), deterministic=True)
    conn.exec_driver_sql(f"ALTER TABLE {table.name} RENAME TO {table.name}_old")
    for index in inspect(conn).get_indexes(f"{table.name}_old"):
        conn.exec_driver_sql(f"DROP INDEX {index['name']}")
    table.create(conn)
    ids = set(id_columns(table))
    columns = ", ".join(f'"{c.name}"' for c in table.columns)
    values = ", ".join(f'ledger_stored_id("{c.name}")' if c.name in ids else f'"{c.name}"'
                       for c in table.columns)
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({columns}) "
                         f"SELECT {values} FROM {table.name}_old")
    conn.exec_driver_sql(f"DROP TABLE {table.name}_old")
