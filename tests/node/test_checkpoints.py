"""Served checkpoints: `GET /v1/log/checkpoint[?height=]` on single nodes.

The network case (cosignatures gathered through etcd) is in
tests/node/test_network.py.  Here a node on the embedded orderer with four
registered nodes (core, s1, b1 and auditor run them: a quorum is three
organisations) signs its own checkpoints, and the other nodes'
cosignatures are handed to a `Finality` over its store, as the etcd
follower would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from client.sdk.http import NodeError
from contracts import CONTRACTS
from ledger.attestation import NodeInfo, attest
from ledger.block import BlockHeader
from ledger.canonical import parse_json
from ledger.checkpoint import (
    block_checkpoint,
    check_cosigned,
    parse_signed_checkpoint,
    sign_checkpoint,
)
from ledger.crypto import PrivateKey, sha256
from ledger.errors import SignatureError
from ledger.execution import Executor
from ledger.genesis import genesis_block
from node.finality.attestor import Finality
from node.finality.checkpoints import checkpoint_of
from node.service import load_genesis
from tests.node.support import grant_line, issue_accepted
from tests.nodes import RunningNode, network_nodes, node_key, registered_node, running_node


@pytest.fixture
def node(tmp_path: Path) -> Iterator[RunningNode]:
    with registered_node(tmp_path, 4) as running:
        line = grant_line(running)
        issue_accepted(running, line)
        yield running


def _header(node: RunningNode, height: int) -> BlockHeader:
    raw = node.service.store.block_header(height)
    assert raw is not None
    return BlockHeader.from_json(parse_json(raw))


def _cosign(node: RunningNode, height: int, numbers: tuple[int, ...]) -> None:
    """Have nodes `numbers` attest block `height` with its checkpoint, into the node's store."""
    header = _header(node, height)
    checkpoint = checkpoint_of(node.service.chain, header)
    Finality(node.service.chain, node.service.store).receive([
        attest(node_key(n), "test-chain", height, header.hash(), f"node{n}",
               sign_checkpoint(checkpoint, f"node{n}", node_key(n)).signature)
        for n in numbers])


def test_the_final_checkpoint_is_signed_by_this_node_and_gathers_cosignatures(
        node: RunningNode) -> None:
    auditor = node.participant("auditor")
    served = auditor.node.get("/v1/log/checkpoint")
    head = node.service.chain.head
    assert (served["height"], served["block_hash"]) == (head.height, head.hash())
    assert (served["size"], served["root"]) == (head.log_size, node.service.chain.log.root().hex())
    assert served["cosigners"] == ["node1"]
    nodes = {n.id: n for n in network_nodes(4)}
    signed = parse_signed_checkpoint(served["checkpoint"])
    assert signed.checkpoint == block_checkpoint("test-chain", head.log_size,
                                                 node.service.chain.log.root(), head.height,
                                                 head.hash())
    with pytest.raises(SignatureError, match="1 organisation"):
        check_cosigned(signed, "test-chain", nodes)
    _cosign(node, head.height, (2, 3))
    again = auditor.node.get("/v1/log/checkpoint")
    assert again["cosigners"] == ["node1", "node2", "node3"]
    assert check_cosigned(parse_signed_checkpoint(again["checkpoint"]), "test-chain",
                          nodes) == {"node1", "node2", "node3"}


def test_cosignatures_that_do_not_verify_or_are_for_another_header_are_left_out(
        node: RunningNode) -> None:
    height = node.service.chain.head.height
    header = _header(node, height)
    other = block_checkpoint("test-chain", header.log_size, bytes(32), height, header.hash())
    finality = Finality(node.service.chain, node.service.store)
    finality.receive([
        attest(node_key(2), "test-chain", height, header.hash(), "node2",  # over another root
               sign_checkpoint(other, "node2", node_key(2)).signature),
        attest(node_key(3), "test-chain", height, "ab" * 32, "node3",  # another header
               sign_checkpoint(replace(other, root=node.service.chain.log.root()),
                               "node3", node_key(3)).signature),
        attest(node_key(4), "test-chain", height, header.hash(), "node4"),  # none at all
    ])
    served = node.participant("s1").node.get("/v1/log/checkpoint")
    assert served["cosigners"] == ["node1"]


def test_the_checkpoint_of_every_earlier_final_block_is_served(node: RunningNode) -> None:
    s1 = node.participant("s1")
    final = node.service.chain.head.height
    assert final >= 2
    for height in range(final + 1):
        header = _header(node, height)
        served = s1.node.get("/v1/log/checkpoint", {"height": height})
        assert (served["height"], served["block_hash"], served["size"]) == (
            height, header.hash(), header.log_size)
        assert served["root"] == node.service.chain.log.root(header.log_size).hex()
        signed = parse_signed_checkpoint(served["checkpoint"])
        assert signed.checkpoint.block().height == height
    with pytest.raises(NodeError) as refused:
        s1.node.get("/v1/log/checkpoint", {"height": final + 1})
    assert refused.value.status == 404
    assert f"block {final + 1} is not final on this node (final height {final})" in (
        refused.value.detail)


def test_a_node_without_a_node_key_says_its_checkpoint_is_unsigned(tmp_path: Path) -> None:
    with running_node(tmp_path, verifier_processes=0) as n:
        served = n.participant("s1").node.get("/v1/log/checkpoint")
    assert served["checkpoint"] is None and served["cosigners"] == []
    assert "no node signed this checkpoint" in served["unsigned"]
    assert served["height"] == 0 and served["size"] == 1


def test_an_embedded_node_with_a_key_but_no_registered_nodes_signs_as_itself(
        tmp_path: Path) -> None:
    key = PrivateKey(sha256(b"solo node"))
    (tmp_path / "node.key").write_text(key.seed.hex())
    with running_node(tmp_path, node_id="solo", node_key_path=tmp_path / "node.key",
                      verifier_processes=0) as n:
        grant_line(n)
        served = n.participant("s1").node.get("/v1/log/checkpoint")
        nodes = n.participant("s1").node.get("/v1/nodes")
    assert nodes == {"nodes": [], "quorum": 0}
    assert served["cosigners"] == ["solo"] and served["height"] >= 1
    solo = {"solo": NodeInfo("solo", "operator", key.public_key)}
    assert check_cosigned(parse_signed_checkpoint(served["checkpoint"]), "test-chain",
                          solo) == {"solo"}


def test_the_registered_nodes_are_listed_with_the_quorum(node: RunningNode) -> None:
    listed = node.participant("s1").node.get("/v1/nodes")
    assert listed["quorum"] == 3
    assert [NodeInfo.from_json(n) for n in listed["nodes"]] == network_nodes(4)


def test_the_genesis_checkpoint_says_how_to_trust_it(tmp_path: Path) -> None:
    with registered_node(tmp_path, 3) as n:
        s1 = n.participant("s1")
        plain, at_zero = s1.node.get("/v1/log/checkpoint"), s1.node.get(
            "/v1/log/checkpoint", {"height": 0})
        grant_line(n)
        later = s1.node.get("/v1/log/checkpoint")
    assert plain == at_zero and plain["height"] == 0 and plain["cosigners"] == ["node1"]
    assert plain["genesis"] is True and "genesis file" in plain["genesis_trust"]
    genesis = load_genesis(tmp_path / "genesis.json")
    derived = genesis_block(genesis, Executor(CONTRACTS)).checkpoint()
    assert parse_signed_checkpoint(plain["checkpoint"]).checkpoint == derived
    assert later["height"] == 1 and later["genesis"] is False and "genesis_trust" not in later
