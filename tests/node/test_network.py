"""Several nodes, each with its own database, ordered by a real etcd cluster.

Transactions go to different nodes; every node must end with the same blocks,
log and state, and a note spent twice through two nodes at once must be won
by exactly one spend, identically everywhere.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.node.support import FACE, grant_line, issue_accepted, outputs
from tests.nodes import RunningNode, running_network, wait_until_level

pytestmark = pytest.mark.etcd


def _same_everywhere(nodes: list[RunningNode]) -> int:
    """Assert every node holds the same chain (blocks, log, state, notes); return height."""
    height = wait_until_level(nodes)
    first = nodes[0].service
    for node in nodes[1:]:
        other = node.service
        for h in range(height + 1):
            assert other.store.block_header(h) == first.store.block_header(h), h
        assert other.chain.log.root() == first.chain.log.root()
        assert other.chain.log.size == first.chain.log.size
        assert other.chain.state._data == first.chain.state._data
        assert other.store.notes_where(limit=10_000) == first.store.notes_where(limit=10_000)
    return height


def test_transactions_through_different_nodes_build_one_chain(
    tmp_path: Path, etcd_members: list[Any]
) -> None:
    with running_network(tmp_path, [m.client_url for m in etcd_members]) as nodes:
        line = grant_line(nodes[0])
        wait_until_level(nodes)
        root = issue_accepted(nodes[1], line, "s1")
        wait_until_level(nodes)
        s2 = nodes[2].orgs["s2"].uscc
        status = nodes[2].participant("s1").transfer(root, [(s2, FACE // 4)])
        assert status["status"] == "committed"
        height = _same_everywhere(nodes)
        assert height >= 4
        piece = outputs(status)[nodes[2].orgs["s2"].uscc]
        for node in nodes:
            assert node.participant("s2").note(piece)["amount"] == FACE // 4
        checkpoints = {str(n.participant("auditor").checkpoint()) for n in nodes}
        assert len(checkpoints) == 1


def test_one_note_spent_through_two_nodes_at_once_has_one_winner_everywhere(
    tmp_path: Path, etcd_members: list[Any]
) -> None:
    # Batches wait 300 ms, so both spends pass their node's check before either is ordered.
    with running_network(tmp_path, [m.client_url for m in etcd_members],
                         batch_max_wait_ms=300) as nodes:
        line = grant_line(nodes[0])
        wait_until_level(nodes)
        root = issue_accepted(nodes[0], line, "s1")
        wait_until_level(nodes)
        spends = []
        for node, payee in ((nodes[0], "s2"), (nodes[1], "s3")):
            s1 = node.participant("s1")
            spends.append((node, s1.prepare("receivable", "transfer", {
                "note": root, "payments": [{"to": node.orgs[payee].uscc, "amount": FACE // 2}],
            }).envelope()))
        for node, spend in spends:
            node.participant("s1").submit([spend], wait=False)
        deadline = time.monotonic() + 30
        while any(n.service.store.tx(s.tx_id) is None for n in nodes for _, s in spends):
            assert time.monotonic() < deadline, "the two spends were not both ordered"
            time.sleep(0.05)
        _same_everywhere(nodes)
        for node in nodes:
            valid = [node.service.store.tx(s.tx_id).valid for _, s in spends]  # type: ignore[union-attr]
            assert sorted(valid) == [False, True]
            loser = node.service.store.tx(spends[valid.index(False)][1].tx_id)
            assert loser is not None
            assert loser.reason == "the note is active (not spent, settled or void)"
