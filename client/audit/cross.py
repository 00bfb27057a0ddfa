"""Cross-node comparison: every node's tree head and block hashes against the rebuilt chain.

Each node's checkpoint (`GET /v1/log/checkpoint`: size, root, height, block
hash) must be a tree head of the rebuilt log and name the rebuilt block at
its height, and every block hash a node serves must equal the rebuilt hash
at that height.  A node ahead of the audited chain is compared up to where
the audit reached.
"""

from __future__ import annotations

from typing import Any

from client.audit.replay import Replay
from client.audit.report import AuditReport
from client.http import NodeClient, NodeError

HEADER_PAGE = 1000


def compare_node(report: AuditReport, replay: Replay, node: NodeClient) -> None:
    """Compare one node's checkpoint and block hashes with the rebuilt chain."""
    where = node.base_url
    try:
        checkpoint = node.get("/v1/log/checkpoint")
        _checkpoint(report, replay, where, checkpoint)
        _headers(report, replay, node, min(int(checkpoint["height"]), len(replay.hashes) - 1))
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
