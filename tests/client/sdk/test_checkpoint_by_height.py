"""The SDK asks a real node for the signed checkpoint of any final block, not only its latest.

A registered node (node1, quorum 1) commits a few credit lines; the
checkpoint of each final height, asked for by height, names that block, its
log size grows with the height, the latest is the one asked for without a
height, and each but the genesis' is cosigned by a quorum of the genesis'
nodes.  A height not final yet is the node's 404, a negative one its 400.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from client.sdk.http import NodeError
from client.sdk.lightclient import nodes_from_genesis
from ledger.checkpoint import check_cosigned, parse_signed_checkpoint
from tests.node.support import grant_line
from tests.nodes import registered_node


def test_the_checkpoint_of_every_final_block_by_its_height(tmp_path: Path) -> None:
    with registered_node(tmp_path / "node", 1) as node:
        for _ in range(3):
            grant_line(node)
        auditor = node.participant("auditor")
        try:
            latest = auditor.checkpoint()
            final = int(latest["height"])
            by_height = [auditor.checkpoint(height) for height in range(final + 1)]
            with pytest.raises(NodeError) as too_high:
                auditor.checkpoint(final + 1)
            with pytest.raises(NodeError) as negative:
                auditor.checkpoint(-1)
        finally:
            auditor.close()
        nodes = nodes_from_genesis(tmp_path / "node" / "genesis.json")
        chain_id = node.service.chain.chain_id
    assert final >= 3
    assert [c["height"] for c in by_height] == list(range(final + 1))
    sizes = [c["size"] for c in by_height]
    assert sizes[0] == 1 and sizes == sorted(sizes) and sizes[-1] > sizes[1]
    assert by_height[-1] == latest and by_height[0]["genesis"] is True
    for c in by_height[1:]:
        signed = parse_signed_checkpoint(c["checkpoint"])
        assert signed.checkpoint.size == c["size"] and signed.checkpoint.block().height == c[
            "height"]
        check_cosigned(signed, chain_id, nodes)  # raises unless a quorum cosigned it
    assert too_high.value.status == 404 and "not final" in too_high.value.detail
    assert negative.value.status == 400
