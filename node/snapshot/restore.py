"""Restoring a node from a snapshot: verify the whole file, then fill an empty database at once.

`python -m node restore --database URL --genesis FILE --snapshot FILE`
reads the snapshot twice.  The first pass checks everything
(ledger/snapshot.py: headers linked from this genesis's block 0, the
quorum's certificate, checkpoint and state note of the snapshot height,
the state rows' digest recomputed, in worker processes if asked) and writes
nothing; only a snapshot that passes is read again and written, in ONE
database transaction: headers as blocks, each transaction as its log entry
only (id, leaf hash, place; code `archived`, no envelope), parties,
nonces, state, attestations, the log's subtrees, the note and records
indexes rebuilt from the state, and the state digest with its running
product.  Then `python -m node serve` on that database continues from the
snapshot's head by the normal path (the orderer from the head's position,
or certified blocks from peers if etcd was compacted past it).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from contracts import CONTRACTS
from ledger.attestation import NODE_PREFIX, NodeInfo
from ledger.blob_codec import pack
from ledger.block import BlockHeader
from ledger.canonical import parse_json, parse_trusted
from ledger.compact_log import CompactLog
from ledger.crypto import b64decode
from ledger.errors import LedgerError
from ledger.execution import Executor
from ledger.genesis import Genesis, genesis_block
from ledger.snapshot import (
    ARCHIVED_CODE,
    SECTIONS,
    SnapshotCheck,
    SnapshotHead,
    SnapshotRefused,
    TxEntry,
    tx_entries,
)
from ledger.state_digest import StateDigest
from node.pipeline.chain import NOTE_PREFIX, _note_rows
from node.storage import state_digests
from node.storage.records_index import RECORDS, create_and_backfill
from node.storage.store import (
    ATTESTATIONS,
    BLOCKS,
    NONCES,
    NOTES,
    PARTIES,
    STATE,
    SUBTREES,
    TXS,
    BulkWriter,
    Store,
    make_engine,
)

MAX_IN_FLIGHT = 4  # state pages waiting per worker process
RESTORE_CACHE_MIB = 256  # SQLite page cache while filling: the inserts' keys are random


def read_lines(path: Path, seen: Any = None) -> Iterator[dict[str, Any]]:
    """Yield the snapshot file's lines as JSON objects; raise SnapshotRefused on a bad line.

    `seen`, a hashlib object, is fed every line read.
    """
    with path.open("rb") as file:
        for number, line in enumerate(file, start=1):
            if seen is not None:
                seen.update(line)
            yield parse_line(line, number)


def parse_line(line: bytes, number: int) -> dict[str, Any]:
    """Return line `number` of a snapshot file as a JSON object, or raise SnapshotRefused."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise SnapshotRefused(f"line {number} of the snapshot is not JSON") from exc
    if not isinstance(value, dict):
        raise SnapshotRefused(f"line {number} of the snapshot is not a JSON object")
    return value


def sections(path: Path,
             seen: Any = None) -> tuple[SnapshotHead, Iterator[tuple[str, list[Any]]]]:
    """Return the head line and an iterator of (section, rows) in the order the format fixes."""
    return sections_of(read_lines(path, seen))


def sections_of(
    lines: Iterator[dict[str, Any]]
) -> tuple[SnapshotHead, Iterator[tuple[str, list[Any]]]]:
    """Like `sections`, over the file's lines already parsed."""
    try:
        head = SnapshotHead.from_json(next(lines))
    except StopIteration as exc:
        raise SnapshotRefused("the snapshot file is empty") from exc

    def pages() -> Iterator[tuple[str, list[Any]]]:
        at = 0
        for value in lines:
            kind = value.get("type")
            if kind == "end":
                if next(lines, None) is not None:
                    raise SnapshotRefused("the snapshot file goes on after its end line")
                return
            if kind not in SECTIONS or SECTIONS.index(kind) < at or not isinstance(
                    value.get("rows"), list):
                raise SnapshotRefused(f"the snapshot has a {str(kind)[:40]!r} line where "
                                      f"{' or '.join(SECTIONS[at:])} rows are due")
            at = SECTIONS.index(kind)
            yield kind, value["rows"]
        raise SnapshotRefused("the snapshot file has no end line (cut short?)")

    return head, pages()


def genesis_facts(genesis: Genesis) -> tuple[str, dict[str, NodeInfo]]:
    """Return block 0's hash and the nodes the genesis registers (the only ones there are)."""
    block = genesis_block(genesis, Executor(CONTRACTS))
    nodes = [NodeInfo.from_json(parse_trusted(v)) for k, v in block.writes.raw_writes().items()
             if k.startswith(NODE_PREFIX) and v is not None]
    return block.header.hash(), {n.id: n for n in nodes}


def _page_digest(elements: list[tuple[str, bytes]]) -> StateDigest:
    """Return the digest of one page of state elements (run in a worker process)."""
    return StateDigest.of(elements)


def verify(path: Path, genesis: Genesis, *,
           processes: int = 0) -> tuple[SnapshotHead, StateDigest, bytes]:
    """Check the whole snapshot against `genesis`; return its head, state digest, file hash.

    Raises SnapshotRefused naming the first problem.  With `processes` > 1
    the state pages are digested in that many worker processes (the
    digest of the whole is the product of the pages' digests).
    """
    genesis_hash, nodes = genesis_facts(genesis)
    seen = hashlib.sha256()
    head, pages = sections(path, seen)
    check = SnapshotCheck(head, chain_id=genesis.chain_id, genesis_hash=genesis_hash,
                          nodes=nodes)
    pool = ProcessPoolExecutor(processes) if processes > 1 else None
    waiting: list[Future[StateDigest]] = []
    try:
        for section, rows in pages:
            if section == "headers":
                check.take_headers(rows)
            elif section == "txs":
                check.take_txs(rows)
            elif section == "state":
                elements = check.take_state(rows)
                if pool is None:
                    check.add_digest(StateDigest.of(elements))
                    continue
                waiting.append(pool.submit(_page_digest, elements))
                while len(waiting) > MAX_IN_FLIGHT * processes:
                    check.add_digest(waiting.pop(0).result())
            elif section == "attestations":
                check.take_attestations(rows)
            else:
                check.take_pairs(section, rows)
        for future in waiting:
            check.add_digest(future.result())
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return head, check.finish(), seen.digest()


def restore(url: str, genesis: Genesis, path: Path, *, processes: int = 0) -> SnapshotHead:
    """Fill the EMPTY database `url` from the snapshot at `path`, checked first; return its head.

    Raises SnapshotRefused if the snapshot does not verify, LedgerError if
    the database already holds a chain; in either case nothing is written.
    A SQLite file is filled in one pass instead (node/snapshot/sqlite_restore.py).
    """
    _check_empty(url)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        from node.snapshot.sqlite_restore import restore_sqlite_file  # it builds on this module

        return restore_sqlite_file(Path(url.removeprefix("sqlite:///")), genesis, path,
                                   processes=processes)
    head, digest, checked = verify(path, genesis, processes=processes)
    store = Store(url, sqlite_cache_mib=RESTORE_CACHE_MIB)
    try:
        fill(store, path, head, digest, checked)
    except IntegrityError as exc:  # the transaction was rolled back: nothing is written
        raise repeated_row(exc) from exc
    finally:
        store.close()
    return head


def repeated_row(exc: Exception) -> SnapshotRefused:
    """The refusal of a snapshot that repeats a row the database keeps once (a transaction id,
    a party of a transaction, a nonce): `exc` is the database's unique-constraint error."""
    cause = getattr(exc, "orig", None) or exc
    detail = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    return SnapshotRefused(f"the snapshot repeats a row: {detail}")


def _check_empty(url: str) -> None:
    """Raise LedgerError unless database `url` holds no blocks (creates no SQLite file)."""
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return
    engine = make_engine(url)
    try:
        if not inspect(engine).has_table(BLOCKS.name):
            return
        with engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(BLOCKS)).scalar_one()
    finally:
        engine.dispose()
    if count:
        raise LedgerError(f"the database already holds a chain ({count} blocks); a snapshot "
                          "is restored only into an empty database")


def fill(store: Store, path: Path, head: SnapshotHead, digest: StateDigest,
         checked: bytes) -> None:
    """Write the (verified) snapshot into the store in one database transaction.

    The state digest and its running product (`digest`, recomputed by
    `verify`) are kept for the head, so the node resumes without a rescan.
    Raises SnapshotRefused, and commits nothing, unless the file read now
    hashes to `checked`, the hash of the file `verify` read.
    """
    reason = f"archived below the snapshot at height {head.height}"
    log = CompactLog(store, 0)
    seen = hashlib.sha256()
    with store.engine.begin() as conn:
        writer = BulkWriter(conn)
        _, pages = sections(path, seen)
        for section, rows in pages:
            if section == "headers":
                writer.insert(BLOCKS, [_block_row(str(text)) for text in rows])
            elif section == "txs":
                entries = tx_entries(rows)
                write_log_page(writer, log, archived_tx_cells(entries, reason),
                               [entry[4] for entry in entries])
            elif section in ("parties", "nonces"):
                write_pairs(writer, section, rows)
            elif section == "state":
                writer.insert(STATE, [{"key": k, "height": h, "value": pack(v.encode("utf-8"))}
                                      for k, h, v in rows])
                writer.insert(NOTES, [
                    row for k, h, v in rows if k.startswith(NOTE_PREFIX)
                    for row in _note_rows({k: v.encode("utf-8")}, h, {})])
            else:
                writer.insert(ATTESTATIONS, [_attestation_row(r) for r in rows])
        create_and_backfill(conn, lambda rows: writer.upsert(RECORDS, "id", rows))
        if seen.digest() != checked:
            raise SnapshotRefused("the snapshot file changed between its check and its "
                                  "restore; nothing was written")
        state_digests.record(conn, head.height, digest.digest(), digest.accumulator())


TX_COLUMNS = ("id", "height", "position", "log_index", "contract", "action", "valid", "code",
              "reason", "envelope", "leaf_hash", "events")


def archived_tx_cells(entries: list[TxEntry], reason: str) -> list[tuple[Any, ...]]:
    """Return the transactions table's rows (TX_COLUMNS) for log entries kept as entries only:
    code `archived`, no envelope, no events, the id as its stored bytes."""
    return [(bytes.fromhex(tx_id), height, position, log_index, "", "", True, ARCHIVED_CODE,
             reason, b"", leaf, b"[]") for log_index, height, position, tx_id, leaf in entries]


def write_log_page(writer: BulkWriter, log: CompactLog, cells: list[tuple[Any, ...]],
                   leaves: list[bytes]) -> None:
    """Write a page of log entries (`archived_tx_cells`), with the log subtrees they close."""
    writer.insert_cells(TXS, TX_COLUMNS, cells)
    extension = log.extension(leaves)
    writer.insert(SUBTREES, [{"level": lv, "idx": i, "hash": h}
                             for lv, i, h in extension.subtrees])
    log.adopt(extension)


def write_pairs(writer: BulkWriter, section: str, rows: list[Any]) -> None:
    """Write a page of party rows [uscc, log index] or nonce rows [signer, nonce] (checked)."""
    if section == "parties":
        writer.insert_cells(PARTIES, ("uscc", "log_index"), rows)
    else:
        writer.insert_cells(NONCES, ("signer", "nonce"), rows)


def _block_row(text: str) -> dict[str, Any]:
    raw = text.encode("utf-8")
    header = BlockHeader.from_json(parse_json(raw))
    return {"height": header.height, "hash": header.hash(), "position": header.position,
            "time": header.time, "tx_count": header.tx_count, "header": raw}


def _attestation_row(row: list[Any]) -> dict[str, Any]:
    height, node, header_hash, sig, note_sig, state_sig = row
    return {"height": height, "node_id": node, "header_hash": header_hash,
            "signature": b64decode(sig, what="a signature"),
            "note_signature": None if note_sig is None else b64decode(note_sig, what="note_sig"),
            "state_signature": None if state_sig is None else b64decode(state_sig,
                                                                        what="state_sig")}


def restore_main(argv: list[str]) -> int:
    """`python -m node restore --database URL --genesis FILE --snapshot FILE [--processes N]`."""
    parser = argparse.ArgumentParser(
        prog="python -m node restore",
        description="Fill an empty node database from a snapshot, after checking it.")
    parser.add_argument("--database", required=True, help="the (empty) node database URL")
    parser.add_argument("--genesis", required=True, type=Path, help="the consortium's genesis")
    parser.add_argument("--snapshot", required=True, type=Path, help="the snapshot file")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="worker processes digesting the state (default: one per core)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        genesis = Genesis.from_json(parse_json(args.genesis.read_bytes()))
        head = restore(args.database, genesis, args.snapshot, processes=args.processes)
    except (LedgerError, OSError, SQLAlchemyError) as exc:
        print(f"error: the snapshot was not restored: {exc}", file=sys.stderr)
        return 2
    print(f"restored block {head.height} ({head.log_size} transactions, "
          f"{head.counts['state']} state rows) in {time.perf_counter() - started:.1f} s",
          file=sys.stderr)
    return 0
