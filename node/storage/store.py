"""The node's database: one transaction per block, bulk writes, simple reads.

A block and everything it changes (transactions, nonces, state, note and
records indexes, parties, state digest) commit in a single database
transaction, so after a crash the node resumes at its last committed block
with nothing half-applied.  Hot writes use SQLAlchemy Core bulk statements
on the SQLModel tables; SQLite runs in WAL mode with full fsync, PostgreSQL
is reached through a database URL.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import Engine, Table, create_engine, delete, event, func, inspect, select
from sqlalchemy.pool import StaticPool
from sqlmodel import SQLModel

from ledger.batch_pack import pack_batch, unpack_batch
from ledger.blob_codec import pack, unpack
from ledger.compact_log import CompactLog
from ledger.derivation import parties_named
from node.config import DEFAULT_SQLITE_CACHE_MIB
from node.storage import state_digests
from node.storage.hex_ids import HEX, hex_of, hex_range, id_columns, store_ids_as_bytes, stored_id
from node.storage.models import (
    AttestationRow,
    BatchRow,
    BlockRow,
    LogSubtreeRow,
    NonceRow,
    NoteRow,
    PartyRow,
    PendingRow,
    RecordRow,
    StateRow,
    TxRow,
)
from node.storage.records_index import (
    RECORDS,
    RecordFilter,
    create_and_backfill,
    prefix_range,
    select_records,
)

log = logging.getLogger(__name__)
IN_CHUNK = 500
SQLITE_POOL_SIZE = 5  # connections kept open, each with its page cache (more are closed)
SQLITE_PAGE_BYTES = 8192  # for a new database (SQLite's default is 4096)
BLOCKS: Table = BlockRow.__table__  # type: ignore[attr-defined]
BATCHES: Table = BatchRow.__table__  # type: ignore[attr-defined]
TXS: Table = TxRow.__table__  # type: ignore[attr-defined]
NONCES: Table = NonceRow.__table__  # type: ignore[attr-defined]
STATE: Table = StateRow.__table__  # type: ignore[attr-defined]
NOTES: Table = NoteRow.__table__  # type: ignore[attr-defined]
PARTIES: Table = PartyRow.__table__  # type: ignore[attr-defined]
ATTESTATIONS: Table = AttestationRow.__table__  # type: ignore[attr-defined]
PENDING: Table = PendingRow.__table__  # type: ignore[attr-defined]
SUBTREES: Table = LogSubtreeRow.__table__  # type: ignore[attr-defined]
LEAF_PAGE = 65_536  # leaf hashes read at a time when a log's subtrees are filled in


@dataclass(frozen=True)
class StoredAttestation:
    """An attestation as kept: who signed which header hash at which height, and how."""

    height: int
    node_id: str
    header_hash: str
    signature: bytes
    note_signature: bytes | None = None
    state_signature: bytes | None = None


@dataclass(frozen=True)
class StoredTx:
    """A transaction as written with its block."""

    id: str
    position: int
    log_index: int
    contract: str
    action: str
    valid: bool
    code: str
    reason: str
    envelope: bytes
    leaf_hash: bytes
    events: bytes
    parties: frozenset[str]


@dataclass(frozen=True)
class BlockWrite:
    """Everything one block changes, ready to commit atomically."""

    height: int
    hash: str
    position: int
    time: str
    header: bytes
    txs: Sequence[StoredTx]
    state: dict[str, bytes | None]
    new_nonces: Sequence[tuple[str, str]] = field(default_factory=tuple)
    notes: Sequence[dict[str, Any]] = field(default_factory=tuple)
    records: Sequence[dict[str, Any]] = field(default_factory=tuple)  # records index rows
    records_removed: Sequence[str] = field(default_factory=tuple)  # ids leaving that index
    batch: bytes | None = None  # the ordered batch the block was made from (not for genesis)
    state_digest: tuple[bytes, bytes] | None = None  # (digest, running product) after the block
    subtrees: Sequence[tuple[int, int, bytes]] = field(default_factory=tuple)  # log subtrees


def make_engine(url: str, sqlite_cache_mib: int = DEFAULT_SQLITE_CACHE_MIB) -> Engine:
    """Create an engine for `url`; SQLite gets WAL, full sync, a busy timeout and its page cache.

    `sqlite_cache_mib` bounds each pooled connection's page cache: the node's
    memory grows until the caches it uses are full, then stays level.  The
    pool keeps SQLITE_POOL_SIZE connections; one opened beyond them, under
    a burst of reads, is closed with its cache when it is given back.
    """
    if url.startswith("sqlite"):
        memory = url in ("sqlite://", "sqlite:///:memory:")
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=StaticPool if memory else None,
            **({} if memory else {"pool_size": SQLITE_POOL_SIZE}),
        )
        event.listen(engine, "connect", partial(_sqlite_pragmas, cache_kib=sqlite_cache_mib * 1024))
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, cache_kib: int) -> None:
    cursor = dbapi_connection.cursor()
    # Before anything creates the file: rows of a few hundred bytes leave less of
    # each page unused, and fewer pages mean fewer page headers.  An existing
    # database keeps the page size it was made with.
    cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_BYTES}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    # Keys (tx ids, nonces, note ids) are random, so inserts touch pages all
    # over the indexes; a page cache far beyond the 2 MiB default keeps them hot.
    cursor.execute(f"PRAGMA cache_size=-{cache_kib}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def storable(value: str | None) -> bool:
    """Return whether a text value could be stored: None, or text without a NUL character.

    PostgreSQL text cannot hold NUL, and nothing the ledger stores ever has
    one (ids are hex, organisations USCCs, names identifiers), so a lookup
    by such a value finds nothing on either backend without asking the
    database, which would fail on PostgreSQL and answer on SQLite.
    """
    return value is None or "\x00" not in value


class Store:
    """Durable chain storage over one database.

    Lookups by text never send a NUL character to the database (`storable`):
    they find nothing, as on SQLite, instead of failing on PostgreSQL.
    """

    def __init__(self, url: str, *, sqlite_cache_mib: int = DEFAULT_SQLITE_CACHE_MIB) -> None:
        self.engine = make_engine(url, sqlite_cache_mib)
        indexed = inspect(self.engine).has_table(RECORDS.name)
        with_subtrees = inspect(self.engine).has_table(SUBTREES.name)
        SQLModel.metadata.create_all(
            self.engine, tables=[t for t in SQLModel.metadata.sorted_tables if t is not RECORDS])
        if not indexed:
            self._index_records()
        if not with_subtrees:
            self._store_log_subtrees()
        self._add_new_columns()
        self._pending_lock = threading.Lock()
        # SQLite has one writer at a time, and a connection that finds the
        # database locked polls it with sleeps of up to 100 ms.  The node's
        # own writers (a block's commit, a submission's record) queue on this
        # lock instead, and each starts the moment the other finishes.
        self._writing: AbstractContextManager[Any] = (
            threading.Lock() if self.engine.dialect.name == "sqlite" else nullcontext())
        with self.engine.connect() as conn:
            last = conn.execute(select(func.max(PENDING.c.seq))).scalar()
        self._pending_seq = 0 if last is None else int(last)

    def _add_new_columns(self) -> None:
        """Add nullable columns that tables created by older versions lack.

        `create_all` makes missing tables but never alters existing ones;
        the columns added since are `attestations.note_signature`,
        `attestations.state_signature` and `block_batches.refs` (whose old
        rows are then packed: `_pack_batches`).  Then the tables whose layout
        changed are rebuilt, each in one database transaction: the party
        index; on SQLite the state table (without a rowid) and the
        transactions table (keyed by log index).
        """
        for column in (ATTESTATIONS.c.note_signature, ATTESTATIONS.c.state_signature,
                       BATCHES.c.refs):
            present = {c["name"] for c in inspect(self.engine).get_columns(column.table.name)}
            if column.name in present:
                continue
            kind = column.type.compile(dialect=self.engine.dialect)
            with self.engine.begin() as conn:
                conn.exec_driver_sql(
                    f"ALTER TABLE {column.table.name} ADD COLUMN {column.name} {kind}")
        self._pack_batches()
        self._compact_parties()
        self._drop_index(PARTIES.name, "ix_tx_parties_log_index",
                         "the party index by log index (parties are read from the transaction)")
        store_ids_as_bytes(self.engine, [TXS, NOTES, RECORDS])
        self._rebuild_sqlite(STATE, "WITHOUT ROWID", "without a rowid (the key is the row)")
        self._rebuild_sqlite(TXS, "PRIMARY KEY (log_index)", "keyed by log index (the rowid)")

    def _compact_parties(self) -> None:
        """Rebuild an older database's party index without its tx id column, in one transaction."""
        present = {c["name"] for c in inspect(self.engine).get_columns(PARTIES.name)}
        if "tx_id" not in present:
            return
        with self.engine.begin() as conn:
            count = conn.execute(select(func.count()).select_from(PARTIES)).scalar()
            log.warning("rebuilding the party index of %s rows without transaction ids", count)
            conn.exec_driver_sql(f"ALTER TABLE {PARTIES.name} RENAME TO {PARTIES.name}_old")
            for index in inspect(conn).get_indexes(f"{PARTIES.name}_old"):
                conn.exec_driver_sql(f"DROP INDEX {index['name']}")
            PARTIES.create(conn)
            conn.exec_driver_sql(f"INSERT INTO {PARTIES.name} (uscc, log_index) "
                                 f"SELECT uscc, log_index FROM {PARTIES.name}_old")
            conn.exec_driver_sql(f"DROP TABLE {PARTIES.name}_old")
        log.warning("rebuilt the party index")

    def _drop_index(self, table: str, index: str, what: str) -> None:
        """Drop an index older versions made that nothing reads any more, in one transaction."""
        if index not in {i["name"] for i in inspect(self.engine).get_indexes(table)}:
            return
        with self.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP INDEX {index}")
        log.warning("dropped %s", what)

    def _rebuild_sqlite(self, table: Table, made_with: str, why: str) -> None:
        """Rebuild an older SQLite database's `table` in today's layout, in one transaction.

        A table whose CREATE statement holds `made_with` is already in it.
        PostgreSQL keeps its tables: neither a rowid nor the primary key's
        column changes the size of its rows or indexes.
        """
        if self.engine.dialect.name != "sqlite":
            return
        with self.engine.begin() as conn:
            sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' "
                                       f"AND name = '{table.name}'").scalar()
            if made_with in str(sql):
                return
            count = conn.execute(select(func.count()).select_from(table)).scalar()
            log.warning("rebuilding the %s table of %s rows %s", table.name, count, why)
            conn.exec_driver_sql(f"ALTER TABLE {table.name} RENAME TO {table.name}_old")
            for index in inspect(conn).get_indexes(f"{table.name}_old"):
                conn.exec_driver_sql(f"DROP INDEX {index['name']}")
            table.create(conn)
            columns = ", ".join(f'"{c.name}"' for c in table.columns)
            conn.exec_driver_sql(f"INSERT INTO {table.name} ({columns}) "
                                 f"SELECT {columns} FROM {table.name}_old")
            conn.exec_driver_sql(f"DROP TABLE {table.name}_old")
        log.warning("rebuilt the %s table", table.name)

    def _pack_batches(self) -> None:
        """Pack kept batches stored whole by older versions, all in one database transaction.

        Each batch loses the wires of the transactions its block stores
        (ledger/batch_pack.py); a crash leaves every row as it was, and
        the next start packs them again.
        """
        with self.engine.begin() as conn:
            heights = list(conn.execute(
                select(BATCHES.c.height).where(BATCHES.c.refs.is_(None))).scalars())
            if not heights:
                return
            log.warning("packing %d kept batches stored whole by an older version",
                        len(heights))
            before = after = 0
            for height in heights:
                data = conn.execute(select(BATCHES.c.data)
                                    .where(BATCHES.c.height == height)).scalar_one()
                envelopes = conn.execute(select(TXS.c.id, TXS.c.envelope)
                                         .where(TXS.c.height == height)
                                         .order_by(TXS.c.position)).all()
                skeleton, refs = pack_batch(bytes(data),
                                            [(i, unpack(bytes(e))) for i, e in envelopes])
                conn.execute(BATCHES.update().where(BATCHES.c.height == height)
                             .values(data=skeleton, refs=refs))
                before, after = before + len(data), after + len(skeleton) + len(refs)
            log.warning("packed %d kept batches: %d bytes became %d", len(heights), before,
                        after)

    def _index_records(self) -> None:
        """Create the records index and fill it from the state (new, or an older database)."""
        with self.engine.begin() as conn:
            create_and_backfill(conn, lambda rows: BulkWriter(conn).upsert(RECORDS, "id", rows))

    def _store_log_subtrees(self) -> None:
        """Fill the log's subtree table from the leaf hashes (an older database; once)."""
        log = CompactLog(self, 0)
        with self.engine.begin() as conn:
            stmt = select(TXS.c.leaf_hash).order_by(TXS.c.log_index)
            rows = conn.execute(stmt.execution_options(yield_per=LEAF_PAGE)).scalars()
            while page := [bytes(h) for h in itertools.islice(rows, LEAF_PAGE)]:
                extension = log.extension(page)
                BulkWriter(conn).insert(SUBTREES, _subtree_rows(extension.subtrees))
                log.adopt(extension)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    # -- writes -------------------------------------------------------------

    def commit_block(self, block: BlockWrite) -> None:
        """Write one block and all its effects in a single database transaction.

        The block's transactions leave the pending table in that same
        transaction (those this node had accepted and recorded).  Blobs are
        packed before the writer's lock is taken, so submissions recording
        their envelopes meanwhile do not wait for the packing.
        """
        tx_rows = [_tx_row(block.height, tx) for tx in block.txs]
        state_rows = _state_rows(block.height, block.state)
        batch_rows = [] if block.batch is None else [dict(zip(
            ("height", "data", "refs"),
            (block.height, *pack_batch(block.batch, [(tx.id, tx.envelope) for tx in block.txs])),
            strict=True))]
        with self._writing, self.engine.begin() as conn:
            writer = BulkWriter(conn)
            writer.insert(BLOCKS, [{
                "height": block.height, "hash": block.hash, "position": block.position,
                "time": block.time, "tx_count": len(block.txs), "header": block.header,
            }])
            writer.insert(BATCHES, batch_rows)
            writer.insert(TXS, tx_rows)
            writer.insert(NONCES, [{"signer": s, "nonce": n} for s, n in block.new_nonces])
            writer.insert(PARTIES, [
                {"uscc": p, "log_index": tx.log_index}
                for tx in block.txs for p in sorted(tx.parties)
            ])
            writer.delete(STATE, "key", sorted(k for k, v in block.state.items() if v is None))
            writer.upsert(STATE, "key", state_rows)
            self._upsert_notes(writer, block.notes)
            writer.upsert(RECORDS, "id", list(block.records))
            writer.delete(RECORDS, "id", list(block.records_removed))
            writer.delete(PENDING, "tx_id", [tx.id for tx in block.txs])
            if block.state_digest is not None:
                state_digests.record(conn, block.height, *block.state_digest)
            writer.insert(SUBTREES, _subtree_rows(block.subtrees))

    def add_pending(self, envelopes: Sequence[tuple[str, bytes]]) -> None:
        """Record accepted envelopes (tx id, canonical wire bytes) in one database transaction.

        Called before the node acknowledges them, so an acknowledged
        transaction survives a crash of the node; `commit_block` deletes
        each one with the block that holds it.  Raises SQLAlchemyError if
        the database cannot record them (then nothing is recorded).
        """
        if not envelopes:
            return
        with self._pending_lock, self._writing, self.engine.begin() as conn:
            first = self._pending_seq + 1
            BulkWriter(conn).upsert(PENDING, "tx_id", [
                {"tx_id": tx_id, "seq": first + i, "envelope": data}
                for i, (tx_id, data) in enumerate(envelopes)])
            self._pending_seq = first + len(envelopes) - 1

    def pending_envelopes(self) -> dict[str, bytes]:
        """Return the recorded pending envelopes, tx id -> wire bytes, in acceptance order."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(PENDING.c.tx_id, PENDING.c.envelope)
                                .order_by(PENDING.c.seq)).all()
        return {str(tx_id): bytes(data) for tx_id, data in rows}

    def delete_pending(self, tx_ids: Iterable[str]) -> None:
        """Forget recorded pending envelopes (already committed ones found at start-up)."""
        ids = sorted(tx_ids)
        if ids:
            with self._writing, self.engine.begin() as conn:
                BulkWriter(conn).delete(PENDING, "tx_id", ids)

    @staticmethod
    def _upsert_notes(writer: BulkWriter, notes: Sequence[dict[str, Any]]) -> None:
        writer.upsert(NOTES, "id", list(notes))

    # -- reads ----------------------------------------------------------------

    def head_height(self) -> int | None:
        """Return the height of the last committed block, or None for an empty chain."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.max(BLOCKS.c.height))).scalar()

    def add_attestations(self, rows: Sequence[StoredAttestation]) -> None:
        """Keep attestations; the first one kept per (height, node) stays, repeats are ignored."""
        if not rows:
            return
        with self.engine.begin() as conn:
            known = {(h, n) for h, n in conn.execute(
                select(ATTESTATIONS.c.height, ATTESTATIONS.c.node_id).where(
                    ATTESTATIONS.c.height.in_(sorted({r.height for r in rows}))))}
            fresh = {(r.height, r.node_id): r for r in rows
                     if (r.height, r.node_id) not in known}
            if fresh:
                conn.execute(ATTESTATIONS.insert(), [
                    {"height": r.height, "node_id": r.node_id, "header_hash": r.header_hash,
                     "signature": r.signature, "note_signature": r.note_signature,
                     "state_signature": r.state_signature}
                    for r in fresh.values()])

    def attestations(self, start: int, end: int) -> list[StoredAttestation]:
        """Return the attestations for heights start..end inclusive, by height and node."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(ATTESTATIONS.c.height, ATTESTATIONS.c.node_id,
                       ATTESTATIONS.c.header_hash, ATTESTATIONS.c.signature,
                       ATTESTATIONS.c.note_signature, ATTESTATIONS.c.state_signature)
                .where(ATTESTATIONS.c.height >= start, ATTESTATIONS.c.height <= end)
                .order_by(ATTESTATIONS.c.height, ATTESTATIONS.c.node_id)).all()
        return [StoredAttestation(int(h), str(n), str(x), bytes(s),
                                  None if ns is None else bytes(ns),
                                  None if ss is None else bytes(ss))
                for h, n, x, s, ns, ss in rows]

    def last_attested_heights(self) -> dict[str, int]:
        """Return the highest height each node has a kept attestation for."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(ATTESTATIONS.c.node_id, func.max(ATTESTATIONS.c.height))
                .group_by(ATTESTATIONS.c.node_id)).all()
        return {str(node): int(height) for node, height in rows}

    def block_header(self, height: int) -> bytes | None:
        """Return the canonical header bytes of block `height`, or None."""
        with self.engine.connect() as conn:
            stmt = select(BLOCKS.c.header).where(BLOCKS.c.height == height)
            return conn.execute(stmt).scalar()

    def block_batch(self, height: int) -> bytes | None:
        """Return the ordered batch block `height` was made from, or None if none is kept.

        Rebuilt byte for byte from the packed row and the block's stored
        envelopes (ledger/batch_pack.py); raises UnpackError if the stored
        rows no longer fit together.
        """
        with self.engine.connect() as conn:
            row = conn.execute(select(BATCHES.c.data, BATCHES.c.refs)
                               .where(BATCHES.c.height == height)).first()
            if row is None:
                return None
            data, refs = bytes(row[0]), row[1]
            if refs is None:
                return data
            envelopes = {str(i): unpack(bytes(e)) for i, e in conn.execute(
                select(TXS.c.id, TXS.c.envelope).where(TXS.c.height == height))}
        return unpack_batch(data, bytes(refs), envelopes.get)

    def headers(self, start: int, limit: int) -> list[bytes]:
        """Return up to `limit` header bytes from height `start` upward."""
        with self.engine.connect() as conn:
            stmt = (
                select(BLOCKS.c.header).where(BLOCKS.c.height >= start)
                .order_by(BLOCKS.c.height).limit(limit)
            )
            return list(conn.execute(stmt).scalars())

    def block_txs(self, height: int) -> list[TxRow]:
        """Return the transactions of block `height` in block order."""
        return self._txs(select(TXS).where(TXS.c.height == height).order_by(TXS.c.position))

    def tx(self, tx_id: str) -> TxRow | None:
        """Return the committed transaction `tx_id`, or None."""
        if not storable(tx_id):
            return None
        rows = self._txs(select(TXS).where(TXS.c.id == tx_id))
        return rows[0] if rows else None

    def tx_at_log_index(self, index: int) -> TxRow | None:
        """Return the transaction at position `index` of the global log, or None."""
        rows = self._txs(select(TXS).where(TXS.c.log_index == index))
        return rows[0] if rows else None

    def txs_range(self, start_height: int, end_height: int) -> list[TxRow]:
        """Return transactions of blocks start..end (inclusive) in log order."""
        stmt = (
            select(TXS).where(TXS.c.height >= start_height, TXS.c.height <= end_height)
            .order_by(TXS.c.log_index)
        )
        return self._txs(stmt)

    def _txs(self, stmt: Any) -> list[TxRow]:
        with self.engine.connect() as conn:
            return [TxRow(**{**row._mapping, "envelope": unpack(bytes(row.envelope)),
                             "events": unpack(bytes(row.events))})
                    for row in conn.execute(stmt)]

    def log_size(self) -> int:
        """Return the number of transactions in the global log."""
        with self.engine.connect() as conn:
            last = conn.execute(select(func.max(TXS.c.log_index))).scalar()
        return 0 if last is None else int(last) + 1

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        """Return the log's leaf hashes at indexes start..end-1 in order (ledger.compact_log)."""
        with self.engine.connect() as conn:
            stmt = (select(TXS.c.leaf_hash)
                    .where(TXS.c.log_index >= start, TXS.c.log_index < end)
                    .order_by(TXS.c.log_index))
            return [bytes(h) for h in conn.execute(stmt).scalars()]

    def subtree_hash(self, level: int, index: int) -> bytes | None:
        """Return the stored hash of the log's perfect subtree `index` of 2**level leaves."""
        with self.engine.connect() as conn:
            stmt = select(SUBTREES.c.hash).where(SUBTREES.c.level == level,
                                                  SUBTREES.c.idx == index)
            value = conn.execute(stmt).scalar()
        return None if value is None else bytes(value)

    def state_items(self) -> Iterator[tuple[str, bytes, int]]:
        """Yield every world-state entry with its height (a whole copy: for tests and tools)."""
        with self.engine.connect() as conn:
            stmt = select(STATE.c.key, STATE.c.value, STATE.c.height).execution_options(
                yield_per=10_000)
            for key, value, height in conn.execute(stmt):
                yield key, unpack(bytes(value)), int(height)

    def state_entry(self, key: str) -> tuple[bytes, int] | None:
        """Return (value, height of its last write) of world-state `key`, or None.

        Straight through the driver: the node's state cache asks this on
        every miss, and compiling a statement each time would cost more
        than the lookup.
        """
        if not storable(key):
            return None
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        with self.engine.connect() as conn:
            row = conn.exec_driver_sql(
                f"SELECT value, height FROM state WHERE key = {mark}", (key,)).first()
        return None if row is None else (unpack(bytes(row[0])), int(row[1]))

    def state_keys_with_prefix(self, prefix: str) -> list[str]:
        """Return the world-state keys starting with `prefix`, sorted (a range scan)."""
        if not storable(prefix):
            return []
        stmt = select(STATE.c.key)
        if self.engine.dialect.name == "sqlite":  # binary collation: a range scan of the key
            stmt = stmt.where(STATE.c.key >= prefix, STATE.c.key < prefix + "\U0010ffff")
        else:  # a collation may order "/" anywhere: LIKE says exactly what starts with prefix
            stmt = stmt.where(STATE.c.key.startswith(prefix, autoescape=True))
        with self.engine.connect() as conn:
            keys = [str(k) for k in conn.execute(stmt).scalars()]
        return sorted(k for k in keys if k.startswith(prefix))

    def seen_tx_ids(self, tx_ids: Iterable[str]) -> set[str]:
        """Return which of `tx_ids` are already committed."""
        return {hex_of(row[0]) for row in self._lookup(
            "SELECT id FROM transactions WHERE id IN ({})",
            [(stored_id(i),) for i in tx_ids if storable(i)])}

    def used_nonces(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Return which (signer, nonce) pairs are already used.

        One query per signer with `signer = ? AND nonce IN (...)`: SQLite
        answers a row-value `(signer, nonce) IN (VALUES ...)` by scanning the
        whole table, which would make every submission slower as the chain grows.
        """
        by_signer: dict[str, list[tuple[str, ...]]] = {}
        for signer, nonce in pairs:
            if storable(signer) and storable(nonce):
                by_signer.setdefault(signer, []).append((nonce,))
        used: set[tuple[str, str]] = set()
        for signer, nonces in by_signer.items():
            rows = self._lookup("SELECT nonce FROM nonces WHERE signer = {mark} AND nonce IN ({})",
                                nonces, fixed=(signer,))
            used.update((signer, row[0]) for row in rows)
        return used

    def _lookup(self, template: str, keys: Sequence[tuple[str | bytes, ...]],
                fixed: tuple[str, ...] = ()) -> list[Any]:
        """Run a hot membership query straight through the driver, in chunks.

        `template` has one {} for the list of keys and optionally {mark}
        placeholders, bound to `fixed` ahead of the keys.  SQLAlchemy's
        compiler is bypassed because compiling a fresh IN list per block
        costs more than the query.
        """
        rows: list[Any] = []
        if not keys:
            return rows
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        width = len(keys[0])
        one = mark if width == 1 else f"({', '.join([mark] * width)})"
        with self.engine.connect() as conn:
            for chunk in _chunks(list(keys)):
                sql = template.replace("{mark}", mark).format(", ".join([one] * len(chunk)))
                flat = fixed + tuple(v for key in chunk for v in key)
                rows.extend(conn.exec_driver_sql(sql, flat).fetchall())
        return rows

    def note(self, note_id: str) -> NoteRow | None:
        """Return the note index row `note_id`, or None."""
        if not storable(note_id):
            return None
        rows = self._notes(select(NOTES).where(NOTES.c.id == note_id))
        return rows[0] if rows else None

    def notes_where(
        self, *, holder: str | None = None, issuer: str | None = None,
        root_id: str | None = None, status: str | None = None,
        maturity_from: str | None = None, maturity_to: str | None = None, limit: int = 1000,
    ) -> list[NoteRow]:
        """Return notes matching every given filter, oldest first (maturity bounds inclusive)."""
        if not all(storable(v) for v in (holder, issuer, root_id, status, maturity_from,
                                         maturity_to)):
            return []
        stmt = select(NOTES)
        for column, value in ((NOTES.c.holder, holder), (NOTES.c.issuer, issuer),
                              (NOTES.c.root_id, root_id), (NOTES.c.status, status)):
            if value is not None:
                stmt = stmt.where(column == value)
        if maturity_from is not None:
            stmt = stmt.where(NOTES.c.maturity_date >= maturity_from)
        if maturity_to is not None:
            stmt = stmt.where(NOTES.c.maturity_date <= maturity_to)
        return self._notes(stmt.order_by(NOTES.c.height, NOTES.c.id).limit(limit))

    def _notes(self, stmt: Any) -> list[NoteRow]:
        with self.engine.connect() as conn:
            return [NoteRow(**row._mapping) for row in conn.execute(stmt)]

    def records_where(self, flt: RecordFilter) -> list[RecordRow]:
        """Return the records index rows `flt` names, by date (undated last), then id."""
        if not all(storable(v) for v in flt.texts()):
            return []
        with self.engine.connect() as conn:
            return [RecordRow(**row._mapping) for row in conn.execute(select_records(flt))]

    def ids_with_prefix(self, kind: str, prefix: str, limit: int) -> list[str]:
        """Return up to `limit` ids of `kind` starting with the lower-case hex `prefix`, in order.

        `kind` is note, tx, or an indexed record kind (receivable, financing,
        credit_line).  A range scan of the primary key, never a LIKE.
        """
        if not storable(prefix):
            return []
        if not HEX.fullmatch(prefix + "0" * (len(prefix) % 2)):
            return []  # no id starts so
        column = {"note": NOTES.c.id, "tx": TXS.c.id}.get(kind, RECORDS.c.id)
        low, high = hex_range(*prefix_range(prefix))
        stmt = select(column).where(column >= low)
        if high is not None:
            stmt = stmt.where(column < high)
        if column is RECORDS.c.id:
            stmt = stmt.where(RECORDS.c.kind == kind)
        with self.engine.connect() as conn:
            return [str(i) for i in conn.execute(stmt.order_by(column).limit(limit)).scalars()]

    def parties(self, tx_id: str) -> set[str]:
        """Return the organisations party to transaction `tx_id` (none if it is not committed).

        Read from its row by the rule that wrote its party rows
        (ledger.derivation.parties_named: its signers and its events'
        parties), so the party index needs no index by log index.  An
        archived transaction (restored from a snapshot: no envelope) has
        only its party rows, found by a scan of the party index: rare.
        """
        if not storable(tx_id):
            return set()
        with self.engine.connect() as conn:
            row = conn.execute(select(TXS.c.envelope, TXS.c.events, TXS.c.log_index)
                               .where(TXS.c.id == tx_id)).first()
            if row is not None and not row[0]:
                return set(conn.execute(select(PARTIES.c.uscc)
                                        .where(PARTIES.c.log_index == row[2])).scalars())
        if row is None:
            return set()
        body = orjson.loads(orjson.loads(unpack(bytes(row[0])))["body"])
        signers = body.get("signers", ()) if isinstance(body, dict) else ()
        return set(parties_named(signers, orjson.loads(unpack(bytes(row[1])))))

    def txs_for_party(self, uscc: str, after_log_index: int, limit: int) -> list[TxRow]:
        """Return, in log order, transactions after `after_log_index` that `uscc` is party to."""
        if not storable(uscc):
            return []
        stmt = (
            select(TXS).join(PARTIES, PARTIES.c.log_index == TXS.c.log_index)
            .where(PARTIES.c.uscc == uscc, PARTIES.c.log_index > after_log_index)
            .order_by(PARTIES.c.log_index).limit(limit)
        )
        return self._txs(stmt)


class BulkWriter:
    """Bulk inserts, upserts and deletes inside one open transaction.

    On SQLite it hands the rows straight to the driver's executemany (the
    fastest path by several times); elsewhere it uses SQLAlchemy Core, with
    PostgreSQL's ON CONFLICT for upserts.
    """

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"

    def insert(self, table: Table, rows: list[dict[str, Any]], *, upsert_key: str = "") -> None:
        """Insert `rows` (dicts with every column); with `upsert_key`, update on a key clash.

        The SQLite upsert updates the row in place, so only the indexes whose
        columns changed are touched (REPLACE would delete and re-insert every
        index entry).
        """
        if not rows:
            return
        if self.sqlite:
            columns = list(rows[0])
            sql = _insert_sql(table, columns)
            if upsert_key:
                updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != upsert_key)
                sql += f" ON CONFLICT ({upsert_key}) DO UPDATE SET {updates}"
            self.conn.connection.driver_connection.executemany(sql, _cells(table, columns, rows))
            return
        self.conn.execute(table.insert(), rows)

    def insert_cells(self, table: Table, columns: Sequence[str], cells: list[Any]) -> None:
        """Insert rows given as sequences of cells in `columns` order, ids already as stored."""
        if not cells:
            return
        if self.sqlite:
            self.conn.connection.driver_connection.executemany(_insert_sql(table, columns),
                                                               cells)
            return
        self.conn.execute(table.insert(), [dict(zip(columns, row, strict=True)) for row in cells])

    def upsert(self, table: Table, key: str, rows: list[dict[str, Any]]) -> None:
        """Insert `rows`, replacing any row with the same `key`."""
        if not rows or self.sqlite:
            self.insert(table, rows, upsert_key=key)
            return
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement = pg_insert(table)
        updates = {c: statement.excluded[c] for c in rows[0] if c != key}
        self.conn.execute(statement.on_conflict_do_update(index_elements=[key], set_=updates),
                          rows)

    def delete(self, table: Table, key: str, values: list[Any]) -> None:
        """Delete the rows whose `key` is one of `values` (on SQLite, one key lookup each)."""
        if not values:
            return
        if self.sqlite:
            convert = stored_id if key in id_columns(table) else None
            self.conn.connection.driver_connection.executemany(
                f"DELETE FROM {table.name} WHERE {key} = ?",
                [(v if convert is None else convert(v),) for v in values])
            return
        for chunk in _chunks(values):
            self.conn.execute(delete(table).where(table.c[key].in_(chunk)))


def _insert_sql(table: Table, columns: Sequence[str]) -> str:
    return (f"INSERT INTO {table.name} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})")


def _cells(table: Table, columns: list[str], rows: list[dict[str, Any]]) -> list[Any]:
    """Return `rows` as sequences of cells in `columns` order, ids as the bytes stored.

    The raw path skips the HexId column type, so the id columns are
    converted here (bytes pass as they are).
    """
    ids = [i for i, c in enumerate(columns) if c in id_columns(table)]
    if len(columns) == 1 and not ids:
        return [(row[columns[0]],) for row in rows]
    values = itemgetter(*columns)
    if not ids:
        return [values(row) for row in rows]
    cells = [[row[c] for c in columns] for row in rows]
    for row in cells:
        for i in ids:
            if row[i] is not None:
                row[i] = stored_id(row[i])
    return cells


def _tx_row(height: int, tx: StoredTx) -> dict[str, Any]:
    return {
        "id": tx.id, "height": height, "position": tx.position, "log_index": tx.log_index,
        "contract": tx.contract, "action": tx.action, "valid": tx.valid, "code": tx.code,
        "reason": tx.reason, "envelope": pack(tx.envelope), "leaf_hash": tx.leaf_hash,
        "events": pack(tx.events),
    }


def _state_rows(height: int, writes: dict[str, bytes | None]) -> list[dict[str, Any]]:
    """Return the state rows a block writes, in key order, values packed (deletions left out)."""
    return [{"key": k, "height": height, "value": pack(v)} for k in sorted(writes)
            if (v := writes[k])]


def _subtree_rows(subtrees: Sequence[tuple[int, int, bytes]]) -> list[dict[str, Any]]:
    return [{"level": level, "idx": index, "hash": value} for level, index, value in subtrees]


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), IN_CHUNK):
        yield items[start : start + IN_CHUNK]
