"""Height 0 is trusted from the genesis file, not from cosignatures (issue 13, finding 9).

No node attests block 0, so its checkpoint carries only the serving node's
signature, below any quorum.  A light client anchored at the genesis file
derives block 0's checkpoint itself and takes a served height-0 checkpoint
exactly when it is that one; from there, later checkpoints need a quorum and
a consistency proof from size 1 as usual.

`registered_node(tmp, 3)` serves node1 of three registered nodes (run by
core, s1 and b1: a quorum is two organisations) on the embedded orderer, so
its own signature never makes a quorum; node2's cosignature is handed to
its store as the etcd follower would (tests/node/test_checkpoints.py).
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from client.sdk.http import NodeClient
from client.sdk.keystore import Identity
from client.sdk.lightclient import (
    ForkDetected,
    LightClient,
    genesis_checkpoint,
    nodes_from_genesis,
    read_genesis,
)
from client.sdk.participant import Participant
from ledger.attestation import attest
from ledger.block import BlockHeader
from ledger.canonical import parse_json
from ledger.checkpoint import (
    SignedCheckpoint,
    block_checkpoint,
    parse_signed_checkpoint,
    sign_checkpoint,
)
from ledger.errors import SchemaError, SignatureError
from ledger.merkle import leaf_hash
from node.finality.attestor import Finality
from node.finality.checkpoints import checkpoint_of
from tests.builders import START
from tests.node.support import grant_line
from tests.nodes import (
    RunningNode,
    network_nodes,
    node_key,
    registered_node,
    running_network,
    wait_until_final,
)


def _client(n: RunningNode, **kwargs: Any) -> LightClient:
    org = n.orgs["auditor"]
    return LightClient(NodeClient(n.url, Identity(org.uscc, org.name, org.key),
                                  now=n.clock.now), **kwargs)


def _header(n: RunningNode, height: int) -> BlockHeader:
    raw = n.service.store.block_header(height)
    assert raw is not None
    return BlockHeader.from_json(parse_json(raw))


def _cosign(n: RunningNode, height: int, number: int) -> None:
    """Have registered node `number` attest block `height` with its checkpoint, into n's store."""
    header = _header(n, height)
    checkpoint = checkpoint_of(n.service.chain, header)
    Finality(n.service.chain, n.service.store).receive([
        attest(node_key(number), "test-chain", height, header.hash(), f"node{number}",
               sign_checkpoint(checkpoint, f"node{number}", node_key(number)).signature)])


def _answering(light: LightClient, path: str, answer: dict[str, Any]) -> None:
    """Make `light`'s node answer `path` with `answer`, and everything else truly."""
    real = light.node.get
    light.node.get = lambda p, params=None: answer if p == path else real(p, params)  # type: ignore[method-assign]


def test_a_quorum_client_starts_at_height_0_only_from_the_genesis_file(tmp_path: Path) -> None:
    genesis_path = tmp_path / "genesis.json"
    with registered_node(tmp_path, 3) as n:
        assert n.service.final_height == 0
        strict = _client(n, nodes=nodes_from_genesis(genesis_path))
        with pytest.raises(SignatureError, match="1 organisation"):
            strict.refresh()  # node1's signature alone is below the quorum of 2
        genesis = read_genesis(genesis_path)
        anchored = _client(n, genesis=genesis)
        assert anchored.nodes() == {node.id: node for node in network_nodes(3)}
        start = anchored.trusted  # trusted before any refresh: the file says what block 0 is
        assert start is not None and (start.size, start.block.height) == (1, 0)
        head = _header(n, 0)
        assert start.checkpoint == checkpoint_of(n.service.chain, head) == genesis_checkpoint(
            genesis)
        assert start.block.hash == head.hash()
        assert start.checkpoint.root == leaf_hash(genesis.transaction.canonical())
        assert anchored.refresh() == start and anchored.forks == []
        assert anchored.prove_transaction(genesis.transaction.tx_id)["log_index"] == 0
        with pytest.raises(SignatureError, match="not the ones the genesis registers"):
            _client(n, genesis=genesis, nodes={node.id: node for node in network_nodes(2)})
        org = n.orgs["auditor"]
        elsewhere = NodeClient(n.url, Identity(org.uscc, org.name, org.key),
                               chain_id="other-chain", now=n.clock.now)
        with pytest.raises(SchemaError, match="founds chain 'test-chain', not 'other-chain'"):
            LightClient(elsewhere, genesis=genesis)


def test_a_participant_anchored_at_the_genesis_file_keeps_its_trust_file(
        tmp_path: Path) -> None:
    trust = tmp_path / "trust.json"
    with registered_node(tmp_path / "a", 3) as n:
        org = n.orgs["s1"]

        def participant() -> Participant:
            return Participant(n.url, Identity(org.uscc, org.name, org.key), now=n.clock.now,
                               trust_file=trust, genesis_file=tmp_path / "a" / "genesis.json")

        first = participant().refresh_checkpoint()
        assert first.block.height == 0 and first.cosigners == frozenset()
        assert not trust.exists()  # nothing to keep: the genesis gives it all again
        assert participant().light.trusted == first
        grant_line(n)
        _cosign(n, 1, 2)
        later = participant().refresh_checkpoint()
        assert later.cosigners == {"node1", "node2"} and later.size == 2
        saved = json.loads(trust.read_text())
        assert saved["checkpoint"] == later.note
        assert saved["nodes"] == [node.to_json() for node in network_nodes(3)]
        assert participant().light.trusted == later  # a restart starts from the later one


def test_a_node_serving_another_height_0_checkpoint_is_refused(tmp_path: Path) -> None:
    with ExitStack() as stack:
        honest = stack.enter_context(registered_node(tmp_path / "a", 3))
        other = stack.enter_context(registered_node(tmp_path / "b", 3,
                                                    start=START + timedelta(seconds=1)))
        genesis = read_genesis(tmp_path / "a" / "genesis.json")
        trusted = genesis_checkpoint(genesis)
        light = _client(other, genesis=genesis, state_path=tmp_path / "trust.json")
        with pytest.raises(ForkDetected, match="not the genesis") as caught:
            light.refresh()  # another genesis: another transaction, root and block hash
        assert caught.value.trusted == trusted.text()
        assert parse_signed_checkpoint(caught.value.served).checkpoint == checkpoint_of(
            other.service.chain, _header(other, 0))
        kept = (tmp_path / "trust.json.forks.jsonl").read_text().splitlines()
        assert [json.loads(line) for line in kept] == [caught.value.evidence()]

        # node1's key signing a block 0 with the genesis' log but another header hash
        light = _client(honest, genesis=genesis)
        forged = block_checkpoint("test-chain", 1, trusted.root, 0, "ab" * 32)
        served = light.node.get("/v1/log/checkpoint", {"height": 0})
        note = SignedCheckpoint(forged, (sign_checkpoint(forged, "node1", node_key(1)),))
        _answering(light, "/v1/log/checkpoint",
                   {**served, "block_hash": "ab" * 32, "checkpoint": note.encode()})
        with pytest.raises(ForkDetected, match="not the genesis"):
            light.refresh()
        _answering(light, "/v1/log/checkpoint", {**served, "checkpoint": None,
                                                 "root": "cd" * 32})
        with pytest.raises(ForkDetected, match="not the genesis"):
            light.refresh()
        assert light.trusted is not None and light.trusted.checkpoint == trusted
        assert len(light.forks) == 2


def test_from_the_genesis_a_later_checkpoint_needs_consistency_from_size_1(
        tmp_path: Path) -> None:
    with ExitStack() as stack:
        honest = stack.enter_context(registered_node(tmp_path / "a", 3))
        other = stack.enter_context(registered_node(tmp_path / "b", 3,
                                                    start=START + timedelta(seconds=1)))
        for n in (honest, other):
            grant_line(n)
            _cosign(n, 1, 2)  # a quorum (node1, node2) signs block 1 on both chains
        genesis = read_genesis(tmp_path / "a" / "genesis.json")
        light = _client(other, genesis=genesis)
        with pytest.raises(ForkDetected, match="no consistency from size 1 to 2"):
            light.refresh()  # quorum-signed, but its log does not start with our genesis
        light = _client(honest, genesis=genesis)
        trusted = light.refresh()
        assert trusted.cosigners == {"node1", "node2"} and trusted.block.height == 1
        assert trusted.checkpoint == checkpoint_of(honest.service.chain, _header(honest, 1))


@pytest.mark.etcd
def test_a_network_client_anchored_at_the_genesis_follows_the_chain_from_height_0(
        tmp_path: Path, etcd_members: list[Any]) -> None:
    with running_network(tmp_path, [m.client_url for m in etcd_members]) as nodes:
        genesis_path = tmp_path / "node1" / "genesis.json"
        org = nodes[0].orgs["s2"]
        from tests.pki import shared_pki
        s2 = Participant(nodes[0].url, Identity(org.uscc, org.name, org.key),
                         now=nodes[0].clock.now, tls=shared_pki().member_context(org),
                         genesis_file=genesis_path)
        assert nodes[0].service.final_height == 0
        assert s2.refresh_checkpoint().block.height == 0
        grant_line(nodes[0])
        wait_until_final(nodes, 1)
        later = s2.refresh_checkpoint()
        assert later.block.height >= 1 and len(later.cosigners) >= 2
        assert s2.light.forks == []
