"""Taking a snapshot: the state at the node's final head, with what makes it checkable.

Everything is read in ONE read transaction (SQLite: an explicit BEGIN, so
every SELECT sees the same database; PostgreSQL: REPEATABLE READ), so the
state rows are exactly those after the head block read in it.  The state
table holds only the head's state, so the snapshot height is the head at
that moment, and it is taken only if that head is final with a quorum's
state note: a head not yet cosigned is `NotFinal`, and `take_snapshot`
tries again in a new transaction until `wait_s` runs out.  What is written
is docs/FORMATS.md, "The snapshot file" (ledger/snapshot.py checks it).
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError

from ledger.attestation import NODE_PREFIX, Attestation, NodeInfo, check_certificate
from ledger.blob_codec import unpack
from ledger.block import BlockHeader
from ledger.canonical import parse_json
from ledger.errors import LedgerError
from ledger.signed_note import NoteSignature, key_id
from ledger.snapshot import PAGE_ROWS, SECTIONS, SnapshotHead
from ledger.state_note import SignedStateNote, StateNote, check_state_cosigned
from node.storage.hex_ids import hex_of
from node.storage.store import StoredAttestation

RETRY_S = 0.5
_QUERIES = {
    "headers": "SELECT header FROM blocks ORDER BY height",
    "txs": "SELECT log_index, height, position, id, leaf_hash FROM transactions "
           "ORDER BY log_index",
    "parties": "SELECT uscc, log_index FROM tx_parties ORDER BY log_index, uscc",
    "nonces": "SELECT signer, nonce FROM nonces ORDER BY signer, nonce",
    "state": "SELECT key, height, value FROM state ORDER BY key",
    "attestations": "SELECT height, node_id, header_hash, signature, note_signature, "
                    "state_signature FROM attestations ORDER BY height, node_id",
}


class NotFinal(LedgerError):
    """Raised when the head is not (yet) final with a quorum-cosigned state note."""

    code = "not_final"


def snapshot_engine(url: str) -> Engine:
    """Return an engine whose transactions are consistent snapshots for reading."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _no_implicit_transactions(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # the driver's own BEGINs are off

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN")  # one read transaction: one view of the database

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url).execution_options(isolation_level="REPEATABLE READ")


def take_snapshot(url: str, out: Path, *, wait_s: float = 30.0) -> SnapshotHead:
    """Write the snapshot of database `url` at its final head to `out`; return its head line.

    Raises NotFinal if the head did not become final with a cosigned state
    note within `wait_s` seconds, LedgerError if the database holds no
    chain with registered nodes.  `out` is written whole or not at all.
    """
    engine = snapshot_engine(url)
    deadline = time.monotonic() + wait_s
    partial = out.with_name(out.name + ".partial")
    try:
        while True:
            try:
                with engine.connect() as conn, conn.begin(), partial.open("wb") as file:
                    head = _write(conn, file)
                partial.replace(out)
                return head
            except NotFinal:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(RETRY_S)
    finally:
        partial.unlink(missing_ok=True)
        engine.dispose()


def _write(conn: Connection, file: IO[bytes]) -> SnapshotHead:
    """Write the whole snapshot from the open read transaction `conn`."""
    head = _head(conn)
    file.write(orjson.dumps(head.to_json()) + b"\n")
    for section in SECTIONS:
        for rows in _pages(conn, section):
            file.write(orjson.dumps({"type": section, "rows": rows}) + b"\n")
    file.write(orjson.dumps({"type": "end"}) + b"\n")
    return head


def _head(conn: Connection) -> SnapshotHead:
    """Return the head line: the head block, its cosigned state note, the row counts."""
    raws = conn.exec_driver_sql("SELECT header FROM blocks WHERE height IN "
                                "(0, (SELECT max(height) FROM blocks)) ORDER BY height").all()
    if not raws:
        raise LedgerError("the database holds no chain")
    genesis, header = (BlockHeader.from_json(parse_json(bytes(r[0]))) for r in
                       (raws[0], raws[-1]))
    nodes = _nodes(conn)
    if not nodes:
        raise LedgerError("the chain registers no nodes, so no quorum can vouch for a snapshot")
    rows = [StoredAttestation(int(h), str(n), str(x), bytes(s), _opt(ns), _opt(ss))
            for h, n, x, s, ns, ss in conn.exec_driver_sql(
                _QUERIES["attestations"].replace("ORDER BY", f"WHERE height = {header.height} "
                                                             "ORDER BY")).all()]
    note = _cosigned_note(conn, header, rows, nodes)
    counts = {s: int(conn.exec_driver_sql(
        f"SELECT count(*) FROM {_QUERIES[s].split(' FROM ')[1].split()[0]}").scalar_one())
        for s in SECTIONS}
    return SnapshotHead(header.chain_id, genesis.hash(), header.height, header.hash(),
                        header.log_size, note.encode(), counts)


def _cosigned_note(conn: Connection, header: BlockHeader, rows: list[StoredAttestation],
                   nodes: dict[str, NodeInfo]) -> SignedStateNote:
    """Return the head's state note with a quorum's signatures; raise NotFinal without one."""
    digest = conn.exec_driver_sql(
        f"SELECT digest FROM state_digests WHERE height = {header.height}").scalar()
    if digest is None:
        raise LedgerError(f"no state digest is kept for block {header.height}")
    note = StateNote(header.chain_id, header.height, header.hash(), bytes(digest))
    try:
        attestations = [Attestation(header.chain_id, r.height, r.header_hash, r.node_id,
                                    r.signature) for r in rows]
        check_certificate(header.chain_id, header.height, header.hash(), attestations, nodes)
        signed = SignedStateNote(note, tuple(
            NoteSignature(r.node_id, key_id(r.node_id, nodes[r.node_id].public_key),
                          r.state_signature) for r in rows
            if r.state_signature is not None and r.node_id in nodes
            and note.verifies(nodes[r.node_id].public_key, r.state_signature)))
        check_state_cosigned(signed, nodes)
    except LedgerError as exc:
        raise NotFinal(f"head block {header.height} is not final with a quorum-cosigned state "
                       f"note yet: {exc}") from exc
    return signed


def _nodes(conn: Connection) -> dict[str, NodeInfo]:
    rows = conn.execute(text("SELECT key, value FROM state WHERE key LIKE :prefix"),
                        {"prefix": NODE_PREFIX + "%"}).all()
    infos = [NodeInfo.from_json(parse_json(unpack(bytes(r[1])))) for r in rows
             if str(r[0]).startswith(NODE_PREFIX)]
    return {n.id: n for n in infos}


def _opt(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def _pages(conn: Connection, section: str) -> Iterator[list[Any]]:
    """Yield the section's rows as JSON-ready lists, PAGE_ROWS at a time.

    State keys come in code-point order (SQLite's binary collation; on
    PostgreSQL the "C" collation, whatever the database's), as the check
    requires strictly increasing keys in that order.
    """
    query = _QUERIES[section]
    if conn.dialect.name == "postgresql":
        query = query.replace("ORDER BY key", 'ORDER BY key COLLATE "C"')
    result = conn.exec_driver_sql(query).yield_per(PAGE_ROWS)
    while page := result.fetchmany(PAGE_ROWS):
        yield [_cells(section, row) for row in page]


def _cells(section: str, row: Any) -> Any:
    if section == "headers":
        return bytes(row[0]).decode("utf-8")
    if section == "txs":
        return [row[0], row[1], row[2], hex_of(row[3]), _b64(row[4])]  # the id as hex
    if section == "state":  # the value unpacked: the canonical JSON the digest covers
        return [row[0], row[1], unpack(bytes(row[2])).decode("utf-8")]
    if section == "attestations":
        return [row[0], row[1], row[2], *(None if v is None else _b64(v) for v in row[3:])]
    return [row[0], row[1]]


def _b64(value: Any) -> str:
    return base64.b64encode(bytes(value)).decode("ascii")


def snapshot_main(argv: list[str]) -> int:
    """`python -m node snapshot --database URL --out FILE [--wait SECONDS]`."""
    parser = argparse.ArgumentParser(
        prog="python -m node snapshot",
        description="Write a snapshot of a node database at its final head.")
    parser.add_argument("--database", required=True, help="the node's database URL")
    parser.add_argument("--out", required=True, type=Path, help="the snapshot file to write")
    parser.add_argument("--wait", type=float, default=30.0,
                        help="seconds to wait for the head to be final and cosigned (30)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        head = take_snapshot(args.database, args.out, wait_s=args.wait)
    except (LedgerError, OSError, SQLAlchemyError) as exc:
        print(f"error: no snapshot was written: {exc}", file=sys.stderr)
        return 2
    print(f"snapshot of block {head.height} ({head.log_size} transactions, "
          f"{head.counts['state']} state rows) written in {time.perf_counter() - started:.1f} s",
          file=sys.stderr)
    return 0
