"""The node's API on the happy path: submit, statuses, blocks, the log and its proofs, events.

One node serves most of the module.  A second node batches slowly (300 ms),
so that two transactions submitted in separate requests surely meet in one
block: both pass simulation, and the second fails when the block commits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from client.sdk.http import NodeError
from client.sdk.participant import Participant, TransactionFailed
from client.sdk.proofs import verify_log_consistency, verify_tx_inclusion
from ledger.block import GENESIS_PREV_HASH, BlockHeader, tx_root
from ledger.canonical import canonical_bytes
from ledger.errors import ProofError, rule_of
from ledger.timefmt import format_timestamp
from tests.builders import make_orgs
from tests.node.support import (
    FACE,
    LINE_EXPIRY,
    envelope,
    grant_line,
    issue_accepted,
    outputs,
    raw,
    submit_raw,
    wait_committed,
)
from tests.nodes import RunningNode, running_node


@dataclass
class Node:
    """The module's node and its participants."""

    n: RunningNode
    people: dict[str, Participant]
    line: str

    def __getitem__(self, name: str) -> Participant:
        return self.people[name]

    def uscc(self, name: str) -> str:
        return self.n.orgs[name].uscc

    def grant(self, limit: int = FACE) -> Any:
        args = {"bank": self.uscc("b1"), "core": self.uscc("core"), "limit": limit,
                "currency": "CNY", "expiry_date": LINE_EXPIRY}
        return envelope(self.n, ["b1", "core"], "receivable", "grant_credit_line", args)


def _serve(tmp: Any, **settings: Any) -> Iterator[Node]:
    with running_node(tmp, **settings) as n:
        people = {name: n.participant(name) for name in n.orgs}
        yield Node(n, people, grant_line(n))
        for person in people.values():
            person.close()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    yield from _serve(tmp_path_factory.mktemp("api"))


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    yield from _serve(tmp_path_factory.mktemp("api-slow"), batch_max_wait_ms=300)


# -- submitting ------------------------------------------------------------------------------


def test_submit_and_wait_answers_the_committed_status(node: Node) -> None:
    env = node.grant()
    r = submit_raw(node.n, node.n.orgs["b1"], {"transactions": [env.to_json()]})
    assert r.status_code == 202
    assert r.json() == {"accepted": [env.tx_id]}
    status = wait_committed(node.n, env.tx_id)
    env2 = node.grant()
    answer = node["b1"].node.post("/v1/transactions", {"transactions": [env2.to_json()]},
                                  params={"wait": True, "timeout": 10})
    assert answer["accepted"] == [env2.tx_id]
    [result] = answer["results"]
    assert result["tx_id"] == env2.tx_id
    assert result["status"] == "committed"
    assert result["valid"] is True
    assert (result["code"], result["reason"]) == ("ok", "")
    assert result["height"] > status["height"] or result["log_index"] > status["log_index"]


def test_a_transaction_is_committed_only_once_the_node_head_has_moved_to_its_block(
    slow: Node,
) -> None:
    """A block's rows reach the database before the node's head moves to it.

    In between, the status says pending: a client told "committed" at
    height h may at once ask for the head, a proof or the block (CI saw
    `committed` with the head still below the block).
    """
    chain, store = slow.n.service.chain, slow.n.service.store
    written, go_on = threading.Event(), threading.Event()
    commit_block = store.commit_block

    def commit_then_pause(block: Any) -> None:
        commit_block(block)
        written.set()
        go_on.wait(10)

    env = slow.grant()
    store.commit_block = commit_then_pause  # type: ignore[method-assign]
    try:
        slow["b1"].submit([env], wait=False)
        assert written.wait(10), "the block was not written"
        assert chain.head.height < store.tx(env.tx_id).height  # type: ignore[union-attr]
        assert slow.n.service.tx_status(env.tx_id) == {"tx_id": env.tx_id, "status": "pending"}
        seen = slow["core"].transaction(env.tx_id)
        assert seen["status"] == "pending" and "envelope" not in seen
        assert env.tx_id not in [e["tx_id"] for e in slow["core"].events(limit=1000)]
        height = store.tx(env.tx_id).height  # type: ignore[union-attr]
        blocks = slow["core"].node.get("/v1/blocks", params={"from": height - 1})["blocks"]
        assert [b["header"]["height"] for b in blocks] == [height - 1]
        with pytest.raises(NodeError) as unknown:
            slow["auditor"].node.get(f"/v1/blocks/{height}")
        assert unknown.value.status == 404
    finally:
        store.commit_block = commit_block  # type: ignore[method-assign]
        go_on.set()
    status = wait_committed(slow.n, env.tx_id)
    assert status["status"] == "committed"
    assert status["height"] <= slow["core"].status()["height"]


def test_a_single_envelope_may_be_posted_alone(node: Node) -> None:
    env = node.grant()
    answer = node["core"].node.post("/v1/transactions", env.to_json(), params={"wait": True})
    assert answer["accepted"] == [env.tx_id]
    assert answer["results"][0]["status"] == "committed"


def test_transaction_status_carries_envelope_and_events(node: Node) -> None:
    env = node.grant(limit=FACE * 2)
    node["b1"].submit([env])
    status = node["core"].transaction(env.tx_id)
    assert status["status"] == "committed"
    assert status["envelope"] == env.to_json()
    [event] = status["events"]
    assert event["type"] == "credit_line_granted"
    line = node["core"].record("credit_line", event["credit_line"])
    assert (line["limit"], line["used"], line["core"]) == (FACE * 2, 0, node.uscc("core"))


def test_a_batch_commits_together_in_order(node: Node) -> None:
    envs = [node.grant(limit=FACE + i) for i in range(3)]
    results = node["b1"].submit(envs)
    assert [r["tx_id"] for r in results] == [e.tx_id for e in envs]
    assert [r["status"] for r in results] == ["committed"] * 3
    indexes = [r["log_index"] for r in results]
    assert indexes == sorted(indexes) and len(set(indexes)) == 3


def test_business_flow_through_the_sdk(node: Node) -> None:
    root = issue_accepted(node.n, node.line, "s1")
    r = node["s1"].transfer(root, [(node.uscc("s2"), 30_000_000)])
    paid = outputs(r)[node.uscc("s2")]
    assert node["s2"].note(paid)["amount"] == 30_000_000
    assert node["s1"].note(root)["status"] == "spent"
    assert [x["id"] for x in node["s2"].lineage(paid)] == [paid, root]


def test_status_and_checkpoint_agree(node: Node) -> None:
    status = node["s1"].status()
    checkpoint = node["s1"].checkpoint()
    assert status["chain_id"] == checkpoint["chain_id"] == node.n.service.chain.chain_id
    assert status["log_size"] == checkpoint["size"]
    assert status["height"] == checkpoint["height"]
    assert status["head_hash"] == checkpoint["block_hash"]
    assert status["pending"] == 0
    assert status["time"] == "2026-01-05T09:00:00Z"


# -- a transaction that fails at commit -----------------------------------------------------------


def test_double_spend_in_separate_requests_fails_at_commit(slow: Node) -> None:
    root = issue_accepted(slow.n, slow.line, "s1")
    s1 = slow["s1"]
    pay_s2 = s1.prepare("receivable", "transfer", {
        "note": root, "payments": [{"to": slow.uscc("s2"), "amount": 30_000_000}]}).envelope()
    pay_s3 = s1.prepare("receivable", "transfer", {
        "note": root, "payments": [{"to": slow.uscc("s3"), "amount": 40_000_000}]}).envelope()
    first = s1.submit([pay_s2], wait=False)
    assert first == [{"tx_id": pay_s2.tx_id, "status": "pending"}]
    # While it waits for its batch: pending for its signer and the auditor, unknown to others;
    # the same envelope again is a replay.
    assert s1.transaction(pay_s2.tx_id) == {"tx_id": pay_s2.tx_id, "status": "pending"}
    assert slow["auditor"].transaction(pay_s2.tx_id)["status"] == "pending"
    with pytest.raises(NodeError) as hidden:
        slow["s2"].transaction(pay_s2.tx_id)
    assert hidden.value.status == 404
    with pytest.raises(NodeError) as replay:
        s1.submit([pay_s2], wait=False)
    assert (replay.value.status, replay.value.code) == (409, "replay")
    assert "is already pending" in replay.value.detail
    # The second spend passes simulation (the first is not committed yet) ...
    with pytest.raises(TransactionFailed) as failed:
        s1.submit([pay_s3])
    # ... and fails when the block commits: exactly one wins.
    lost = failed.value.status
    assert lost["tx_id"] == pay_s3.tx_id
    assert lost["status"] == "invalid" and lost["valid"] is False
    assert lost["code"] == "contract_violation"
    assert rule_of(lost["reason"]) == "the note is active (not spent, settled or void)"
    won = wait_committed(slow.n, pay_s2.tx_id)
    assert won["status"] == "committed" and won["valid"] is True
    later = s1.transaction(pay_s3.tx_id)
    assert later["status"] == "invalid"
    assert later["reason"] == lost["reason"]
    assert later["events"] == []
    assert {x["amount"] for x in slow["s2"].holdings()} == {30_000_000}
    assert slow["s3"].holdings() == []
    assert slow["core"].receivable(root)["receivable"]["face"] == FACE
    # An invalid transaction is still in the log, and provably so.
    s1.verify_inclusion(pay_s3.tx_id)


# -- blocks ----------------------------------------------------------------------------------


def test_blocks_link_by_hash(node: Node) -> None:
    node["b1"].submit([node.grant()])
    blocks = node["s1"].node.get("/v1/blocks", {"from": 0, "limit": 1000})["blocks"]
    height = node["s1"].status()["height"]
    assert [b["header"]["height"] for b in blocks] == list(range(height + 1))
    assert blocks[0]["header"]["prev_hash"] == GENESIS_PREV_HASH
    log_size = 0
    for previous, block in zip([None, *blocks], blocks, strict=False):
        header = BlockHeader.from_json(block["header"])
        assert header.hash() == block["hash"]
        if previous is not None:
            assert header.prev_hash == previous["hash"]
            assert header.time >= previous["header"]["time"]
        log_size += header.tx_count
        assert header.log_size == log_size
    assert blocks[-1]["hash"] == node["s1"].status()["head_hash"]
    page = node["s1"].node.get("/v1/blocks", {"from": 1, "limit": 2})["blocks"]
    assert page == blocks[1:3]
    assert node["s1"].node.get(f"/v1/blocks/{height}") == blocks[-1]


def test_block_contents_match_their_headers(node: Node) -> None:
    auditor = node["auditor"]
    for h in range(auditor.status()["height"] + 1):
        block = auditor.node.get(f"/v1/blocks/{h}")
        txs = block["transactions"]
        leaves = [canonical_bytes(t["envelope"]) for t in txs]
        assert tx_root(leaves) == block["header"]["tx_root"]
        assert [t["log_index"] for t in txs] == list(
            range(block["header"]["log_size"] - len(txs), block["header"]["log_size"]))


# -- the log: checkpoints and proofs ------------------------------------------------------------


def test_inclusion_proofs_verify_for_several_transactions(node: Node) -> None:
    envs = [node.grant(limit=FACE + 100 + i) for i in range(4)]
    node["b1"].submit(envs[:2])
    node["b1"].submit(envs[2:])
    checkpoint = node["core"].checkpoint()
    assert checkpoint["size"] >= 5
    for env in envs:
        tx = node["core"].transaction(env.tx_id)
        proof = node["core"].node.get(f"/v1/log/inclusion/{env.tx_id}",
                                      {"size": checkpoint["size"]})
        assert proof["root"] == checkpoint["root"]
        assert proof["leaf_index"] == tx["log_index"]
        verify_tx_inclusion(tx["envelope"], env.tx_id, proof, checkpoint)
        node["b1"].verify_inclusion(env.tx_id)


def test_inclusion_in_an_older_tree_head(node: Node) -> None:
    env = node.grant(limit=FACE + 200)
    node["b1"].submit([env])
    older = node["b1"].checkpoint()
    node["b1"].submit([node.grant(limit=FACE + 201)])
    newer = node["b1"].checkpoint()
    assert newer["size"] > older["size"]
    node["b1"].verify_inclusion(env.tx_id, older)
    node["b1"].verify_inclusion(env.tx_id, newer)


def test_consistency_between_two_checkpoints(node: Node) -> None:
    older = node["s1"].checkpoint()
    node["b1"].submit([node.grant(limit=FACE + 300)])
    node["b1"].submit([node.grant(limit=FACE + 301), node.grant(limit=FACE + 302)])
    newer = node["s1"].checkpoint()
    proof = node["s1"].node.get("/v1/log/consistency",
                                {"first": older["size"], "second": newer["size"]})
    assert (proof["first_root"], proof["second_root"]) == (older["root"], newer["root"])
    verify_log_consistency(older, newer, proof)
    default = node["s1"].node.get("/v1/log/consistency", {"first": older["size"]})
    assert default == proof
    for size in range(1, newer["size"] + 1):
        step = node["s1"].node.get("/v1/log/consistency", {"first": size,
                                                           "second": newer["size"]})
        verify_log_consistency({"size": size, "root": step["first_root"]}, newer, step)


def _flip(hex_hash: str) -> str:
    return ("0" if hex_hash[0] != "0" else "1") + hex_hash[1:]


def _tampered_inclusion(node: Node) -> list[tuple[str, Any]]:
    envs = [node.grant(limit=FACE + 400 + i) for i in range(2)]
    node["b1"].submit(envs)
    checkpoint = node["b1"].checkpoint()
    tx = node["b1"].transaction(envs[0].tx_id)
    other = node["b1"].transaction(envs[1].tx_id)
    proof = node["b1"].node.get(f"/v1/log/inclusion/{envs[0].tx_id}")
    assert proof["proof"], "a proof in a log of several leaves has hashes"
    resigned = {**tx["envelope"], "signatures": tx["envelope"]["signatures"][::-1]}
    return [
        ("proof hash", (tx["envelope"], tx["tx_id"],
                        {**proof, "proof": [_flip(proof["proof"][0]), *proof["proof"][1:]]},
                        checkpoint)),
        ("missing hash", (tx["envelope"], tx["tx_id"],
                          {**proof, "proof": proof["proof"][:-1]}, checkpoint)),
        ("extra hash", (tx["envelope"], tx["tx_id"],
                        {**proof, "proof": [*proof["proof"], "00" * 32]}, checkpoint)),
        ("leaf index", (tx["envelope"], tx["tx_id"],
                        {**proof, "leaf_index": proof["leaf_index"] + 1}, checkpoint)),
        ("root", (tx["envelope"], tx["tx_id"], proof,
                  {**checkpoint, "root": _flip(checkpoint["root"])})),
        ("tree size", (tx["envelope"], tx["tx_id"],
                       {**proof, "tree_size": proof["tree_size"] - 1}, checkpoint)),
        ("other envelope", (other["envelope"], tx["tx_id"], proof, checkpoint)),
        ("reordered signatures", (resigned, tx["tx_id"], proof, checkpoint)),
        ("not hex", (tx["envelope"], tx["tx_id"], {**proof, "proof": ["zz"]}, checkpoint)),
    ]


def test_tampered_inclusion_proofs_are_rejected(node: Node) -> None:
    cases = _tampered_inclusion(node)
    for name, args in cases:
        with pytest.raises(ProofError):
            verify_tx_inclusion(*args)
            pytest.fail(f"tampered {name} verified")


def test_tampered_consistency_proofs_are_rejected(node: Node) -> None:
    older = node["s1"].checkpoint()
    node["b1"].submit([node.grant(limit=FACE + 500)])
    newer = node["s1"].checkpoint()
    proof = node["s1"].node.get("/v1/log/consistency",
                                {"first": older["size"], "second": newer["size"]})
    verify_log_consistency(older, newer, proof)
    assert proof["proof"]
    cases = [
        (older, newer, {**proof, "proof": [_flip(proof["proof"][0]), *proof["proof"][1:]]}),
        (older, newer, {**proof, "proof": proof["proof"][:-1]}),
        ({**older, "root": _flip(older["root"])}, newer, proof),
        (older, {**newer, "root": _flip(newer["root"])}, proof),
        ({**older, "size": older["size"] - 1}, newer, proof),
    ]
    for case in cases:
        with pytest.raises(ProofError):
            verify_log_consistency(*case)


# -- events, health, docs ---------------------------------------------------------------------


def test_events_feed_follows_new_transactions(node: Node) -> None:
    s4 = node["s4"]
    head = s4.status()["log_size"] - 1  # the cursor is a log index
    assert s4.events(after=head) == []
    status = node["core"].act("issue", credit_line=node.line, to=node.uscc("s4"), amount=FACE,
                              currency="CNY", maturity_date="2026-04-05", trade={
                                  "contract_no": "PO-9", "documents": [], "invoices": [{
                                      "seller": node.uscc("s4"), "number": "EV-1",
                                      "amount": FACE, "allocated": FACE}]})
    [item] = s4.events(after=head)
    assert item["tx_id"] == status["tx_id"]
    assert (item["contract"], item["action"], item["valid"]) == ("receivable", "issue", True)
    assert item["height"] == status["height"]
    assert item["events"][0]["type"] == "issued"
    assert item["log_index"] == status["log_index"]
    assert s4.events(after=item["log_index"]) == []
    assert item in s4.events()


def test_health_is_unauthenticated(node: Node) -> None:
    answer = httpx.get(node.n.url + "/v1/health")
    assert answer.status_code == 200
    assert answer.json() == {"ok": True, "chain_id": node.n.service.chain.chain_id,
                             "node_id": node.n.service.config.node_id, "clock": "manual",
                             "time": format_timestamp(node.n.clock.now())}


def test_docs_and_openapi_are_served(node: Node) -> None:
    docs = httpx.get(node.n.url + "/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    spec = httpx.get(node.n.url + "/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    for path in ("/v1/transactions", "/v1/transactions/{tx_id}", "/v1/blocks/{height}",
                 "/v1/notes/{note_id}", "/v1/log/checkpoint", "/v1/log/inclusion/{tx_id}",
                 "/v1/log/consistency", "/v1/events", "/v1/health", "/v1/status"):
        assert path in paths, path


def test_the_manual_clock_moves_forward(tmp_path: Any) -> None:
    with running_node(tmp_path, clock_controllers=make_orgs()["s1"].uscc) as n:
        answer = raw(n, n.orgs["s1"], "POST", "/v1/admin/clock",
                     orjson.dumps({"days": 1, "seconds": 30}))
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"time": "2026-01-06T09:00:30Z"}
        p = n.participant("b1")
        try:
            assert p.status()["time"] == "2026-01-06T09:00:30Z"
        finally:
            p.close()


def test_submitting_many_then_waiting_on_each(node: Node) -> None:
    envs = [node.grant(limit=FACE + 600 + i) for i in range(10)]
    for env in envs:
        node["b1"].submit([env], wait=False)
    deadline = time.monotonic() + 10
    for env in envs:
        assert wait_committed(node.n, env.tx_id, deadline - time.monotonic())["valid"]


def _one_block_of_grants(node: Node, count: int, base: int) -> list[Any]:
    """Commit `count` grants in one block; return them in block order."""
    envs = sorted((node.grant(limit=base + i) for i in range(count)),
                  key=lambda e: e.tx_id, reverse=True)  # block order is not id order
    results = node["b1"].submit(envs)
    assert len({r["height"] for r in results}) == 1
    return envs


def test_following_the_events_feed_in_small_pages_loses_nothing(node: Node) -> None:
    start = node["b1"].status()["log_size"] - 1
    envs = _one_block_of_grants(node, 3, FACE + 700)
    received: list[str] = []
    after = start
    for _ in range(10):
        page = node["b1"].events(after=after, limit=2)
        if not page:
            break
        received += [item["tx_id"] for item in page]
        after = page[-1]["log_index"]
    assert set(received) == {e.tx_id for e in envs}


def test_events_within_a_block_come_in_block_order(node: Node) -> None:
    start = node["b1"].status()["log_size"] - 1
    envs = _one_block_of_grants(node, 3, FACE + 800)
    feed = [item["tx_id"] for item in node["b1"].events(after=start)]
    assert feed == [e.tx_id for e in envs]
