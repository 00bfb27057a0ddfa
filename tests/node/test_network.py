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

from ledger.checkpoint import check_cosigned, parse_signed_checkpoint
from ledger.errors import rule_of
from tests.etcd import etcd_context
from tests.node.support import FACE, grant_line, issue_accepted, outputs, stored_state
from tests.nodes import RunningNode, running_network, wait_until_final, wait_until_level

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
        assert stored_state(node) == stored_state(nodes[0])
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
        wait_until_final(nodes, height)
        # Every node serves its final block's checkpoint; once all are final at the
        # same height, the tree heads and notes agree (cosignature sets may differ).
        served = [n.participant("auditor").checkpoint() for n in nodes]
        heads = {(c["height"], c["size"], c["root"], c["block_hash"]) for c in served}
        assert len(heads) == 1
        notes = {parse_signed_checkpoint(c["checkpoint"]).checkpoint for c in served}
        assert len(notes) == 1
        # A light client trusts it (a quorum cosigned) and proves s2's note against it,
        # then stays consistent through another node.
        s2 = nodes[0].participant("s2", also=[nodes[1].url])
        trusted = s2.refresh_checkpoint()
        assert len(trusted.cosigners) >= 2 and trusted.size == served[0]["size"]
        assert s2.proven_note(piece)["amount"] == FACE // 4
        s2.light.node = nodes[1].participant("s2").node
        assert s2.refresh_checkpoint().size == trusted.size and s2.light.forks == []


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
            assert rule_of(loser.reason) == "the note is active (not spent, settled or void)"


def test_every_block_gets_a_finality_certificate_from_a_quorum(
    tmp_path: Path, etcd_members: list[Any]
) -> None:
    from ledger.attestation import Attestation, check_attestation

    with running_network(tmp_path, [m.client_url for m in etcd_members]) as nodes:
        line = grant_line(nodes[0])
        wait_until_level(nodes)  # nodes[1] simulates the issue against the line it knows
        issue_accepted(nodes[1], line, "s1")
        height = _same_everywhere(nodes)
        wait_until_final(nodes, height)
        auditor = nodes[2].participant("auditor")
        registered = {n.id: n for n in nodes[0].service.finality.nodes().values()}  # type: ignore[union-attr]
        for h in range(1, height + 1):
            cert = auditor.node.get(f"/v1/blocks/{h}/certificate")
            assert cert["final"] is True and cert["quorum"] == 2  # 3 organisations run nodes
            signed = [Attestation.from_json(a) for a in cert["attestations"]]
            for att in signed:
                check_attestation(att, registered, "test-chain")
                assert att.header_hash == cert["header_hash"]
                assert att.note_signature is not None  # the checkpoint travels with it
            assert len({registered[a.node_id].org for a in signed}) >= cert["quorum"]
            # The block's checkpoint carries the cosignatures of those attestations.
            served = auditor.node.get("/v1/log/checkpoint", {"height": h})
            cosigners = check_cosigned(parse_signed_checkpoint(served["checkpoint"]),
                                       "test-chain", registered)
            assert cosigners >= {a.node_id for a in signed} | {"node3"}  # node3 serves
            assert served["block_hash"] == cert["header_hash"]
        status = auditor.status()
        assert status["final_height"] >= height and status["diverged"] is None


def test_a_node_that_a_quorum_contradicts_stops_and_shows_the_evidence(
    tmp_path: Path, etcd_members: list[Any]
) -> None:
    """Four nodes are registered; one runs here, the test signs for the other three."""
    from ledger.attestation import attest
    from ledger.canonical import canonical_bytes
    from node.ordering.etcd_client import EtcdClient
    from tests.nodes import node_key

    with running_network(tmp_path, [m.client_url for m in etcd_members], count=1,
                         registered=4) as nodes:
        node = nodes[0]
        grant_line(node)
        height = node.service.chain.head.height
        etcd = EtcdClient([m.client_url for m in etcd_members], ssl_context=etcd_context())
        forged = "ab" * 32
        for index in (2, 3, 4):  # three organisations' nodes sign another header hash
            att = attest(node_key(index), "test-chain", height, forged, f"node{index}")
            etcd.put_if_absent(f"/ledger/test-chain/attest/{height:012d}/node{index}".encode(),
                               canonical_bytes(att.to_json()))
        deadline = time.monotonic() + 20
        while node.participant("auditor").status()["diverged"] is None:
            assert time.monotonic() < deadline, "the divergence was not detected"
            time.sleep(0.05)
        evidence = node.participant("auditor").status()["diverged"]
        assert evidence["height"] == height and evidence["quorum_header_hash"] == forged
        assert evidence["own_header_hash"] == node.service.chain.head.hash()
        assert len(evidence["attestations"]) == 3
        # it commits nothing more: a valid transaction is accepted but not applied
        bank, core = node.participant("b1"), node.participant("core")
        line = core.cosign(bank.propose_credit_line(core=core.uscc, limit=FACE, currency="CNY",
                                                    expiry_date="2026-12-31"))
        bank.submit([line.envelope()], wait=False)
        time.sleep(1.0)
        assert node.service.chain.head.height == height
        assert node.service.final_height < height
        etcd.close()


def test_a_batch_without_a_registered_nodes_signature_is_rejected_by_every_node(
    tmp_path: Path, etcd_members: list[Any]
) -> None:
    """An ordering member that injects batches cannot make any node commit them."""
    import orjson

    from ledger.batch import sign_batch
    from ledger.crypto import PrivateKey, sha256
    from tests.nodes import node_key

    with running_network(tmp_path, [m.client_url for m in etcd_members]) as nodes:
        bank, core = nodes[0].participant("b1"), nodes[0].participant("core")
        line = core.cosign(bank.propose_credit_line(core=core.uscc, limit=FACE, currency="CNY",
                                                    expiry_date="2026-12-31")).envelope()
        body = orjson.dumps({"chain_id": "test-chain", "proposer": "node1",
                             "time": "2026-01-05T10:00:00Z", "txs": [line.to_json()]})
        intruder = PrivateKey(sha256(b"not a registered node"))
        forged = {
            "unsigned": body,
            "signed by an unknown key": sign_batch(body, "node1", intruder).encode(),
            "signed by an unregistered node": sign_batch(body, "node9", intruder).encode(),
            "a registered signature over other bytes": (
                sign_batch(body, "node1", node_key(1)).encode().replace(b"T10:", b"T11:")),
            "signed for another proposer": sign_batch(body, "node2", node_key(2)).encode(),
        }
        before = nodes[0].service.chain.head.height
        for data in forged.values():
            nodes[0].service.orderer.append(data)
        grant_line(nodes[1])  # a genuine transaction after them still commits
        height = _same_everywhere(nodes)
        assert height == before + len(forged) + 1
        for node in nodes:
            assert node.service.store.tx(line.tx_id) is None, "a forged batch's tx committed"
            for h in range(before + 1, before + len(forged) + 1):
                header = orjson.loads(node.service.store.block_header(h) or b"null")
                assert (header["tx_count"], header["proposer"]) == (0, "unknown")


def _compacted(etcd: Any, height: int) -> bool:
    """Return whether the log's mark reached `height - 1` and the batches before it are gone."""
    from node.ordering.etcd import read_mark

    mark = read_mark(etcd, "test-chain")
    if mark is None or mark.height < height - 1:
        return False
    stored, _revision, _more = etcd.range_prefix(b"/ledger/test-chain/batches/")
    return len(stored) <= height - mark.height


def test_a_node_away_past_compaction_catches_up_from_its_peers_certified_blocks(
    tmp_path: Path, etcd_members: list[Any]
) -> None:
    """Three nodes are registered, two run; the log is compacted past the third."""
    from node.ordering.etcd_client import EtcdClient
    from tests.nodes import network_node

    urls = [m.client_url for m in etcd_members]
    compaction = {"compact_interval_s": 0.2, "compact_retain_blocks": 1}
    with running_network(tmp_path, urls, count=2, registered=3, **compaction) as nodes:
        line = grant_line(nodes[0])
        wait_until_level(nodes)  # node 2 must hold the line before it can issue against it
        issue_accepted(nodes[1], line, "s1")
        for _ in range(3):
            grant_line(nodes[0], limit=FACE)
        height = _same_everywhere(nodes)
        wait_until_final(nodes, height)
        etcd = EtcdClient(urls, ssl_context=etcd_context())
        deadline = time.monotonic() + 20
        # A round writes the mark first and deletes the batches after it: wait for both.
        while not _compacted(etcd, height):
            assert time.monotonic() < deadline, "the log was not compacted (batches still stored)"
            time.sleep(0.1)
        peers = ",".join(n.url for n in nodes)
        with network_node(tmp_path, urls, 3, registered=3, peers=peers, **compaction) as late:
            nodes.append(late)
            assert _same_everywhere(nodes) == height
            grant_line(late)  # and it follows the log again afterwards
            height = _same_everywhere(nodes)
            wait_until_final(nodes, height)
            for h in range(1, height + 1):
                cert = late.participant("auditor").node.get(f"/v1/blocks/{h}/certificate")
                assert cert["final"] is True, h
                kept = late.service.store.block_batch(h)  # caught up or ordered: batch kept
                assert kept is not None and kept == nodes[0].service.store.block_batch(h), h
        etcd.close()


def test_the_sdk_fails_over_to_another_node_and_waits_for_finality(
    tmp_path: Path, etcd_members: list[Any]
) -> None:
    from client.local_consortium.launcher import free_port

    with running_network(tmp_path, [m.client_url for m in etcd_members]) as nodes:
        down = f"https://127.0.0.1:{free_port()}"  # nothing listens there
        bank = nodes[0].participant("b1", also=[down, nodes[1].url])
        core = nodes[0].participant("core")
        bank.node.urls[0] = down  # the first node this client knows is down
        line = core.cosign(bank.propose_credit_line(core=core.uscc, limit=FACE, currency="CNY",
                                                    expiry_date="2026-12-31")).envelope()
        status = bank.submit([line])[0]
        assert status["status"] == "committed"
        assert bank.node.base_url == nodes[1].url, "the client stays on the node that answered"
        final = bank.wait_final([line.tx_id])[0]
        assert final["final"] is True and final["height"] == status["height"]
        # resubmitting the same transaction through another node is recognised, not doubled
        again = nodes[2].participant("b1").submit([line], resubmit=True)[0]
        assert again["tx_id"] == line.tx_id and again["height"] == status["height"]
        _same_everywhere(nodes)
        assert sum(n.service.store.tx(line.tx_id) is not None for n in nodes) == len(nodes)
