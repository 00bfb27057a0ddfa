"""Operable nodes in-process: metrics on a listener of their own, per node, and request ids.

Every scrape is checked with `promtool check metrics`; the figures must move
as blocks commit (a valid and an invalid transaction, counted by reason), and
two nodes in one process must not share a figure.  The API port serves no
metrics.  Every answer carries an `X-Request-Id`: the client's own if it sent
a well-formed one.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from client.sdk.participant import TransactionFailed
from node.app import create_app
from node.config import NodeConfig
from node.service import NodeService
from tests.builders import make_orgs
from tests.etcd import etcd_cluster, need_etcd
from tests.metrics import Scrape, need_promtool, promtool_problems, scrape
from tests.node.support import FACE, grant_line, issue_accepted, wait_committed
from tests.nodes import (
    RunningNode,
    running_network,
    running_node,
    wait_until_final,
    write_genesis,
)


def _checked(n: RunningNode) -> Scrape:
    listener = n.service.metrics_listener
    assert listener is not None
    taken = scrape(listener.url)
    assert promtool_problems(taken.text) == ""
    return taken


def _double_spend(n: RunningNode, root: str) -> None:
    """Spend one note twice in two requests: one commits, the other is invalid in the block."""
    s1 = n.participant("s1")
    try:
        first = s1.prepare("receivable", "transfer", {
            "note": root, "payments": [{"to": n.orgs["s2"].uscc, "amount": 30_000_000}]})
        second = s1.prepare("receivable", "transfer", {
            "note": root, "payments": [{"to": n.orgs["s3"].uscc, "amount": 40_000_000}]})
        s1.submit([first.envelope()], wait=False)
        with pytest.raises(TransactionFailed):
            s1.submit([second.envelope()])
        wait_committed(n, first.envelope().tx_id)
    finally:
        s1.close()


def test_metrics_pass_promtool_and_move_as_blocks_commit(tmp_path: Path) -> None:
    need_promtool()
    with running_node(tmp_path, metrics_port=0, batch_max_wait_ms=300) as n:
        listener = n.service.metrics_listener
        assert listener is not None and listener.url.startswith("http://127.0.0.1:")
        assert httpx.get(n.url + "/metrics").status_code == 404  # not on the API port
        before = _checked(n)
        assert before.value("ledger_block_height") == 0
        assert before.value("ledger_node_info", chain_id="test-chain", node_id="node-1") == 1
        root = issue_accepted(n, grant_line(n))
        middle = _checked(n)
        _double_spend(n, root)
        after = _checked(n)
    assert middle.value("ledger_block_height") == n.service.chain.head.height - 1
    assert after.value("ledger_block_height") == n.service.chain.head.height
    assert after.value("ledger_final_height") == after.value("ledger_block_height")
    assert middle.value("ledger_committed_transactions_total") == 3  # line, issue, accept
    assert after.value("ledger_committed_transactions_total") == 4
    assert middle.labelled("ledger_invalid_transactions_total", "code") == {}
    assert after.labelled("ledger_invalid_transactions_total", "code") == {
        "contract_violation": 1}
    blocks = after.value("ledger_block_commit_seconds_count")
    assert blocks == after.value("ledger_block_height") > middle.value(
        "ledger_block_commit_seconds_count")
    assert after.value("ledger_batch_latency_seconds_count") >= blocks
    assert after.value("ledger_mempool_transactions") == 0
    assert after.value("ledger_ordering_available") == 1
    assert after.value("ledger_verifier_workers") >= 1
    assert after.value("ledger_verified_signatures_total") > middle.value(
        "ledger_verified_signatures_total") > 0
    assert after.value("ledger_verifier_chunks_in_flight") == 0
    assert after.value("ledger_etcd_append_seconds_count") == 0  # embedded: no etcd
    assert after.value("process_resident_memory_bytes") > 0


def test_two_nodes_in_one_process_keep_their_own_figures(tmp_path: Path) -> None:
    need_promtool()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with running_node(tmp_path / "a", metrics_port=0) as a, \
            running_node(tmp_path / "b", metrics_port=0) as b:
        grant_line(a)
        one, other = _checked(a), _checked(b)
    assert one.value("ledger_committed_transactions_total") == 1
    assert other.value("ledger_committed_transactions_total") == 0
    assert (one.value("ledger_block_height"), other.value("ledger_block_height")) == (1, 0)


def test_no_metrics_listener_unless_configured(tmp_path: Path) -> None:
    with running_node(tmp_path) as n:
        assert n.service.metrics_listener is None


@pytest.mark.etcd
def test_every_network_node_reports_peers_etcd_appends_and_finality(tmp_path: Path) -> None:
    need_etcd()
    need_promtool()
    with etcd_cluster(tmp_path / "etcd") as members, \
            running_network(tmp_path, [m.client_url for m in members],
                            metrics_port=0) as nodes:
        grant_line(nodes[0], limit=FACE)
        wait_until_final(nodes, 1)
        deadline = time.monotonic() + 30
        while True:  # each node sees every attestation, its own included
            scrapes = [_checked(n) for n in nodes]
            peers = [s.labelled("ledger_peer_attested_height", "node") for s in scrapes]
            if all(p == {"node1": 1, "node2": 1, "node3": 1} for p in peers):
                break
            assert time.monotonic() < deadline, peers
            time.sleep(0.2)
    for taken in scrapes:
        assert taken.value("ledger_block_height") == taken.value("ledger_final_height") == 1
        assert taken.labelled("ledger_attestation_lag_blocks", "node") == {
            "node1": 0, "node2": 0, "node3": 0}
        assert taken.value("ledger_committed_transactions_total") == 1
    assert scrapes[0].value("ledger_etcd_append_seconds_count") >= 1  # it ordered the batch
    assert scrapes[1].value("ledger_etcd_append_seconds_count") == 0


def test_answers_carry_the_clients_request_id_or_a_new_one(tmp_path: Path) -> None:
    with running_node(tmp_path) as n:
        mine = httpx.get(n.url + "/v1/health", headers={"X-Request-Id": "trace-42.a:b_c"})
        made = [httpx.get(n.url + "/v1/health") for _ in range(2)]
        refused = httpx.get(n.url + "/v1/status", headers={"X-Request-Id": "refused-1"})
        bad = [httpx.get(n.url + "/v1/health", headers={"X-Request-Id": value})
               for value in ("has space", "x" * 65, "semi;colon")]
    assert mine.headers["x-request-id"] == "trace-42.a:b_c"
    ids = [r.headers["x-request-id"] for r in made + bad]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert len(set(ids)) == len(ids)
    assert (refused.status_code, refused.headers["x-request-id"]) == (401, "refused-1")


def test_a_server_error_answers_with_the_request_id_too(tmp_path: Path) -> None:
    write_genesis(tmp_path / "genesis.json", make_orgs())
    config = NodeConfig(genesis_path=tmp_path / "genesis.json",
                        database_url=f"sqlite:///{tmp_path / 'node.db'}")
    service = NodeService(config)
    try:
        app = create_app(config, service=service)

        def fails() -> None:
            raise RuntimeError("a bug, planted by this test")

        app.add_api_route("/planted-bug", fails)
        answer = asyncio.run(_get(app, "/planted-bug", {"X-Request-Id": "bug-report-7"}))
    finally:
        service.orderer.close()
        service.store.close()
    assert answer.status_code == 500
    assert answer.headers["x-request-id"] == "bug-report-7"
    assert answer.json()["error"] == "internal_error"


async def _get(app: FastAPI, path: str, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
        return await client.get(path, headers=headers)
