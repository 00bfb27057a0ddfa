"""Restarting a node on the same database and orderer log: nothing lost, nothing changed.

`running_node` keeps the database and the orderer log in its directory and
writes the same genesis each time, so leaving the block and entering it again
on the same directory is a stop and a restart of one node.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from client.sdk.http import NodeError
from client.sdk.participant import Participant
from client.sdk.proofs import verify_log_consistency
from ledger.timefmt import format_timestamp
from node.ordering.embedded import EmbeddedOrderer
from tests.node.support import (
    FACE,
    LINE_EXPIRY,
    envelope,
    grant_line,
    issue_accepted,
    outputs,
    stored_state,
    wait_committed,
)
from tests.nodes import RunningNode, running_node


@contextmanager
def people(n: RunningNode) -> Iterator[dict[str, Participant]]:
    """Yield a participant per org, closing them afterwards."""
    crowd = {name: n.participant(name) for name in n.orgs}
    try:
        yield crowd
    finally:
        for person in crowd.values():
            person.close()


@dataclass(frozen=True)
class Picture:
    """Everything observable about a node that a restart must preserve."""

    status: dict[str, Any]
    checkpoint: dict[str, Any]
    blocks: list[Any]
    notes: list[Any]
    holdings: dict[str, list[Any]]
    state: dict[str, tuple[Any, ...]]
    tx_statuses: dict[str, Any]


def picture(n: RunningNode, crowd: dict[str, Participant], tx_ids: list[str]) -> Picture:
    auditor = crowd["auditor"]
    status = auditor.status()
    status.pop("time")
    return Picture(
        status=status,
        checkpoint=auditor.checkpoint(),
        blocks=[auditor.node.get(f"/v1/blocks/{h}") for h in range(status["height"] + 1)],
        notes=auditor.notes(issuer=n.orgs["core"].uscc, limit=10_000),
        holdings={name: crowd[name].holdings(status=None) for name in ("s1", "s2", "s3", "b1")},
        state=stored_state(n),
        tx_statuses={t: auditor.transaction(t) for t in tx_ids},
    )


def grant(n: RunningNode, limit: int) -> Any:
    args = {"bank": n.orgs["b1"].uscc, "core": n.orgs["core"].uscc, "limit": limit,
            "currency": "CNY", "expiry_date": LINE_EXPIRY}
    return envelope(n, ["b1", "core"], "receivable", "grant_credit_line", args)


def test_restart_preserves_everything_and_submitting_continues(tmp_path: Path) -> None:
    with running_node(tmp_path) as n, people(n) as crowd:
        line = grant_line(n)
        root = issue_accepted(n, line, "s1")
        r = crowd["s1"].transfer(root, [(n.orgs["s2"].uscc, 30_000_000)])
        s2_note = outputs(r)[n.orgs["s2"].uscc]
        old = grant(n, FACE)
        crowd["b1"].submit([old])
        tx_ids = [r["tx_id"], old.tx_id]
        before = picture(n, crowd, tx_ids)
        assert before.status["height"] >= 5

    with running_node(tmp_path) as n, people(n) as crowd:
        after = picture(n, crowd, tx_ids)
        assert after == before
        assert n.service.chain.head.hash() == before.status["head_hash"]
        assert n.service.chain.log.size == before.checkpoint["size"]
        # Old transactions still prove their inclusion against the restored log.
        crowd["s1"].verify_inclusion(r["tx_id"])
        crowd["b1"].verify_inclusion(old.tx_id, before.checkpoint)
        # Replay protection survived: the same envelope, and its nonce, are refused.
        with pytest.raises(NodeError) as replay:
            crowd["b1"].submit([old])
        assert (replay.value.status, replay.value.code) == (409, "replay")
        assert "already committed" in replay.value.detail
        reused = envelope(n, ["b1", "core"], "receivable", "grant_credit_line",
                          {**old.body.args, "limit": FACE + 1}, nonce=old.body.nonce)
        with pytest.raises(NodeError) as nonce:
            crowd["b1"].submit([reused])
        assert (nonce.value.status, nonce.value.code) == (409, "replay")
        # Submitting continues on top of the restored chain.
        r2 = crowd["s2"].transfer(s2_note, [(n.orgs["s3"].uscc, 10_000_000)])
        assert r2["status"] == "committed"
        assert r2["height"] == before.status["height"] + 1
        assert r2["log_index"] == before.checkpoint["size"]
        newer = crowd["s1"].checkpoint()
        proof = crowd["s1"].node.get("/v1/log/consistency",
                                     {"first": before.checkpoint["size"],
                                      "second": newer["size"]})
        verify_log_consistency(before.checkpoint, newer, proof)
        block = crowd["s1"].node.get(f"/v1/blocks/{r2['height']}")
        assert block["header"]["prev_hash"] == before.status["head_hash"]
        assert [x["amount"] for x in crowd["s3"].holdings()] == [10_000_000]
        final = picture(n, crowd, [*tx_ids, r2["tx_id"]])

    with running_node(tmp_path) as n, people(n) as crowd:
        assert picture(n, crowd, [*tx_ids, r2["tx_id"]]) == final


def test_accepted_transactions_survive_a_stop(tmp_path: Path) -> None:
    """Accepted but still batching when the node stops: flushed on the way down, never lost."""
    with running_node(tmp_path, batch_max_wait_ms=200) as n, people(n) as crowd:
        height = crowd["b1"].status()["height"]
        env = grant(n, FACE)
        assert crowd["b1"].submit([env], wait=False)[0]["status"] == "pending"
    with running_node(tmp_path) as n, people(n) as crowd:
        status = wait_committed(n, env.tx_id)
        assert status["valid"] is True
        assert crowd["b1"].transaction(env.tx_id)["status"] == "committed"
        assert crowd["b1"].status()["height"] == height + 1


def test_ordered_but_uncommitted_batches_are_committed_on_start(tmp_path: Path) -> None:
    """A batch that reached the orderer while the node was down is applied when it starts."""
    with running_node(tmp_path) as n, people(n) as crowd:
        head = crowd["auditor"].status()
        env = grant(n, FACE)
        moment = format_timestamp(n.clock.now())
    orderer = EmbeddedOrderer(tmp_path / "orderer.db")
    try:
        orderer.append(orjson.dumps({"chain_id": head["chain_id"], "proposer": "node-2",
                                     "time": moment, "txs": [env.to_json()]}))
    finally:
        orderer.close()
    with running_node(tmp_path) as n, people(n) as crowd:
        status = wait_committed(n, env.tx_id)
        assert status["valid"] is True and status["height"] == head["height"] + 1
        block = crowd["auditor"].node.get(f"/v1/blocks/{status['height']}")
        assert block["header"]["proposer"] == "node-2"
        assert block["header"]["prev_hash"] == head["head_hash"]
        assert [t["tx_id"] for t in block["transactions"]] == [env.tx_id]
