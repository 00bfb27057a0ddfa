"""`ledger clock advance --network`: a simulation network driven by hand from the command line.

Before, a network started with `--simulated-clock` (or left running by
`ledger demo --network --keep-network`) refused every CLI call ('X-Ledger-Time
is too far from the node's clock') and no command moved its clocks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from client.cli import app
from client.local_consortium.consortium import Consortium
from client.local_consortium.etcd_cluster import stop_pid
from client.local_consortium.network import restart_node
from ledger.timefmt import format_timestamp, parse_timestamp
from tests.etcd import need_etcd

pytestmark = [pytest.mark.etcd, pytest.mark.slow]  # a whole network up and down
PASSWORD = "clock-network-test"
START = "2025-02-03T08:00:00Z"  # far from the system clock


def _ledger(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LEDGER_PASSWORD": PASSWORD}
    return subprocess.run([sys.executable, "-m", "client", *args], capture_output=True,
                          text=True, env=env, timeout=180)


def _times(description: dict[str, object], consortium: Consortium) -> dict[str, str]:
    context = consortium.tls_context("tier3", PASSWORD)
    return {str(n["node_id"]): httpx.get(str(n["url"]) + "/v1/health", verify=context,
                                         timeout=5).json()["time"]
            for n in description["nodes"]}  # type: ignore[attr-defined]


def test_clock_advance_moves_every_node_of_a_simulation_network(tmp_path: Path) -> None:
    need_etcd()
    up = _ledger("network", "up", "--dir", str(tmp_path), "--simulated-clock", START)
    assert up.returncode == 0, up.stderr
    try:
        description = json.loads((tmp_path / "network.json").read_text())
        consortium = Consortium.open(Path(description["consortium"]))
        runner = CliRunner()
        moved = runner.invoke(app, ["--password", PASSWORD, "--json", "clock", "advance",
                                    "--network", str(tmp_path), "--days", "30"])
        assert moved.exit_code == 0, moved.output
        later = format_timestamp(parse_timestamp(START) + timedelta(days=30))
        assert json.loads(moved.output)["time"] == later
        assert set(_times(description, consortium).values()) == {later}

        c = consortium.directory  # a member without a node uses the network from the CLI
        member = ["--node", description["nodes"][1]["url"], "--keystore",
                  str(c / "keys" / "tier3.json"), "--tls-cert", str(c / "certs" / "tier3.crt"),
                  "--tls-key", str(c / "keys" / "tier3.tls.pem"), "--tls-ca",
                  str(c / "ca" / "ca.crt"), "--password", PASSWORD, "--json"]
        status = runner.invoke(app, [*member, "status"])
        assert status.exit_code == 0, status.output  # before: X-Ledger-Time is too far
        assert json.loads(status.output)["time"] == later

        tier1 = next(n for n in description["nodes"] if n["alias"] == "tier1")
        assert stop_pid(tier1["pid"], tier1["database"])
        restart_node(tmp_path, "tier1")  # its clock starts again at the network's start
        description = json.loads((tmp_path / "network.json").read_text())
        assert _times(description, consortium)["node-tier1"] == START
        aligned = runner.invoke(app, ["--password", PASSWORD, "clock", "advance",
                                      "--network", str(tmp_path), "--seconds", "60"])
        assert aligned.exit_code == 0, aligned.output
        latest = format_timestamp(parse_timestamp(later) + timedelta(seconds=60))
        assert set(_times(description, consortium).values()) == {latest}
    finally:
        down = _ledger("network", "down", "--dir", str(tmp_path))
    assert down.returncode == 0, down.stderr


def test_clock_advance_refuses_a_network_on_system_clocks(tmp_path: Path) -> None:
    need_etcd()
    up = _ledger("network", "up", "--dir", str(tmp_path))
    assert up.returncode == 0, up.stderr
    try:
        refused = _ledger("clock", "advance", "--network", str(tmp_path), "--days", "1")
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        assert "uses the system clock" in " ".join(refused.stderr.split())
    finally:
        _ledger("network", "down", "--dir", str(tmp_path))
