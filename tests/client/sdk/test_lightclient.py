"""The light client: proofs for every tree shape, forged proofs, and forks caught on real nodes.

The exhaustive part is pure (MerkleLog and the verifiers the client uses);
the rest runs real nodes.  A fork is simulated honestly: two nodes start from
the same genesis with the same registered node key and build different
histories, so each serves checkpoints genuinely signed by that key, as a
real fork would be.  A tiny fake node (an httpx transport in front of a real
node) serves one of them an older, genuine checkpoint of the other chain.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from client.sdk.http import NodeClient
from client.sdk.keystore import Identity
from client.sdk.lightclient import ForkDetected, LightClient, nodes_from_genesis
from client.sdk.participant import Participant
from client.sdk.proofs import verify_log_consistency, verify_tx_inclusion
from contracts.records import derived_id
from ledger.checkpoint import check_cosigned, parse_signed_checkpoint
from ledger.errors import ProofError, SignatureError
from ledger.merkle import (
    MerkleLog,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from tests.builders import START, build_tx, make_orgs
from tests.node.support import FACE, grant_line, issue_accepted
from tests.nodes import RunningNode, network_nodes, registered_node, running_node

# -- (a) every tree shape: inclusion and consistency proofs verify ------------------------------

MAX_N = 64
LEAVES = [leaf_hash(b"entry %d" % i) for i in range(MAX_N)]
LOG = MerkleLog()
LOG.extend(LEAVES)
ROOTS = [root_from_leaf_hashes(LEAVES[:n]) for n in range(MAX_N + 1)]  # independent roots


@pytest.mark.parametrize("n", range(1, MAX_N + 1))
def test_every_inclusion_and_consistency_proof_verifies_in_a_log_of_size_n(n: int) -> None:
    log = MerkleLog()
    log.extend(LEAVES[:n])
    for m in range(1, n + 1):
        assert log.root(m) == ROOTS[m]
        for index in range(m):
            verify_inclusion(LEAVES[index], index, m, log.inclusion_proof(index, m), ROOTS[m])
        proof = log.consistency_proof(m, n)
        verify_consistency(m, n, ROOTS[m], ROOTS[n], proof)
        verify_log_consistency({"size": m, "root": ROOTS[m].hex()},
                               {"size": n, "root": ROOTS[n].hex()},
                               {"proof": [p.hex() for p in proof]})


# -- (b) forged proofs are rejected -------------------------------------------------------------

def _flipped(proof: tuple[bytes, ...], at: int) -> tuple[bytes, ...]:
    forged = list(proof)
    forged[at] = bytes([forged[at][0] ^ 1]) + forged[at][1:]
    return tuple(forged)


def _inclusion_forgeries(index: int, size: int) -> Iterator[tuple[str, int, int, Any]]:
    """(what, claimed index, claimed size, proof) for every forgery of one genuine proof."""
    proof = LOG.inclusion_proof(index, size)
    for at in range(len(proof)):
        yield f"hash {at} flipped", index, size, _flipped(proof, at)
    if proof:
        yield "truncated", index, size, proof[:-1]
        yield "first hash dropped", index, size, proof[1:]
    yield "extra hash", index, size, (*proof, LEAVES[0])
    yield "extra hash first", index, size, (LEAVES[0], *proof)
    for other in (index - 1, index + 1):
        if 0 <= other < size:
            yield f"index {other}", other, size, proof
    for other in (size - 1, size + 1):
        if index < other <= MAX_N and other != size:
            yield f"size {other}", index, other, proof


@pytest.mark.parametrize("size", range(1, 33))
def test_every_forged_inclusion_proof_is_rejected(size: int) -> None:
    for index in range(size):
        for what, claimed_index, claimed_size, proof in _inclusion_forgeries(index, size):
            with pytest.raises(ProofError):  # checked against the claimed size's true root
                verify_inclusion(LEAVES[index], claimed_index, claimed_size, proof,
                                 ROOTS[claimed_size])
                pytest.fail(f"{what} of leaf {index} in size {size} verified")


def _consistency_forgeries(m: int, n: int) -> Iterator[tuple[str, int, int, Any]]:
    proof = LOG.consistency_proof(m, n)
    for at in range(len(proof)):
        yield f"hash {at} flipped", m, n, _flipped(proof, at)
    yield "truncated", m, n, proof[:-1]
    yield "first hash dropped", m, n, proof[1:]
    yield "extra hash", m, n, (*proof, LEAVES[0])
    yield "extra hash first", m, n, (LEAVES[0], *proof)
    for other in (m - 1, m + 1):
        if 0 < other < n:
            yield f"first size {other}", other, n, proof
    for other in (n - 1, n + 1):
        if m < other <= MAX_N:
            yield f"second size {other}", m, other, proof


@pytest.mark.parametrize("n", range(2, 33))
def test_every_forged_consistency_proof_is_rejected(n: int) -> None:
    for m in range(1, n):
        for what, first, second, proof in _consistency_forgeries(m, n):
            with pytest.raises(ProofError):
                verify_consistency(first, second, ROOTS[first], ROOTS[second], proof)
                pytest.fail(f"{what} of {m} -> {n} verified")


def test_a_served_inclusion_proof_must_be_for_the_trusted_size_and_envelope() -> None:
    orgs = make_orgs()
    envelope = build_tx(orgs, ["s1"], "receivable", "reject", {"receivable": "x"}, now=START)
    log = MerkleLog()
    log.extend([LEAVES[0], leaf_hash(envelope.canonical()), *LEAVES[2:8]])
    proof = {"tree_size": 5, "leaf_index": 1,
             "proof": [p.hex() for p in log.inclusion_proof(1, 5)]}
    verify_tx_inclusion(envelope.to_json(), envelope.tx_id, proof,
                        {"size": 5, "root": log.root(5).hex()})
    with pytest.raises(ProofError, match="different log size"):
        verify_tx_inclusion(envelope.to_json(), envelope.tx_id, proof,
                            {"size": 6, "root": log.root(6).hex()})
    with pytest.raises(ProofError, match="not the transaction asked for"):
        verify_tx_inclusion(envelope.to_json(), "ab" * 32, proof,
                            {"size": 5, "root": log.root(5).hex()})


# -- (c) real nodes: trust, proofs, and forks caught ----------------------------------------------

def _node(stack: ExitStack, folder: Path, **settings: Any) -> RunningNode:
    """Serve an embedded node with one registered node (node1, key 1): it signs as node1."""
    return stack.enter_context(registered_node(folder, 1, **settings))


def _participant(n: RunningNode, name: str, trust: Path | None = None,
                 **kwargs: Any) -> Participant:
    org = n.orgs[name]
    return Participant(n.url, Identity(org.uscc, org.name, org.key), now=n.clock.now,
                       trust_file=trust, **kwargs)


def test_a_participant_trusts_cosigned_checkpoints_and_proves_reads(tmp_path: Path) -> None:
    trust = tmp_path / "trust.json"
    with ExitStack() as stack:
        n = _node(stack, tmp_path / "a")
        line = grant_line(n)
        s1 = _participant(n, "s1", trust)
        first = s1.refresh_checkpoint()
        assert first.cosigners == {"node1"} and first.size == n.service.chain.log.size
        root = issue_accepted(n, line, "s1")
        note = s1.proven_note(root)  # refreshes: the issue is beyond the trusted checkpoint
        assert note["holder"] == n.orgs["s1"].uscc
        later = s1.light.trusted
        assert later is not None and later.size > first.size
        assert s1.proven_transaction(note["created_tx"])["status"] == "committed"
        saved = json.loads(trust.read_text())
        assert saved["checkpoint"] == later.note
        assert saved["nodes"] == [node.to_json() for node in network_nodes(1)]
        again = _participant(n, "s1", trust)  # a restart reads and re-checks the state
        assert again.light.trusted == later
        assert not (tmp_path / "trust.json.forks.jsonl").exists()


def test_a_note_must_derive_from_the_transaction_the_node_names(tmp_path: Path) -> None:
    with ExitStack() as stack:
        n = _node(stack, tmp_path / "a")
        line = grant_line(n)
        root = issue_accepted(n, line, "s1")
        s1 = _participant(n, "s1")
        note = s1.note(root)
        lying = {**note, "created_tx": "ab" * 32}
        s1.light.node.get = _answering({f"/v1/notes/{root}": lying}, s1.light.node.get)
        with pytest.raises(ProofError, match="not an output of transaction abab"):
            s1.proven_note(root)
    assert derived_id(note["created_tx"], 0) == root


def _answering(fixed: dict[str, Any], real: Callable[..., Any]) -> Callable[..., Any]:
    """A node client `get` that answers `fixed` paths itself and asks the real node otherwise."""
    def get(path: str, params: Any = None) -> Any:
        return fixed[path] if path in fixed else real(path, params)
    return get


def test_a_node_on_another_history_with_a_longer_log_is_caught(tmp_path: Path) -> None:
    trust = tmp_path / "trust.json"
    with ExitStack() as stack:
        honest, forked = _node(stack, tmp_path / "a"), _node(stack, tmp_path / "b")
        grant_line(honest)
        for limit in (FACE, FACE + 1, FACE + 2):
            grant_line(forked, limit=limit)
        trusted = _participant(honest, "s1", trust).refresh_checkpoint()
        victim = _participant(forked, "s1", trust)
        with pytest.raises(ForkDetected, match="no consistency from size") as caught:
            victim.refresh_checkpoint()
    _check_evidence(caught.value, trusted.note, tmp_path / "trust.json.forks.jsonl")
    assert victim.light.trusted == trusted and victim.light.forks == [caught.value]
    assert caught.value.proof  # the failed consistency proof is kept too


def test_the_same_log_size_with_another_root_is_caught(tmp_path: Path) -> None:
    with ExitStack() as stack:
        honest, forked = _node(stack, tmp_path / "a"), _node(stack, tmp_path / "b")
        grant_line(honest, limit=FACE)
        grant_line(forked, limit=FACE + 1)  # one transaction each: the same size
        light = LightClient(NodeClient(honest.url, _identity(honest), now=honest.clock.now))
        trusted = light.refresh()
        light.node = NodeClient(forked.url, _identity(forked), now=forked.clock.now)
        with pytest.raises(ForkDetected, match="the same log size has two different roots") as c:
            light.refresh()
    _check_evidence(c.value, trusted.note, None)


def _identity(n: RunningNode, name: str = "auditor") -> Identity:
    org = n.orgs[name]
    return Identity(org.uscc, org.name, org.key)


def _older_checkpoint_proxy(real: RunningNode, height: int) -> httpx.MockTransport:
    """A fake node: `real`'s answers, except its checkpoint is the one of block `height`."""
    source = NodeClient(real.url, _identity(real), now=real.clock.now)
    older = source.get("/v1/log/checkpoint", {"height": height})
    forward = httpx.Client()

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/log/checkpoint":
            return httpx.Response(200, json=older)
        url = httpx.URL(real.url).join(request.url.raw_path.decode())
        answer = forward.request(request.method, url, headers=request.headers,
                                 content=request.content)
        return httpx.Response(answer.status_code, content=answer.content,
                              headers={"content-type": "application/json"})

    return httpx.MockTransport(handle)


def test_an_older_checkpoint_whose_root_does_not_match_is_caught(tmp_path: Path) -> None:
    with ExitStack() as stack:
        honest, forked = _node(stack, tmp_path / "a"), _node(stack, tmp_path / "b")
        for limit in (FACE, FACE + 1):
            grant_line(honest, limit=limit)
        for limit in (FACE + 2, FACE + 3, FACE + 4):
            grant_line(forked, limit=limit)
        light = LightClient(NodeClient(honest.url, _identity(honest), now=honest.clock.now))
        trusted = light.refresh()
        light.node = NodeClient("http://fake", _identity(forked), chain_id="test-chain",
                                now=forked.clock.now, transport=_older_checkpoint_proxy(forked, 1))
        with pytest.raises(ForkDetected, match="no consistency from size 2 to 3") as caught:
            light.refresh()
    _check_evidence(caught.value, trusted.note, None)
    assert parse_signed_checkpoint(caught.value.served).checkpoint.size == 2


def test_an_honest_node_behind_the_trusted_checkpoint_changes_nothing(tmp_path: Path) -> None:
    with ExitStack() as stack:
        n = _node(stack, tmp_path / "a")
        for limit in (FACE, FACE + 1):
            grant_line(n, limit=limit)
        light = LightClient(NodeClient(n.url, _identity(n), now=n.clock.now))
        trusted = light.refresh()
        light.node = NodeClient("http://fake", _identity(n), chain_id="test-chain",
                                now=n.clock.now, transport=_older_checkpoint_proxy(n, 1))
        assert light.refresh() == trusted  # its older checkpoint is proven a prefix
        assert light.forks == []


def test_a_tampered_or_unsigned_checkpoint_is_never_trusted(tmp_path: Path) -> None:
    with ExitStack() as stack:
        n = _node(stack, tmp_path / "a")
        grant_line(n)
        light = LightClient(NodeClient(n.url, _identity(n), now=n.clock.now))
        served = light.node.get("/v1/log/checkpoint")
        real_get = light.node.get
        tampered = {**served, "checkpoint": served["checkpoint"].replace(
            f"\n{served['size']}\n", f"\n{served['size'] + 1}\n")}
        light.node.get = _answering({"/v1/log/checkpoint": tampered}, real_get)
        with pytest.raises(SignatureError, match="node1 does not verify"):
            light.refresh()
        light.node.get = _answering({"/v1/log/checkpoint": {**served, "size": 99}}, real_get)
        with pytest.raises(ProofError, match="fields disagree"):
            light.refresh()
        light.node.get = _answering({"/v1/log/checkpoint": {**served, "checkpoint": None}},
                                    real_get)
        with pytest.raises(SignatureError, match="unsigned checkpoint"):
            light.refresh()
        assert light.trusted is None


def test_an_embedded_chain_is_trusted_unsigned_only_when_asked(tmp_path: Path) -> None:
    with running_node(tmp_path, verifier_processes=0) as n:
        grant_line(n)
        strict = LightClient(NodeClient(n.url, _identity(n), now=n.clock.now))
        with pytest.raises(SignatureError, match="unsigned checkpoint"):
            strict.refresh()
        lenient = LightClient(NodeClient(n.url, _identity(n), now=n.clock.now),
                              accept_unsigned=True)
        trusted = lenient.refresh()
        assert trusted.cosigners == frozenset() and trusted.size == 2
        assert lenient.nodes() == {}
        b1 = _participant(n, "b1", accept_unsigned=True)
        row = n.service.store.tx_at_log_index(1)
        assert row is not None and b1.proven_transaction(row.id)["log_index"] == 1


def test_pinned_nodes_cannot_be_swapped_and_the_genesis_can_name_them(tmp_path: Path) -> None:
    trust = tmp_path / "trust.json"
    with ExitStack() as stack:
        n = _node(stack, tmp_path / "a")
        grant_line(n)
        assert nodes_from_genesis(tmp_path / "a" / "genesis.json") == {
            node.id: node for node in network_nodes(1)}
        _participant(n, "s1", trust).refresh_checkpoint()  # pins node1 on first use
        other = {node.id: node for node in network_nodes(2)}
        with pytest.raises(SignatureError, match="pins other nodes"):
            _ = _participant(n, "s1", trust, cosigners=other).light


def _check_evidence(fork: ForkDetected, trusted: str, path: Path | None) -> None:
    """Both checkpoints are kept, signed by the same registered key, and written if asked."""
    assert fork.trusted == trusted and fork.served != trusted
    nodes = {node.id: node for node in network_nodes(1)}
    for note in (fork.trusted, fork.served):
        assert check_cosigned(parse_signed_checkpoint(note), "test-chain", nodes) == {"node1"}
    if path is not None:
        kept = [json.loads(line) for line in path.read_text().splitlines()]
        assert kept == [fork.evidence()]
        assert kept[0]["trusted_checkpoint"] == trusted
