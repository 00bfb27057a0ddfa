"""Faults under a steady load, on a real `network up` (3 etcd members, 4 node processes).

While a client keeps granting credit lines through the SDK (failing over
between nodes), the test kills -9 a node and restarts it, kills -9 the etcd
leader, kills -9 an etcd follower, and stops a node until the ordering log
is compacted past it, then restarts it.  Afterwards: every transaction the
client saw accepted is committed exactly once, every node holds the same
blocks, and every block has a finality certificate.  The counts are printed
(run with -s to see them).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from client.local_consortium.consortium import Consortium
from client.local_consortium.etcd_cluster import (
    EtcdMember,
    leader_index,
    operator_context,
    restart_member,
    wait_for_leader,
)
from client.local_consortium.network import (
    network_down,
    network_tls_context,
    network_up,
    restart_node,
)
from client.sdk.http import NodeError
from client.sdk.participant import Participant
from node.ordering.etcd import read_mark
from node.ordering.etcd_client import EtcdClient

pytestmark = [pytest.mark.etcd, pytest.mark.slow]
PASSWORD = "fault-test-password"
LIMIT = 1_000_000


class Load:
    """A client granting credit lines one by one through any node, recording what was accepted."""

    def __init__(self, directory: Path, urls: list[str]) -> None:
        consortium = Consortium.open(directory / "consortium")
        self.bank = Participant(urls, consortium.identity("bank_a", PASSWORD), timeout=20.0,
                                tls=network_tls_context(directory, "bank_a", PASSWORD))
        self.core = Participant(list(reversed(urls)), consortium.identity("core", PASSWORD),
                                timeout=20.0,
                                tls=network_tls_context(directory, "core", PASSWORD))
        self.accepted: list[str] = []
        self.submitted: list[str] = []
        self.failures: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        """Start submitting."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the transaction in flight."""
        self._stop.set()
        self._thread.join(timeout=120)
        self.bank.close()
        self.core.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            line = self.core.cosign(self.bank.propose_credit_line(
                core=self.core.uscc, limit=LIMIT, currency="CNY", expiry_date="2099-12-31"))
            envelope = line.envelope()
            self.submitted.append(envelope.tx_id)
            for _attempt in range(20):  # the same transaction again until one node confirms
                try:
                    status = self.bank.submit([envelope], timeout=20.0, resubmit=True)[0]
                except (NodeError, TimeoutError) as exc:
                    self.failures[type(exc).__name__] += 1
                    time.sleep(0.5)
                    continue
                if status.get("status") == "committed":
                    self.accepted.append(envelope.tx_id)
                    break
                self.failures["not committed in time"] += 1


def _description(directory: Path) -> dict[str, Any]:
    return dict(json.loads((directory / "network.json").read_text(encoding="utf-8")))


def _kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)


def _restart_etcd(directory: Path, index: int) -> None:
    description = _description(directory)
    member = restart_member(EtcdMember(**description["etcd"][index]), detach=True)
    description["etcd"][index] = member.to_json()
    (directory / "network.json").write_text(json.dumps(description, indent=2), encoding="utf-8")
    members = [EtcdMember(**m) for m in description["etcd"]]
    wait_for_leader([m.client_url for m in members], tls=operator_context(members))


def _wait_progress(load: Load, more: int, timeout: float = 60.0) -> None:
    target = len(load.accepted) + more
    deadline = time.monotonic() + timeout
    while len(load.accepted) < target:
        assert time.monotonic() < deadline, f"the load stalled at {len(load.accepted)} accepted"
        time.sleep(0.1)


def _node_view(auditor: Participant, url: str) -> tuple[list[str], list[str], int]:
    """Return (header hashes by height, tx ids in log order, final height) as `url` serves them."""
    auditor.node.urls = [url]
    auditor.node._current = 0
    status = auditor.status()
    hashes, tx_ids = [], []
    for height in range(0, status["height"] + 1):
        block = auditor.node.get(f"/v1/blocks/{height}")
        hashes.append(block["hash"])
        tx_ids += [t["tx_id"] for t in block.get("transactions", [])]
        if height:
            cert = auditor.node.get(f"/v1/blocks/{height}/certificate")
            assert cert["final"], f"{url}: block {height} has no finality certificate"
    return hashes, tx_ids, status["final_height"]


def test_faults_under_load_lose_nothing_and_leave_identical_certified_chains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEDGER_COMPACT_INTERVAL_S", "1")
    monkeypatch.setenv("LEDGER_COMPACT_RETAIN_BLOCKS", "20")
    description = network_up(tmp_path, PASSWORD)
    try:
        urls = [n["url"] for n in description["nodes"]]
        by_alias = {n["alias"]: n for n in description["nodes"]}
        load = Load(tmp_path, urls)
        load.start()
        _wait_progress(load, 10)
        counts: dict[str, int] = {}

        # 1. kill -9 a node (the supplier's) and restart it
        _kill(by_alias["tier1"]["pid"])
        _wait_progress(load, 10)
        restart_node(tmp_path, "tier1")
        _wait_progress(load, 10)
        counts["after node kill"] = len(load.accepted)

        # 2. kill -9 the etcd leader, then restart it
        members = [EtcdMember(**m) for m in _description(tmp_path)["etcd"]]
        context = operator_context(members)
        leader = leader_index([m.client_url for m in members], tls=context)
        _kill(members[leader].pid)
        _wait_progress(load, 10, timeout=90)
        _restart_etcd(tmp_path, leader)
        counts["after etcd leader kill"] = len(load.accepted)

        # 3. kill -9 an etcd follower, then restart it
        members = [EtcdMember(**m) for m in _description(tmp_path)["etcd"]]
        leader = leader_index([m.client_url for m in members], tls=context)
        follower = (leader + 1) % len(members)
        _kill(members[follower].pid)
        _wait_progress(load, 10)
        _restart_etcd(tmp_path, follower)
        counts["after etcd follower kill"] = len(load.accepted)

        # 4. stop the auditor's node until the log is compacted past it, then restart it
        away = _description(tmp_path)["nodes"][3]
        assert away["alias"] == "auditor"
        auditor = Participant(urls, Consortium.open(tmp_path / "consortium").identity(
            "auditor", PASSWORD), tls=network_tls_context(tmp_path, "auditor", PASSWORD))
        left_at = auditor.status()["height"]
        _kill(away["pid"])
        etcd = EtcdClient([m.client_url for m in members], ssl_context=context)
        deadline = time.monotonic() + 180
        while (mark := read_mark(etcd, description["chain_id"])) is None or (
                mark.height <= left_at + 5):
            assert time.monotonic() < deadline, f"the log was not compacted past {left_at}"
            time.sleep(0.5)
        etcd.close()
        restart_node(tmp_path, "auditor")
        _wait_progress(load, 10)
        counts["compacted through block"] = mark.height
        counts["away node stopped at block"] = left_at

        load.stop()
        deadline = time.monotonic() + 120
        while True:  # every node at the same head, and that head final
            statuses = []
            for url in urls:
                auditor.node.urls, auditor.node._current = [url], 0
                statuses.append(auditor.status())
            if len({(s["head_hash"], s["final_height"]) for s in statuses}) == 1 and (
                    statuses[0]["final_height"] == statuses[0]["height"]):
                break
            assert time.monotonic() < deadline, [(s["height"], s["final_height"])
                                                 for s in statuses]
            time.sleep(1.0)
        views = {url: _node_view(auditor, url) for url in urls}
        first = next(iter(views.values()))
        for url, view in views.items():
            assert view[0] == first[0], f"{url} holds other blocks"
            assert view[1] == first[1], f"{url} holds other transactions"
        logged = Counter(first[1])
        assert all(logged[tx] == 1 for tx in load.accepted), "an accepted tx is missing or twice"
        assert max(logged.values()) == 1, "a transaction is in the log twice"
        counts.update({
            "submitted": len(load.submitted), "accepted": len(load.accepted),
            "committed (distinct)": len(logged), "blocks": len(first[0]) - 1,
            "final height (every node)": first[2],
        })
        print("fault counts:", json.dumps(counts), "client retries:", dict(load.failures))
        auditor.close()
    finally:
        network_down(tmp_path)
