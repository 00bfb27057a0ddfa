"""`ledger network up/down`: one command starts etcd and four nodes; another stops exactly them.

Both report each step on stderr as it happens.  Every node logs (its
node.log holds the banner, the ready line and its blocks) and serves
metrics on loopback that promtool accepts.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from client.local_consortium.consortium import Consortium
from client.local_consortium.etcd_cluster import process_is
from client.sdk.participant import Participant
from tests.etcd import need_etcd
from tests.metrics import need_promtool, promtool_problems, scrape
from tests.pki import TestCA

pytestmark = [pytest.mark.etcd, pytest.mark.slow]  # a whole network up and down


def _ledger(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LEDGER_PASSWORD": "network-test"}
    return subprocess.run([sys.executable, "-m", "client", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_network_up_runs_a_consortium_and_down_stops_exactly_it(tmp_path: Path) -> None:
    need_etcd()
    need_promtool()
    up = _ledger("network", "up", "--dir", str(tmp_path))
    assert up.returncode == 0, up.stderr
    description = json.loads((tmp_path / "network.json").read_text())
    try:
        assert len(description["etcd"]) == 3 and len(description["nodes"]) == 4
        for node in description["nodes"]:
            assert node["url"] in up.stdout
            assert f"node {node['node_id']} ready in" in up.stderr
        assert "creating the consortium" in up.stderr and "etcd ready in" in up.stderr
        again = _ledger("network", "up", "--dir", str(tmp_path))
        assert again.returncode == 2 and "already running" in again.stderr
        consortium = Consortium.open(Path(description["consortium"]))
        urls = [n["url"] for n in description["nodes"]]
        assert all(u.startswith("https://127.0.0.1:") for u in urls)
        assert description["ca"] == str(consortium.ca_cert_path)
        _only_consortium_members_get_in(description, consortium)

        def member(url: str, alias: str) -> Participant:
            return Participant(url, consortium.identity(alias, "network-test"),
                               chain_id=consortium.chain_id,
                               tls=consortium.tls_context(alias, "network-test"))

        bank, core = member(urls[2], "bank_a"), member(urls[0], "core")
        expiry = (datetime.now(UTC).date() + timedelta(days=300)).isoformat()
        line = core.cosign(bank.propose_credit_line(core=core.uscc, limit=10**9,
                                                    currency="CNY", expiry_date=expiry))
        assert bank.submit([line.envelope()])[0]["status"] == "committed"
        auditors = [member(u, "auditor") for u in urls]
        deadline = time.monotonic() + 30
        while {(s["head_hash"], s["final_height"]) for s in (a.status() for a in auditors)} \
                != {(auditors[0].status()["head_hash"], 1)}:
            assert time.monotonic() < deadline, [a.status() for a in auditors]
            time.sleep(0.1)
        _every_node_logs_and_serves_metrics(description)
        _etcd_members_run_bounded(description)
    finally:
        down = _ledger("network", "down", "--dir", str(tmp_path))
    assert down.returncode == 0, down.stderr
    assert down.stdout.count("node node-") == 4 and down.stdout.count("etcd member") == 3
    assert down.stderr.count("stopped node node-") == 4
    assert down.stderr.count("stopped etcd member") == 3
    for node in description["nodes"]:
        assert not process_is(node["pid"], node["database"])
    for member in description["etcd"]:
        assert not process_is(member["pid"], member["data_dir"])
    assert "nothing was running" in _ledger("network", "down", "--dir", str(tmp_path)).stdout


def _every_node_logs_and_serves_metrics(description: dict[str, Any]) -> None:
    """Each node.log tells the node's start and its block; each node's metrics pass promtool."""
    for node in description["nodes"]:
        log = Path(node["log_path"]).read_text(encoding="utf-8")
        assert f"node {node['node_id']} of chain receivables-network starting at" in log
        assert f"ready: node {node['node_id']} serves {node['url']}" in log
        assert "block 1 committed: 1 transaction(s), 0 invalid" in log
        assert node["metrics_url"].startswith("http://127.0.0.1:")
        taken = scrape(node["metrics_url"])
        assert promtool_problems(taken.text) == ""
        assert taken.value("ledger_final_height") == taken.value("ledger_block_height") == 1
        assert taken.value("ledger_committed_transactions_total") == 1


def _etcd_members_run_bounded(description: dict[str, Any]) -> None:
    """Each etcd member runs with the flags that bound its memory and disk, and applies them.

    The command line shows the flags; the member's own metrics show the quota it enforces.
    """
    for member in description["etcd"]:
        args = Path(f"/proc/{member['pid']}/cmdline").read_bytes().decode().split("\0")
        for flag in ("--snapshot-count=2000", "--max-wals=2", "--max-snapshots=2",
                     f"--quota-backend-bytes={2 * 1024**3}"):
            assert flag in args, args
        metrics = scrape(args[args.index("--listen-metrics-urls") + 1] + "/metrics")
        assert metrics.value("etcd_server_quota_backend_bytes") == 2 * 1024**3


def _only_consortium_members_get_in(description: dict[str, Any], consortium: Consortium) -> None:
    """Nodes and etcd refuse clients without a consortium certificate at the TLS handshake."""
    node, etcd = description["nodes"][0]["url"], description["etcd"][0]["client_url"]
    plain = ssl.create_default_context(cafile=str(consortium.ca_cert_path))
    foreign = TestCA(Path(description["consortium"]).parent / "foreign-ca", "a foreign CA")
    stranger = ssl.create_default_context(cafile=str(consortium.ca_cert_path))
    made_up = foreign.node_files("stranger")  # a well-formed cert, from the wrong CA
    stranger.load_cert_chain(str(made_up.cert), str(made_up.key))
    for refused in (plain, stranger):
        with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
            httpx.get(node + "/v1/health", verify=refused, timeout=5)
        with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
            httpx.post(etcd + "/v3/kv/range", json={"key": "Lw=="}, verify=refused, timeout=5)
    admitted = consortium.tls_context("tier3", "network-test")  # a member without a node
    assert httpx.get(node + "/v1/health", verify=admitted, timeout=5).status_code == 200
