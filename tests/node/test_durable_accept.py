"""What a node acknowledges survives it; what it cannot order, it refuses (issue 13, finding 10).

A node writes the envelopes of a submission to its own database before it
answers "accepted", deletes them in the transaction that commits their
block, and offers the ones still pending to the orderer again when it
starts.  While its orderer is failing, or its backlog is full, it refuses
submissions with 503 and accepts nothing; the SDK raises `NotAccepted`.

`running_node` on the same directory (or the same PostgreSQL database)
restarts a node.  Closing a node's orderer is how these tests make ordering
fail: the batch never reaches the log, as when a crash comes first.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from client.sdk.http import NodeError
from client.sdk.participant import NotAccepted
from ledger.tx import Envelope
from tests.node.support import LINE_EXPIRY, envelope, error_of, submit_raw, wait_committed
from tests.nodes import RunningNode, running_node

LONG_WAIT = {"batch_max_wait_ms": 600_000}  # a batch goes out only when full, or at stop


def grant(n: RunningNode) -> Envelope:
    """Return a fresh credit-line grant signed by b1 and core (any number may be valid)."""
    args = {"bank": n.orgs["b1"].uscc, "core": n.orgs["core"].uscc, "limit": 1_000,
            "currency": "CNY", "expiry_date": LINE_EXPIRY}
    return envelope(n, ["b1", "core"], "receivable", "grant_credit_line", args)


def pending_rows(n: RunningNode) -> dict[str, bytes]:
    """Return the node's pending table as it is in the database: tx id -> envelope bytes."""
    return n.service.store.pending_envelopes()


def log_ids(n: RunningNode) -> list[str]:
    """Return every transaction id in the node's log, in log order."""
    return [row.id for row in n.service.store.txs_range(0, n.service.chain.head.height)]


def wait_ordering_unavailable(n: RunningNode, timeout: float = 10.0) -> dict[str, Any]:
    """Wait until the node's status says it cannot order; return that status."""
    auditor = n.participant("auditor")
    deadline = time.monotonic() + timeout
    try:
        while (status := auditor.status())["ordering_available"]:
            assert time.monotonic() < deadline, status
            time.sleep(0.02)
        return status
    finally:
        auditor.close()


def check_kept_until_committed(tmp: Path, database_url: str | None) -> None:
    """Accepted envelopes are in the pending table when the answer comes, gone once committed."""
    with running_node(tmp, database_url=database_url, batch_max_txs=3, **LONG_WAIT) as n:
        bank = n.participant("b1")
        first = [grant(n), grant(n)]
        answer = bank.submit(first, wait=False)
        assert [a["status"] for a in answer] == ["pending", "pending"]
        assert pending_rows(n) == {e.tx_id: e.canonical() for e in first}
        assert log_ids(n)[1:] == []  # not ordered yet: the batch waits for a third
        last = grant(n)
        bank.submit([last], wait=False)  # fills the batch of three
        for item in [*first, last]:
            assert wait_committed(n, item.tx_id)["status"] == "committed"
        assert pending_rows(n) == {}
        bank.close()


def test_accepted_envelopes_are_kept_in_the_database_until_their_block_commits(
    tmp_path: Path,
) -> None:
    check_kept_until_committed(tmp_path, None)


@pytest.mark.postgres
def test_accepted_envelopes_are_kept_until_committed_on_postgresql(
    tmp_path: Path, fresh_postgres_url: str,
) -> None:
    check_kept_until_committed(tmp_path, fresh_postgres_url)


def check_offered_again(tmp: Path, database_url: str | None) -> None:
    """A node stopped with accepted, unordered transactions orders them after its restart."""
    with running_node(tmp, database_url=database_url, **LONG_WAIT) as n:
        accepted = [grant(n) for _ in range(3)]
        bank = n.participant("b1")
        bank.submit(accepted[:2], wait=False)
        bank.submit(accepted[2:], wait=False)
        bank.close()
        assert set(pending_rows(n)) == {e.tx_id for e in accepted}
        n.service.orderer.close()  # the batch never reaches the log
    with running_node(tmp, database_url=database_url) as n:
        for item in accepted:
            assert wait_committed(n, item.tx_id)["status"] == "committed"
        assert log_ids(n)[1:] == [e.tx_id for e in accepted]  # once each, in acceptance order
        assert pending_rows(n) == {}
        bank = n.participant("b1")
        again = bank.submit(accepted, resubmit=True)  # recognised as already known
        assert [s["tx_id"] for s in again] == [e.tx_id for e in accepted]
        bank.close()
    with running_node(tmp, database_url=database_url) as n:  # and nothing offered a third time
        time.sleep(0.3)
        assert log_ids(n)[1:] == [e.tx_id for e in accepted]
        assert n.service.mempool.pending == {}


def test_a_restarted_node_orders_the_transactions_it_had_accepted_exactly_once(
    tmp_path: Path,
) -> None:
    check_offered_again(tmp_path, None)


@pytest.mark.postgres
def test_a_restarted_postgresql_node_orders_what_it_had_accepted_exactly_once(
    tmp_path: Path, fresh_postgres_url: str,
) -> None:
    check_offered_again(tmp_path, fresh_postgres_url)


def test_a_node_that_cannot_order_refuses_with_503_and_the_sdk_says_nothing_was_accepted(
    tmp_path: Path,
) -> None:
    with running_node(tmp_path) as n:
        bank = n.participant("b1")
        before = grant(n)
        assert bank.submit([before])[0]["status"] == "committed"
        n.service.orderer.close()
        held = grant(n)  # the node does not know yet: accepted, durably, and reported pending
        status = bank.submit([held], timeout=1.0)[0]
        assert status == {"tx_id": held.tx_id, "status": "pending"}
        assert held.tx_id in pending_rows(n)
        unavailable = wait_ordering_unavailable(n)
        assert unavailable["ordering_problem"]
        refused = grant(n)
        response = submit_raw(n, n.orgs["b1"], {"transactions": [refused.to_json()]})
        code, detail = error_of(response, 503)
        assert code == "ordering_unavailable"
        assert "nothing was accepted" in detail and "retry later" in detail
        assert int(response.headers["Retry-After"]) > 0
        with pytest.raises(NotAccepted) as raised:
            bank.submit([refused])
        assert isinstance(raised.value, NodeError) and raised.value.status == 503
        assert "nothing was recorded" in str(raised.value)
        assert "safe to submit" in str(raised.value)
        assert refused.tx_id not in pending_rows(n)
        with pytest.raises(NodeError) as unknown:
            bank.transaction(refused.tx_id)
        assert unknown.value.status == 404
        bank.close()
    with running_node(tmp_path) as n:
        bank = n.participant("b1")
        assert wait_committed(n, held.tx_id)["status"] == "committed"
        assert bank.status()["ordering_available"] is True
        assert bank.submit([refused])[0]["status"] == "committed"  # safe to submit again
        assert log_ids(n)[1:] == [before.tx_id, held.tx_id, refused.tx_id]
        bank.close()


def test_a_full_backlog_refuses_with_503_and_accepts_nothing(tmp_path: Path) -> None:
    with running_node(tmp_path, max_pending_txs=3, **LONG_WAIT) as n:
        bank = n.participant("b1")
        bank.submit([grant(n), grant(n)], wait=False)
        too_many = [grant(n), grant(n)]
        response = submit_raw(n, n.orgs["b1"], {"transactions": [e.to_json() for e in too_many]})
        code, detail = error_of(response, 503)
        assert code == "pending_backlog_full"
        assert "nothing was accepted" in detail and "retry later" in detail
        assert int(response.headers["Retry-After"]) > 0
        assert len(pending_rows(n)) == 2 and len(n.service.mempool.pending) == 2
        with pytest.raises(NotAccepted):
            bank.submit(too_many, wait=False)
        bank.submit(too_many[:1], wait=False)  # one more still fits
        assert len(pending_rows(n)) == 3
        assert orjson.loads(response.content)["error"] == "pending_backlog_full"
        bank.close()
