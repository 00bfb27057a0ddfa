"""Finality from attestations: quorum counting, restart, divergence, bounded memory.

Blocks come from a node on the embedded orderer with four registered nodes
(run by core, s1, b1 and auditor: a quorum is three organisations); the
attestations are signed here with the registered node keys and handed to
a `Finality` over that node's chain and store, as the etcd follower would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.attestation import Attestation, attest
from ledger.block import BlockHeader
from ledger.canonical import parse_json
from node.finality.attestor import Finality
from tests.node.support import grant_line, issue_accepted
from tests.nodes import RunningNode, node_key, registered_node


@pytest.fixture
def node(tmp_path: Path) -> Iterator[RunningNode]:
    with registered_node(tmp_path, 4) as running:
        line = grant_line(running)
        for _ in range(3):
            issue_accepted(running, line)
        yield running


def _signed(node: RunningNode, height: int, numbers: tuple[int, ...],
            header_hash: str | None = None) -> list[Attestation]:
    """Attestations of block `height` by nodes `numbers`, of its real hash unless given."""
    if header_hash is None:
        raw = node.service.store.block_header(height)
        assert raw is not None
        header_hash = BlockHeader.from_json(parse_json(raw)).hash()
    return [attest(node_key(n), "test-chain", height, header_hash, f"node{n}") for n in numbers]


def test_a_block_is_final_once_nodes_of_a_quorum_of_organisations_sign_it(
        node: RunningNode) -> None:
    finality = Finality(node.service.chain, node.service.store)
    head = node.service.chain.head.height
    assert head >= 2
    for height in range(1, head + 1):
        finality.receive(_signed(node, height, (1, 2)))
    assert finality.final_height == 0  # two organisations of four are not a quorum
    finality.receive(_signed(node, 1, (3,)))
    assert finality.final_height == 1
    for height in range(2, head + 1):
        finality.receive(_signed(node, height, (4,)))
    assert finality.final_height == head
    assert finality.last_attested_by("node3") == 1
    assert finality.last_attested_by("node4") == head
    assert finality.last_attested_by("node9") == 0


def test_a_final_blocks_certificate_is_read_from_the_store_and_memory_stays_bounded(
        node: RunningNode) -> None:
    finality = Finality(node.service.chain, node.service.store)
    head = node.service.chain.head.height
    sent = {h: _signed(node, h, (1, 2, 3)) for h in range(1, head + 1)}
    for attestations in sent.values():
        finality.receive(attestations)
    assert finality.final_height == head
    assert not finality._pending  # nothing of a final block is held in memory
    for height, attestations in sent.items():
        assert finality.certificate(height) == sorted(attestations, key=lambda a: a.node_id)
    finality.receive(_signed(node, 1, (4,)))  # a late attestation of a final block is kept
    assert [a.node_id for a in finality.certificate(1)] == ["node1", "node2", "node3", "node4"]
    assert not finality._pending


def test_a_restarted_finality_recomputes_the_final_height_and_keeps_what_is_pending(
        node: RunningNode) -> None:
    first = Finality(node.service.chain, node.service.store)
    head = node.service.chain.head.height
    for height in range(1, head):
        first.receive(_signed(node, height, (1, 2, 4)))
    first.receive(_signed(node, head, (1, 2)))
    assert first.final_height == head - 1
    again = Finality(node.service.chain, node.service.store)
    assert again.final_height == head - 1
    assert again.last_attested_by("node4") == head - 1
    assert [a.node_id for a in again.certificate(head)] == ["node1", "node2"]
    again.receive(_signed(node, head, (3,)))
    assert again.final_height == head


def test_a_quorum_signing_another_header_is_recorded_as_divergence(node: RunningNode) -> None:
    finality = Finality(node.service.chain, node.service.store)
    other = "ab" * 32
    finality.receive(_signed(node, 1, (2, 3, 4), header_hash=other))
    assert finality.final_height == 0
    assert finality.divergence is not None
    assert (finality.divergence.height, finality.divergence.quorum_hash) == (1, other)
    assert {a.node_id for a in finality.divergence.attestations} == {"node2", "node3", "node4"}


def test_forged_and_foreign_attestations_are_ignored(node: RunningNode) -> None:
    finality = Finality(node.service.chain, node.service.store)
    good = _signed(node, 1, (1, 2))
    forged = attest(node_key(9), "test-chain", 1, good[0].header_hash, "node3")  # wrong key
    foreign = attest(node_key(4), "other-chain", 1, good[0].header_hash, "node4")
    finality.receive([*good, forged, foreign])
    assert finality.final_height == 0
    assert [a.node_id for a in finality.certificate(1)] == ["node1", "node2"]
