"""A node runs only the contract code pinned on chain.

At start-up the node compares the hash of its contracts package with the pin
in force for the next block, and refuses to start on a mismatch; while
running, it stops committing before a block pinned (by governance) to other
code, rather than compute that block with the wrong rules.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from client.local_consortium.launcher import free_port
from contracts.code import code_hash
from ledger.errors import LedgerError
from node.config import NodeConfig
from node.service import NodeService
from tests.builders import make_orgs
from tests.nodes import running_node, write_genesis

REPO = Path(__file__).resolve().parents[2]
OTHER_CODE = "ab" * 32


def _copy_packages(target: Path) -> Path:
    """Copy the ledger, node and contracts packages to `target` (no caches)."""
    for package in ("ledger", "node", "contracts"):
        shutil.copytree(REPO / package, target / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _serve(code_dir: Path, genesis: Path, db: Path, log: Path) -> tuple[subprocess.Popen[bytes],
                                                                          str]:
    port = free_port()
    command = [sys.executable, "-m", "node", "serve", "--genesis", str(genesis),
               "--database", f"sqlite:///{db}", "--orderer", str(db.with_suffix(".log")),
               "--port", str(port)]
    env = {**os.environ, "PYTHONPATH": str(code_dir), "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=code_dir, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}"


def _wait_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(encoding="utf-8", errors="replace")
        try:
            if httpx.get(url + "/v1/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("the node did not answer /v1/health")


def test_a_node_with_changed_contract_code_refuses_to_start(tmp_path: Path) -> None:
    pinned = code_hash()
    genesis = tmp_path / "genesis.json"
    write_genesis(genesis, make_orgs(), contracts_hash=pinned)
    changed = _copy_packages(tmp_path / "changed")
    transfer = changed / "contracts" / "receivable" / "transfer.py"
    transfer.write_bytes(transfer.read_bytes() + b"# one more byte\n")
    local = code_hash(changed / "contracts")
    log = tmp_path / "changed.log"
    process, _ = _serve(changed, genesis, tmp_path / "changed.db", log)
    assert process.wait(timeout=60) == 2
    output = log.read_text(encoding="utf-8")
    assert (f"error: the node cannot start: this node's contract code (sha256 {local}) does "
            f"not match the code pinned on chain for height 1 (sha256 {pinned}); "
            "install the pinned contract version") in output


def test_a_node_with_the_pinned_code_starts(tmp_path: Path) -> None:
    genesis = tmp_path / "genesis.json"
    write_genesis(genesis, make_orgs(), contracts_hash=code_hash())
    same = _copy_packages(tmp_path / "same")
    log = tmp_path / "same.log"
    process, url = _serve(same, genesis, tmp_path / "same.db", log)
    try:
        _wait_healthy(process, url, log)
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_committer_stops_before_a_block_pinned_to_other_code(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.CRITICAL, logger="node.service")
    policies = {"governance_approval_percent": 1}  # the proposer alone decides
    with running_node(tmp_path, policies=policies, contracts_hash=code_hash()) as n:
        core = n.participant("core")
        try:
            head = n.service.chain.head.height
            upgrade = head + 3  # the pin commits at head+1, one more block at head+2
            status = core.act("propose", contract="governance", change={
                "kind": "pin_contracts", "code_hash": OTHER_CODE, "from_height": upgrade})
            assert status["events"][0]["executed"] is True
            core.act("propose", contract="governance", change={
                "kind": "set_policy", "name": "grace_days", "value": 4, "from_height": 10**6})
            assert n.service.chain.head.height == upgrade - 1
            pending = core.submit([core.prepare("governance", "propose", {"change": {
                "kind": "set_policy", "name": "grace_days", "value": 5,
                "from_height": 10**6}}).envelope()], wait=False)
            time.sleep(1.0)
            assert n.service.chain.head.height == upgrade - 1
            tx_id = pending[0]["tx_id"]
            assert n.service.tx_status(tx_id) == {"tx_id": tx_id, "status": "pending"}
            expected = (f"this node's contract code (sha256 {code_hash()}) does not match "
                        f"the code pinned on chain for height {upgrade} (sha256 {OTHER_CODE}); "
                        "install the pinned contract version")
            assert n.service.code_mismatch == expected
            assert core.status()["contract_code_mismatch"] == expected
            assert any(r.levelno == logging.CRITICAL and expected in r.getMessage()
                       for r in caplog.records)
        finally:
            core.close()
    config = NodeConfig(genesis_path=tmp_path / "genesis.json",
                        database_url=f"sqlite:///{tmp_path / 'node.db'}",
                        orderer_path=tmp_path / "orderer.db", port=free_port())
    with pytest.raises(LedgerError, match=f"pinned on chain for height {upgrade} "):
        NodeService(config)
