"""The `ledger` command line on a simulation node: it follows the node's clock and moves it.

Before, every command against a node on a manual clock failed with
'X-Ledger-Time is too far from the node's clock', and no command moved the
clock, so a simulation could not reach a maturity from the command line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from client.cli import app
from client.local_consortium.launcher import NodeProcess, start_node
from client.sdk.keystore import Identity, save_keystore
from client.sdk.node_clock import FOLLOW_AHEAD
from ledger.timefmt import format_timestamp
from tests.builders import make_orgs
from tests.nodes import RunningNode, running_node, write_genesis

PASSWORD = "clock-test-password"
START = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)  # far from the system clock


@pytest.fixture
def node(tmp_path: Path) -> Iterator[RunningNode]:
    auditor = make_orgs()["auditor"].uscc
    with running_node(tmp_path, start=START, clock_controllers=auditor,
                      verifier_processes=0) as n:
        yield n


def _keystores(tmp_path: Path, names: tuple[str, ...] = ("core", "b1", "s1", "auditor")
               ) -> dict[str, Path]:
    paths = {}
    for name, org in make_orgs().items():
        if name in names:
            paths[name] = tmp_path / f"{name}.json"
            save_keystore(paths[name], Identity(org.uscc, org.name, org.key), PASSWORD)
    return paths


def _ledger(url: str, keystore: Path, *args: str) -> Result:
    env = {"LEDGER_NODE": url, "LEDGER_PASSWORD": PASSWORD}
    return CliRunner().invoke(app, ["--keystore", str(keystore), "--json", *args], env=env)


def _said(result: Result) -> str:
    return " ".join(result.output.split())


def test_the_cli_works_against_a_simulation_node(node: RunningNode, tmp_path: Path) -> None:
    keys = _keystores(tmp_path)
    status = _ledger(node.url, keys["s1"], "status")
    assert status.exit_code == 0, status.output  # before: 401 X-Ledger-Time is too far
    assert json.loads(status.output)["time"] == format_timestamp(START)
    prepared = tmp_path / "line.json"
    proposed = _ledger(node.url, keys["b1"], "credit-line", "--core", make_orgs()["core"].uscc,
                       "--limit", "1,000,000.00", "--expiry", "2024-12-31", "--out",
                       str(prepared))
    assert proposed.exit_code == 0, proposed.output
    granted = _ledger(node.url, keys["core"], "cosign", str(prepared))
    assert granted.exit_code == 0, granted.output
    assert json.loads(granted.output)["status"] == "committed"


def test_clock_advance_moves_a_simulation_node_and_the_cli_follows(
        node: RunningNode, tmp_path: Path) -> None:
    keys = _keystores(tmp_path)
    moved = _ledger(node.url, keys["auditor"], "clock", "advance", "--days", "90",
                    "--seconds", "30")
    assert moved.exit_code == 0, moved.output
    later = START + timedelta(days=90, seconds=30)
    assert json.loads(moved.output)["time"] == format_timestamp(later)
    assert node.clock.now() == later
    words = CliRunner().invoke(app, ["--node", node.url, "--keystore", str(keys["auditor"]),
                                     "--password", PASSWORD, "clock", "advance", "--days", "1"])
    assert words.exit_code == 0 and format_timestamp(later + timedelta(days=1)) in words.output
    status = _ledger(node.url, keys["s1"], "status")  # a new CLI run learns the new time
    assert json.loads(status.output)["time"] == format_timestamp(later + timedelta(days=1))


def test_only_a_clock_controller_moves_the_clock_and_is_told_so_cleanly(
        node: RunningNode, tmp_path: Path) -> None:
    keys = _keystores(tmp_path)
    refused = _ledger(node.url, keys["s1"], "clock", "advance", "--days", "1")
    assert refused.exit_code == 1 and isinstance(refused.exception, SystemExit)
    assert "clock_controllers" in _said(refused)
    assert node.clock.now() == START
    nothing = _ledger(node.url, keys["auditor"], "clock", "advance")
    assert nothing.exit_code == 2 and "--days" in _said(nothing)


@pytest.fixture
def system_node(tmp_path: Path) -> Iterator[NodeProcess]:
    write_genesis(tmp_path / "genesis.json", make_orgs(),
                  start=datetime.now(UTC) - timedelta(minutes=1))
    process = start_node(genesis=tmp_path / "genesis.json", orderer=tmp_path / "orderer.db",
                         database_url=f"sqlite:///{tmp_path / 'node.db'}",
                         log_path=tmp_path / "node.log")
    try:
        yield process
    finally:
        process.stop()


def test_clock_advance_refuses_a_node_on_the_system_clock(system_node: NodeProcess,
                                                          tmp_path: Path) -> None:
    keys = _keystores(tmp_path)
    refused = _ledger(system_node.url, keys["auditor"], "clock", "advance", "--days", "1")
    assert refused.exit_code == 1 and isinstance(refused.exception, SystemExit)
    assert "runs on the system clock" in _said(refused)


def test_clock_advance_refuses_a_directory_without_a_network(tmp_path: Path) -> None:
    refused = CliRunner().invoke(app, ["--password", PASSWORD, "clock", "advance", "--days",
                                       "1", "--network", str(tmp_path)])
    assert refused.exit_code == 2 and isinstance(refused.exception, SystemExit)
    assert "no network was started from" in _said(refused)


def test_a_simulation_ahead_of_this_machine_is_followed_only_when_allowed(
        tmp_path: Path) -> None:
    ahead = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    keys = _keystores(tmp_path)
    with running_node(tmp_path, start=ahead, clock_controllers=make_orgs()["auditor"].uscc,
                      verifier_processes=0) as n:
        env = {k: v for k, v in os.environ.items() if k != FOLLOW_AHEAD}
        env |= {"LEDGER_NODE": n.url, "LEDGER_PASSWORD": PASSWORD,
                "LEDGER_KEYSTORE": str(keys["s1"])}
        refused = subprocess.run([sys.executable, "-m", "client", "status"], env=env,
                                 capture_output=True, text=True, timeout=60)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        assert "clock_ahead" in refused.stderr and FOLLOW_AHEAD in refused.stderr
        env[FOLLOW_AHEAD] = "1"
        status = subprocess.run([sys.executable, "-m", "client", "--json", "status"], env=env,
                                capture_output=True, text=True, timeout=60)
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["time"] == format_timestamp(ahead)
