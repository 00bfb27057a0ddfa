"""Kill -9 a node while it commits a stream of transactions, restart it, and check the chain.

Nothing that was reported committed is lost, nothing is applied twice (every
transaction id appears once in the log, and the log size equals the number
of distinct transactions), transactions that were in flight are either
committed once or can be resubmitted, and the independent audit passes.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from client.audit import audit_node
from client.local_consortium.consortium import Consortium, init_consortium
from client.local_consortium.launcher import NodeProcess, start_node
from client.sdk.http import NodeError
from client.sdk.participant import Participant

PASSWORD = "crash-test-password"


def _start(directory: Path) -> NodeProcess:
    return start_node(genesis=directory / "consortium" / "genesis.json",
                      database_url=f"sqlite:///{directory / 'node.db'}",
                      orderer=directory / "orderer.db", log_path=directory / "node.log")


def _people(node: NodeProcess, consortium: Consortium) -> dict[str, Participant]:
    return {alias: Participant(node.url, consortium.identity(alias, PASSWORD), timeout=10)
            for alias in ("core", "tier1", "bank_a", "auditor")}


def _credit_line(people: dict[str, Participant]) -> str:
    bank, core = people["bank_a"], people["core"]
    prepared = core.cosign(bank.propose_credit_line(
        core=core.uscc, limit=10**15, currency="CNY",
        expiry_date=(datetime.now(UTC).date() + timedelta(days=300)).isoformat()))
    status = bank.submit([prepared.envelope()])[0]
    return str(bank.transaction(status["tx_id"])["events"][0]["credit_line"])


def _issuances(core: Participant, supplier: str, line: str, start: int, count: int) -> list[Any]:
    maturity = (datetime.now(UTC).date() + timedelta(days=90)).isoformat()
    return [core.prepare("receivable", "issue", {
        "credit_line": line, "to": supplier, "amount": 100_000, "currency": "CNY",
        "maturity_date": maturity, "trade": {"contract_no": f"PO-{n}", "documents": [],
        "invoices": [{"seller": supplier, "number": f"INV-{n}", "amount": 100_000,
                      "allocated": 100_000}]}}).envelope() for n in range(start, start + count)]


class Stream:
    """Submits batches until stopped, remembering what was reported committed."""

    def __init__(self, core: Participant, supplier: str, line: str) -> None:
        self.core, self.supplier, self.line = core, supplier, line
        self.committed: set[str] = set()
        self.sent: list[Any] = []
        self.stop = threading.Event()

    def run(self) -> None:
        serial = 0
        while not self.stop.is_set():
            batch = _issuances(self.core, self.supplier, self.line, serial, 40)
            serial += 40
            self.sent.extend(batch)
            try:
                results = self.core.submit(batch, timeout=10)
            except NodeError:
                return  # the node died under us
            self.committed.update(r["tx_id"] for r in results if r["status"] == "committed")


@pytest.mark.slow
def test_kill_minus_nine_during_commits_loses_nothing_and_applies_nothing_twice(
    tmp_path: Path,
) -> None:
    consortium = init_consortium(tmp_path / "consortium", password=PASSWORD, chain_id="crash",
                                 genesis_time=datetime.now(UTC).replace(microsecond=0)
                                 - timedelta(minutes=5))
    node = _start(tmp_path)
    people = _people(node, consortium)
    line = _credit_line(people)
    stream = Stream(people["core"], people["tier1"].uscc, line)
    worker = threading.Thread(target=stream.run)
    worker.start()
    time.sleep(3.0)
    node.kill()  # SIGKILL, mid-stream
    stream.stop.set()
    worker.join(timeout=30)
    assert stream.committed, "the stream committed nothing before the kill"

    node = _start(tmp_path)
    try:
        people = _people(node, consortium)
        _check_after_restart(people, stream)
    finally:
        node.stop()


def _check_after_restart(people: dict[str, Participant], stream: Stream) -> None:
    core, auditor = people["core"], people["auditor"]
    for tx_id in stream.committed:  # nothing reported committed was lost
        assert core.transaction(tx_id)["status"] == "committed"
    missing = []
    for envelope in stream.sent:  # in-flight ones: committed once, or never seen
        try:
            core.transaction(envelope.tx_id)
        except NodeError as exc:
            assert exc.status == 404
            missing.append(envelope)
    if missing:
        results = core.submit(missing, timeout=30)
        assert all(r["status"] == "committed" for r in results)
    for envelope in stream.sent:
        assert core.transaction(envelope.tx_id)["status"] == "committed"
    report = audit_node(auditor.node)
    assert report.passed, report.findings
    # genesis + credit line + one entry per distinct issuance: nothing applied twice
    assert report.log_size == 2 + len({e.tx_id for e in stream.sent})
    assert report.stats.txs == report.log_size
    issued = len({e.tx_id for e in stream.sent})
    assert core.record("credit_line", stream.line)["used"] == 100_000 * issued
    assert len(core.notes(issuer=core.uscc, limit=10_000)) == issued
