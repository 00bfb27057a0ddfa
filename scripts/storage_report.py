"""Storage report: bytes per table (with its indexes) and per transaction of a node database.

    python scripts/storage_report.py [--txs 20000] [--lanes 400] [--database URL] [--keep DIR]

Without --database, builds the realistic sample chain (scripts/sample_chain.py:
signed batches, two attesting nodes, every kind of transaction) of about
--txs transactions into a fresh SQLite file and reports on it.  With
--database, reports on that database, building the sample chain into it
first if it holds no blocks (a PostgreSQL URL works too).  SQLite sizes come
from the dbstat virtual table (pages in use, after a VACUUM of the copy
being measured); PostgreSQL's from pg_relation_size and
pg_indexes_size after a VACUUM FULL.  Prints one line per table: rows,
table bytes, index bytes, total and bytes per transaction.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Connection, Engine, inspect, text

from node.storage.store import make_engine
from scripts.sample_chain import build_sample_chain

Sizes = dict[str, tuple[int, int, int]]  # table -> (rows, table bytes, index bytes)


def sqlite_sizes(conn: Connection) -> Sizes:
    """Return each table's rows, table bytes and index bytes (dbstat pages in use)."""
    owner = {str(name): str(table) for name, table in conn.exec_driver_sql(
        "SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')")}
    sizes: dict[str, list[int]] = {}
    for name, size in conn.exec_driver_sql("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
        table = owner.get(str(name), str(name))
        entry = sizes.setdefault(table, [0, 0, 0])
        entry[1 if name == table else 2] += int(size)
    for table, entry in sizes.items():
        if table.startswith("sqlite_"):
            continue
        entry[0] = int(conn.exec_driver_sql(f'SELECT COUNT(*) FROM "{table}"').scalar() or 0)
    return {t: (e[0], e[1], e[2]) for t, e in sizes.items()}


def postgres_sizes(conn: Connection) -> Sizes:
    """Return each table's rows, table bytes (with TOAST) and index bytes."""
    sizes: Sizes = {}
    for table in inspect(conn).get_table_names():
        rows = int(conn.execute(text(f'SELECT COUNT(*) FROM "{table}"')).scalar() or 0)
        table_bytes, index_bytes = conn.execute(text(
            "SELECT pg_table_size(CAST(:t AS regclass)), pg_indexes_size(CAST(:t AS regclass))"),
            {"t": f'"{table}"'}).one()
        sizes[table] = (rows, int(table_bytes), int(index_bytes))
    return sizes


def measure(engine: Engine) -> Sizes:
    """Compact the database, then return its sizes per table."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("VACUUM")
            return sqlite_sizes(conn)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM FULL")
        return postgres_sizes(conn)


def print_report(sizes: Sizes, log_size: int, label: str) -> None:
    """Print the table of sizes, largest first, and the totals per transaction."""
    print(f"{label}: {log_size} transactions")
    print(f"{'table':<22}{'rows':>10}{'table B':>14}{'index B':>14}{'total B':>14}{'B/tx':>9}")
    total = 0
    for table, (rows, data, index) in sorted(sizes.items(), key=lambda i: -(i[1][1] + i[1][2])):
        both = data + index
        total += both
        print(f"{table:<22}{rows:>10}{data:>14}{index:>14}{both:>14}{both / log_size:>9.0f}")
    print(f"{'all':<22}{'':>10}{'':>14}{'':>14}{total:>14}{total / log_size:>9.0f}")


def log_size_of(engine: Engine) -> int:
    """Return the number of transactions in the log (0 for an empty database)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("transactions"):
            return 0
        return int(conn.exec_driver_sql("SELECT COUNT(*) FROM transactions").scalar() or 0)


def report(url: str, txs: int, lanes: int) -> None:
    """Build the sample chain into `url` if it is empty, then print its sizes."""
    engine = make_engine(url)
    try:
        if log_size_of(engine) == 0:
            built = build_sample_chain(url, transactions=txs, lanes=lanes)
            print(f"built {built.log_size} transactions in {built.seconds:.0f} s", file=sys.stderr)
        print_report(measure(engine), log_size_of(engine), engine.dialect.name)
    finally:
        engine.dispose()


def main() -> int:
    """Parse the arguments and print the report."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--txs", type=int, default=20_000, help="transactions to build")
    parser.add_argument("--lanes", type=int, default=400, help="credentials moving together")
    parser.add_argument("--database", help="report on (or build into) this database URL")
    parser.add_argument("--keep", type=Path, help="build the SQLite file in this folder")
    args = parser.parse_args()
    if args.database:
        report(args.database, args.txs, args.lanes)
        return 0
    with tempfile.TemporaryDirectory(prefix="storage-report-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        report(f"sqlite:///{folder / f'sample-{args.txs}.db'}", args.txs, args.lanes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
