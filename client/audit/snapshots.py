"""A snapshot file checked against the full replay: what a new node would start from must be true.

A node restored from a snapshot trusts the quorum's signatures; the audit
can do better, having re-derived the chain from genesis.  Each snapshot
given (`ledger audit --snapshot FILE`) must name a block the replay reached,
carry exactly the rebuilt headers up to it and the rebuilt log's leaves,
hold state rows whose digest (recomputed) is the rebuilt state's digest
after that block, and a state note stating that digest, cosigned by a
quorum of the nodes the rebuilt state registers.  Anything else is a
`snapshot` finding naming what differs; the file is never trusted to parse.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

import orjson

from client.audit.replay import Replay
from client.audit.report import AuditReport
from ledger.block import BlockHeader
from ledger.canonical import parse_json
from ledger.errors import LedgerError
from ledger.snapshot import SnapshotHead
from ledger.state_digest import StateDigest
from ledger.state_note import check_state_cosigned, parse_signed_state_note


class _Mismatch(Exception):
    """One difference between the snapshot and the replay (the finding's message)."""


def compare_snapshot(report: AuditReport, replay: Replay, path: Path) -> None:
    """Check the snapshot at `path` against the rebuilt chain; report a finding if it differs."""
    try:
        _compare(replay, path)
    except _Mismatch as exc:
        report.find("snapshot", f"snapshot {path.name}: {exc}"[:300])
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            LedgerError) as exc:
        report.find("snapshot", f"snapshot {path.name} could not be read: {exc}"[:300])


def _compare(replay: Replay, path: Path) -> None:
    with path.open("rb") as file:
        head = SnapshotHead.from_json(orjson.loads(file.readline()))
        height = head.height
        rebuilt = replay.digests.at(height)
        if rebuilt is None or height >= len(replay.hashes):
            raise _Mismatch(f"it names block {height}, which the audited chain does not reach")
        if head.block_hash != replay.hashes[height]:
            raise _Mismatch(f"block {height} is {head.block_hash}; the rebuilt block is "
                            f"{replay.hashes[height]}")
        digest = StateDigest()
        counts = {"headers": 0, "txs": 0}
        for line in file:
            value: Any = orjson.loads(line)
            kind, rows = value.get("type"), value.get("rows", [])
            if kind == "headers":
                _headers(replay, rows, counts)
            elif kind == "txs":
                _leaves(replay, rows, counts)
            elif kind == "state":
                digest = digest.union(StateDigest.of(
                    (str(k), str(v).encode("utf-8")) for k, _, v in rows))
        if (counts["headers"], counts["txs"]) != (height + 1, head.log_size):
            raise _Mismatch(f"it holds {counts['headers']} headers and {counts['txs']} log "
                            f"entries for block {height} of log size {head.log_size}")
    if digest.digest() != rebuilt:
        raise _Mismatch(f"its state rows digest to {digest.digest().hex()}; the rebuilt "
                        f"state's digest after block {height} is {rebuilt.hex()}")
    _note(replay, head, rebuilt)


def _headers(replay: Replay, rows: list[Any], counts: dict[str, int]) -> None:
    for text in rows:
        at = counts["headers"]
        header = BlockHeader.from_json(parse_json(str(text)))
        if at >= len(replay.hashes) or header.hash() != replay.hashes[at]:
            raise _Mismatch(f"its header {at} is not the rebuilt block {at}")
        counts["headers"] += 1


def _leaves(replay: Replay, rows: list[Any], counts: dict[str, int]) -> None:
    for row in rows:
        at = counts["txs"]
        try:
            leaf = base64.b64decode(row[4], validate=True)
        except binascii.Error as exc:
            raise _Mismatch(f"its log entry {at} has no leaf hash") from exc
        if at >= replay.log.size or leaf != replay.log.leaf(at):
            raise _Mismatch(f"its log entry {at} is not the rebuilt log's leaf {at}")
        counts["txs"] += 1


def _note(replay: Replay, head: SnapshotHead, rebuilt: bytes) -> None:
    """Check the state note: the rebuilt block and digest, cosigned by a quorum of its nodes."""
    try:
        signed = parse_signed_state_note(head.state_note, replay.chain_id)
        nodes = replay.nodes()
        if nodes:
            check_state_cosigned(signed, nodes)
    except LedgerError as exc:
        raise _Mismatch(f"its state note: {exc}") from exc
    if (signed.note.height, signed.note.block_hash, signed.note.digest) != (
            head.height, replay.hashes[head.height], rebuilt):
        raise _Mismatch("its state note does not state the rebuilt block and digest")
