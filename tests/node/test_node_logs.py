"""A node process says who it is and what it does: banner, ready line, block lines, request ids.

`python -m node serve` runs as the launcher runs it (stderr into the node's
log file).  At the default level the log holds the start banner (URL, chain,
node id, height), the ready line, one line per committed block, and an error
answer's line with the request id the client sent; with `--log-format json`
every line is a JSON object, and `--log-file` gets the same lines.
"""

from __future__ import annotations

import json
import socket
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from client.local_consortium.launcher import NodeProcess, node_command, start_node
from client.sdk.keystore import Identity
from client.sdk.participant import Participant
from tests.builders import make_orgs
from tests.nodes import write_genesis


def _grant_line(url: str) -> None:
    orgs = make_orgs()
    bank, core = ([Participant(url, Identity(o.uscc, o.name, o.key))
                   for o in (orgs["b1"], orgs["core"])])
    try:
        expiry = (datetime.now(UTC).date() + timedelta(days=300)).isoformat()
        line = core.cosign(bank.propose_credit_line(core=core.uscc, limit=10**9,
                                                    currency="CNY", expiry_date=expiry))
        assert bank.submit([line.envelope()])[0]["status"] == "committed"
    finally:
        bank.close()
        core.close()


def _start(tmp_path: Path, log: str, *extra: str) -> NodeProcess:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    if not (tmp_path / "genesis.json").exists():
        write_genesis(tmp_path / "genesis.json", make_orgs(), start=start)
    return start_node(genesis=tmp_path / "genesis.json",
                      database_url=f"sqlite:///{tmp_path / 'node.db'}",
                      orderer=tmp_path / "orderer.db", log_path=tmp_path / log,
                      extra=("--metrics-port", "0", *extra))


def test_the_log_has_the_banner_the_ready_line_blocks_and_request_ids(tmp_path: Path) -> None:
    node = _start(tmp_path, "node.log")
    try:
        _grant_line(node.url)
        refused = httpx.get(node.url + "/v1/status", headers={"X-Request-Id": "probe-1234"})
        assert refused.status_code == 401
    finally:
        node.stop()
    lines = (tmp_path / "node.log").read_text(encoding="utf-8").splitlines()
    banner, ready = lines[0], lines[1]
    assert "INFO" in banner and "node node-1 of chain test-chain" in banner
    assert f"starting at {node.url}" in banner and "head at height 0" in banner
    assert ready.split(": ", 1)[1].startswith(f"ready: node node-1 serves {node.url}")
    assert "metrics at http://127.0.0.1:" in ready
    assert any("block 1 committed: 1 transaction(s), 0 invalid" in line for line in lines)
    assert any("GET /v1/status answered 401" in line and line.endswith("[request=probe-1234]")
               for line in lines)
    assert "node node-1 stopped at height 1 (final 1)" in lines[-1]


def test_json_lines_go_to_stderr_and_the_log_file_alike(tmp_path: Path) -> None:
    node = _start(tmp_path, "stderr.log", "--log-format", "json",
                  "--log-file", str(tmp_path / "node.jsonl"))
    try:
        _grant_line(node.url)
        httpx.get(node.url + "/v1/status", headers={"X-Request-Id": "probe-5678"})
    finally:
        node.stop()
    written = (tmp_path / "node.jsonl").read_text(encoding="utf-8").splitlines()
    assert (tmp_path / "stderr.log").read_text(encoding="utf-8").splitlines() == written
    entries = [json.loads(line) for line in written]
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    assert entries[0]["chain_id"] == "test-chain" and entries[0]["height"] == 0
    assert entries[1]["message"].startswith("ready: ") and entries[1]["url"] == node.url
    block = next(e for e in entries if e["message"].startswith("block 1 committed"))
    assert (block["height"], block["txs"], block["invalid"]) == (1, 1, 0)
    refused = next(e for e in entries if e.get("request_id") == "probe-5678")
    assert (refused["status"], refused["path"]) == (401, "/v1/status")


def test_a_metrics_port_it_cannot_have_stops_the_start_with_a_clear_error(tmp_path: Path) -> None:
    write_genesis(tmp_path / "genesis.json", make_orgs())
    serve = ["serve", "--genesis", str(tmp_path / "genesis.json"),
             "--database", f"sqlite:///{tmp_path / 'node.db'}"]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        for port in (str(taken.getsockname()[1]), "70000"):
            done = subprocess.run(node_command(*serve, "--metrics-port", port),
                                  capture_output=True, text=True, timeout=60)
            assert done.returncode == 2, done.stderr
            assert "error: the node cannot start: " in done.stderr, done.stderr
            assert "Traceback" not in done.stderr
    bad = subprocess.run(node_command(*serve, "--log-level", "loud"), capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and "invalid choice: 'loud'" in bad.stderr
