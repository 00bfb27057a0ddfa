"""The fault of issue 13, finding 10: quorum loss, then kill -9 of the node holding submissions.

Two node processes order through a 3-member etcd cluster.  Two members are
killed (no quorum: nothing can be ordered) while a client keeps submitting
through the SDK to node 1, recording what was acknowledged and what was
refused (`NotAccepted`, 503).  Node 1 is then killed with SIGKILL, the etcd
members restarted, and node 1 restarted on its database.  Every acknowledged
transaction must commit exactly once on both nodes, no refused one may
appear, and the independent audit of both nodes must pass.  The counts are
printed (run with -s to see them).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from client.audit import audit_nodes
from client.local_consortium.etcd_cluster import (
    EtcdMember,
    restart_member,
    stop_pid,
    wait_for_leader,
)
from client.local_consortium.launcher import NodeProcess, start_node
from client.sdk.http import NodeError
from client.sdk.keystore import Identity
from client.sdk.participant import NotAccepted, Participant
from ledger.tx import Envelope
from tests.builders import Org, make_orgs
from tests.etcd import etcd_context
from tests.nodes import NODE_ORGS, network_nodes, node_key, node_tls, write_genesis
from tests.pki import shared_pki

pytestmark = [pytest.mark.etcd, pytest.mark.slow]
OUTAGE_S = 25.0  # longer than the etcd client's 15 s deadline: the first append fails in it
PER_SUBMISSION = 5


def _start(tmp: Path, number: int, endpoints: str, orgs: dict[str, Org]) -> NodeProcess:
    """Start registered node `number` as a process, on its own database in tmp/node<number>."""
    folder = tmp / f"node{number}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "node.key").write_text(node_key(number).seed.hex())
    return start_node(
        genesis=tmp / "genesis.json", database_url=f"sqlite:///{folder / 'node.db'}",
        log_path=folder / "node.log", etcd=endpoints, node_id=f"node{number}",
        tls=node_tls(number, orgs[NODE_ORGS[number - 1]]),
        extra=("--node-key", str(folder / "node.key")))


def _person(node: NodeProcess, org: Org) -> Participant:
    return Participant(node.url, Identity(org.uscc, org.name, org.key), timeout=60.0,
                       tls=shared_pki().member_context(org))


def _grant(bank: Participant, core: Participant) -> Envelope:
    prepared = core.cosign(bank.propose_credit_line(
        core=core.uscc, limit=1_000_000, currency="CNY", expiry_date="2099-12-31"))
    return prepared.envelope()


class Client:
    """Submits credit-line grants through node 1, recording acknowledged and refused ones."""

    def __init__(self, node: NodeProcess, orgs: dict[str, Org]) -> None:
        self.bank, self.core = _person(node, orgs["b1"]), _person(node, orgs["core"])
        self.committed: list[str] = []
        self.acknowledged: list[str] = []
        self.refused: list[str] = []

    def submit_for(self, seconds: float) -> None:
        """Submit batches for `seconds`, each waiting briefly for its commit."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            batch = [_grant(self.bank, self.core) for _ in range(PER_SUBMISSION)]
            ids = [e.tx_id for e in batch]
            try:
                statuses = self.bank.submit(batch, timeout=0.5)
            except NotAccepted as refusal:
                assert refusal.status == 503 and refusal.code == "ordering_unavailable"
                self.refused += ids
                time.sleep(0.2)
                continue
            for status in statuses:
                assert status["status"] in ("pending", "committed"), status
                done = status["status"] == "committed"
                (self.committed if done else self.acknowledged).append(status["tx_id"])

    def close(self) -> None:
        """Close the connections."""
        self.bank.close()
        self.core.close()


def _tx_ids(auditor: Participant) -> list[str]:
    """Return every transaction id in the log `auditor`'s node serves, in log order."""
    height = auditor.status()["height"]
    return [t["tx_id"] for h in range(height + 1)
            for t in auditor.node.get(f"/v1/blocks/{h}").get("transactions", [])]


def _wait_log_size(auditors: list[Participant], size: int, timeout: float) -> list[int]:
    """Wait until every node's log holds `size` transactions; return the sizes seen last."""
    deadline = time.monotonic() + timeout
    while True:
        sizes = [a.status()["log_size"] for a in auditors]
        if all(s >= size for s in sizes) or time.monotonic() > deadline:
            return sizes
        time.sleep(0.5)


def _wait_all_final(auditors: list[Participant], timeout: float) -> None:
    """Wait until every node counts its whole chain final (certificates gathered, or fetched
    from the peer for blocks whose attestations it missed while it was down)."""
    deadline = time.monotonic() + timeout
    while True:
        statuses = [a.status() for a in auditors]
        if all(s["final_height"] == s["height"] for s in statuses):
            return
        assert time.monotonic() < deadline, [(s["height"], s["final_height"]) for s in statuses]
        time.sleep(0.5)


def _status_or_404(auditor: Participant, tx_id: str) -> str:
    try:
        return str(auditor.transaction(tx_id)["status"])
    except NodeError as exc:
        assert exc.status == 404, exc
        return "unknown"


def test_acknowledged_transactions_survive_quorum_loss_and_a_kill_of_their_node(
    tmp_path: Path, etcd_members: list[EtcdMember],
) -> None:
    orgs = make_orgs()
    write_genesis(tmp_path / "genesis.json", orgs, nodes=network_nodes(2),
                  start=datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5))
    endpoints = ",".join(m.client_url for m in etcd_members)
    processes: list[NodeProcess] = []
    try:
        processes += [_start(tmp_path, 1, endpoints, orgs), _start(tmp_path, 2, endpoints, orgs)]
        client = Client(processes[0], orgs)
        client.submit_for(2.0)  # ordering works: these commit
        assert client.committed and not client.acknowledged and not client.refused

        for member in etcd_members[:2]:  # quorum lost
            stop_pid(member.pid, member.data_dir, kill=True)
        client.submit_for(OUTAGE_S)
        client.close()
        processes[0].kill()  # SIGKILL the node holding the acknowledged transactions
        counts: dict[str, Any] = {"committed before the outage": len(client.committed),
                                  "acknowledged in the outage": len(client.acknowledged),
                                  "refused in the outage (503)": len(client.refused)}
        assert client.acknowledged, counts  # accepted until the first append failed...
        assert client.refused, counts  # ...refused from then on

        for index in range(2):  # quorum back
            etcd_members[index] = restart_member(etcd_members[index])
        wait_for_leader([m.client_url for m in etcd_members], tls=etcd_context())
        processes[0] = _start(tmp_path, 1, endpoints, orgs)
        auditors = [_person(p, orgs["auditor"]) for p in processes]
        expected = 1 + len(client.committed) + len(client.acknowledged)  # genesis too
        sizes = _wait_log_size(auditors, expected, timeout=90.0)
        statuses = [[_status_or_404(a, t) for t in client.acknowledged] for a in auditors]
        counts.update({f"committed of the acknowledged on node{i + 1}": s.count("committed")
                       for i, s in enumerate(statuses)})
        counts[f"log sizes (expected {expected})"] = sizes
        print("quorum-loss counts:", json.dumps(counts))

        for auditor, seen in zip(auditors, statuses, strict=True):
            assert seen == ["committed"] * len(client.acknowledged), counts
            logged = _tx_ids(auditor)
            assert len(logged) == len(set(logged)) == expected, counts  # each exactly once
            assert set(logged) >= {*client.committed, *client.acknowledged}
            assert not set(logged) & set(client.refused), "a refused transaction was ordered"
            assert all(_status_or_404(auditor, t) == "unknown" for t in client.refused)
        _wait_all_final(auditors, timeout=60.0)
        report = audit_nodes([a.node for a in auditors])
        assert report.passed, [str(f) for f in report.findings]
        assert report.log_size == expected and report.stats.nodes_compared == 2
        for auditor in auditors:
            auditor.close()
    finally:
        for process in processes:
            process.stop()
