"""Cross-node comparison: every node's tree head and block hashes against the rebuilt chain.

Each node's checkpoint (`GET /v1/log/checkpoint`: size, root, height, block
hash) must be a tree head of the rebuilt log and name the rebuilt block at
its height, its signed note cosigned by a quorum of the nodes the rebuilt
state registers, and every block hash a node serves must equal the rebuilt hash
at that height, and its state digest (`GET /v1/state/digest`) at that height
the rebuilt state's, its state note stating that digest and cosigned by
a quorum of the rebuilt registry's nodes (a `state_note` finding otherwise).
A node ahead of the audited chain is compared up to where the audit reached.
"""

from __future__ import annotations

from typing import Any

from client.audit.replay import Replay
from client.audit.report import AuditReport
from client.sdk.http import NodeClient, NodeError
from ledger.checkpoint import check_cosigned, check_origin, parse_signed_checkpoint
from ledger.errors import LedgerError
from ledger.state_note import check_state_cosigned, parse_signed_state_note

HEADER_PAGE = 1000


def compare_node(report: AuditReport, replay: Replay, node: NodeClient) -> None:
    """Compare one node's checkpoint and block hashes with the rebuilt chain."""
    where = node.base_url
    try:
        checkpoint = node.get("/v1/log/checkpoint")
        _checkpoint(report, replay, where, checkpoint)
        last = min(int(checkpoint["height"]), len(replay.hashes) - 1)
        _headers(report, replay, node, last)
        _state_digest(report, replay, node, last)
    except (NodeError, KeyError, TypeError, ValueError) as exc:
        report.find("cross_node", f"node {where} could not be compared: {exc}"[:300])
        return
    report.stats.nodes_compared += 1


def _checkpoint(report: AuditReport, replay: Replay, where: str, cp: dict[str, Any]) -> None:
    size, height = int(cp["size"]), int(cp["height"])
    if cp.get("chain_id") != replay.chain_id:
        report.find("checkpoint", f"node {where} serves chain {cp.get('chain_id')!r}")
        return
    if size > replay.log.size or height >= len(replay.hashes):
        return  # the node is ahead of the audited chain: compared up to where the audit reached
    if replay.log.root(size).hex() != cp.get("root"):
        report.find("checkpoint", f"node {where}'s tree head of size {size} has root "
                    f"{cp.get('root')}, not the rebuilt log's {replay.log.root(size).hex()}",
                    block=height)
    if replay.hashes[height] != cp.get("block_hash"):
        report.find("checkpoint", f"node {where}'s checkpoint names block hash "
                    f"{cp.get('block_hash')} at height {height}; the rebuilt block has "
                    f"{replay.hashes[height]}", block=height)
    _signed(report, replay, where, cp, height)


def _signed(report: AuditReport, replay: Replay, where: str, cp: dict[str, Any],
            height: int) -> None:
    """Check a node's signed checkpoint: cosigned by a quorum of the rebuilt registry's nodes.

    The cosigners are taken from the state the audit rebuilt, never from the
    node; and the note must state exactly the plain fields compared above.
    """
    text = cp.get("checkpoint")
    if text is None:
        return
    try:
        signed = parse_signed_checkpoint(str(text))
        nodes = replay.nodes()
        if nodes:
            check_cosigned(signed, replay.chain_id, nodes)
        else:  # an embedded chain registers no nodes: only the note's content can be checked
            check_origin(signed, replay.chain_id)
    except LedgerError as exc:
        report.find("checkpoint", f"node {where}'s signed checkpoint: {exc}"[:300], block=height)
        return
    block = signed.checkpoint.block()
    stated = (signed.checkpoint.size, signed.checkpoint.root.hex(), block.height, block.hash)
    if stated != (cp.get("size"), cp.get("root"), cp.get("height"), cp.get("block_hash")):
        report.find("checkpoint", f"node {where}'s signed checkpoint states size, root or block "
                    "other than its plain fields", block=height)


def _headers(report: AuditReport, replay: Replay, node: NodeClient, last: int) -> None:
    start = 0
    while start <= last:
        page = node.get("/v1/blocks", {"from": start, "limit": HEADER_PAGE})["blocks"]
        if not page:
            report.find("cross_node", f"node {node.base_url} serves no block at height {start}",
                        block=start)
            return
        for block in page:
            height = int(block["header"]["height"])
            if not 0 <= height <= last:
                return
            if block.get("hash") != replay.hashes[height]:
                report.find("cross_node", f"node {node.base_url} has block hash "
                            f"{block.get('hash')} at height {height}; the rebuilt chain has "
                            f"{replay.hashes[height]}", block=height)
            start = height + 1


def _state_digest(report: AuditReport, replay: Replay, node: NodeClient, height: int) -> None:
    """Compare the node's state digest after block `height` with the rebuilt state's.

    A node that kept no digest there (older than digests) answers 404: not a finding.
    """
    try:
        served = node.get("/v1/state/digest", {"height": height})
    except NodeError as exc:
        if exc.status == 404:
            return
        raise
    rebuilt = replay.digests.at(height)
    if rebuilt is not None and served.get("digest") != rebuilt.hex():
        report.find("state_digest", f"node {node.base_url} serves state digest "
                    f"{served.get('digest')!r} after block {height}; the rebuilt state's is "
                    f"{rebuilt.hex()}"[:300], block=height)
    if rebuilt is not None and served.get("state_note") is not None:
        _state_note(report, replay, node.base_url, str(served["state_note"]), height, rebuilt)


def _state_note(report: AuditReport, replay: Replay, where: str, text: str, height: int,
                rebuilt: bytes) -> None:
    """Check a node's cosigned state note: the rebuilt block and digest, a quorum's signatures.

    The cosigners are the nodes the rebuilt state registers, never the
    node's word; an embedded chain (no registered nodes) has only the
    note's content checked.
    """
    try:
        signed = parse_signed_state_note(text, replay.chain_id)
        nodes = replay.nodes()
        if nodes:
            check_state_cosigned(signed, nodes)
    except LedgerError as exc:
        report.find("state_note", f"node {where}'s state note of block {height}: {exc}"[:300],
                    block=height)
        return
    stated = (signed.note.height, signed.note.block_hash, signed.note.digest)
    if stated != (height, replay.hashes[height], rebuilt):
        report.find("state_note", f"node {where}'s state note names block {stated[0]} "
                    f"{stated[1]} with digest {stated[2].hex()}; the rebuilt block {height} is "
                    f"{replay.hashes[height]} with digest {rebuilt.hex()}"[:300], block=height)
