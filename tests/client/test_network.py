"""`ledger network up/down`: one command starts etcd and four nodes; another stops exactly them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from client.consortium import Consortium
from client.etcd_cluster import etcd_binary, process_is
from client.participant import Participant

pytestmark = pytest.mark.etcd


def _ledger(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LEDGER_PASSWORD": "network-test"}
    return subprocess.run([sys.executable, "-m", "client", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_network_up_runs_a_consortium_and_down_stops_exactly_it(tmp_path: Path) -> None:
    try:
        etcd_binary()
    except RuntimeError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))
    up = _ledger("network", "up", "--dir", str(tmp_path))
    assert up.returncode == 0, up.stderr
    description = json.loads((tmp_path / "network.json").read_text())
    try:
        assert len(description["etcd"]) == 3 and len(description["nodes"]) == 4
        for node in description["nodes"]:
            assert node["url"] in up.stdout
        again = _ledger("network", "up", "--dir", str(tmp_path))
        assert again.returncode == 2 and "already running" in again.stderr
        consortium = Consortium.open(Path(description["consortium"]))
        urls = [n["url"] for n in description["nodes"]]
        bank = Participant(urls[2], consortium.identity("bank_a", "network-test"),
                           chain_id=consortium.chain_id)
        core = Participant(urls[0], consortium.identity("core", "network-test"),
                           chain_id=consortium.chain_id)
        expiry = (datetime.now(UTC).date() + timedelta(days=300)).isoformat()
        line = core.cosign(bank.propose_credit_line(core=core.uscc, limit=10**9,
                                                    currency="CNY", expiry_date=expiry))
        assert bank.submit([line.envelope()])[0]["status"] == "committed"
        auditors = [Participant(u, consortium.identity("auditor", "network-test"),
                                chain_id=consortium.chain_id) for u in urls]
        deadline = time.monotonic() + 30
        while {(s["head_hash"], s["final_height"]) for s in (a.status() for a in auditors)} \
                != {(auditors[0].status()["head_hash"], 1)}:
            assert time.monotonic() < deadline, [a.status() for a in auditors]
            time.sleep(0.1)
    finally:
        down = _ledger("network", "down", "--dir", str(tmp_path))
    assert down.returncode == 0, down.stderr
    assert down.stdout.count("node node-") == 4 and down.stdout.count("etcd member") == 3
    for node in description["nodes"]:
        assert not process_is(node["pid"], node["database"])
    for member in description["etcd"]:
        assert not process_is(member["pid"], member["data_dir"])
    assert "nothing was running" in _ledger("network", "down", "--dir", str(tmp_path)).stdout
