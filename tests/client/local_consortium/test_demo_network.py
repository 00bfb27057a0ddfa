"""`ledger demo --network`: the story on a simulation network of four TLS nodes, then stopped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from client.local_consortium.consortium import DEFAULT_CAST
from client.local_consortium.demo import STORY_ALIASES, node_routes
from client.local_consortium.network import NODE_ORGS, any_running, network_down, network_up
from tests.etcd import need_etcd


def _ledger(*args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "LEDGER_PASSWORD"}
    if password is not None:
        env["LEDGER_PASSWORD"] = password
    return subprocess.run([sys.executable, "-m", "client", *args], capture_output=True,
                          text=True, env=env, timeout=300)


def test_the_network_and_the_story_name_the_same_organisations() -> None:
    aliases = [spec.alias for spec in DEFAULT_CAST]
    assert set(STORY_ALIASES) <= set(aliases) and set(NODE_ORGS) <= set(aliases)
    routes = node_routes(list(NODE_ORGS), aliases)
    for alias in NODE_ORGS:  # an organisation with a node talks to its own first
        assert routes[alias][0] == alias
    for route in routes.values():  # and every organisation can fail over to every node
        assert sorted(route) == sorted(NODE_ORGS)
    homes = {routes[a][0] for a in aliases if a not in NODE_ORGS}
    assert len(homes) == len(NODE_ORGS)  # the others are spread over all four nodes


@pytest.mark.etcd
@pytest.mark.slow  # a whole network up and down
def test_demo_on_a_network_plays_the_story_audits_and_stops_the_network(tmp_path: Path) -> None:
    need_etcd()
    directory = tmp_path / "net"
    run = _ledger("demo", "--network", str(directory))
    description = json.loads((directory / "network.json").read_text())
    try:
        assert run.returncode == 0, run.stdout + run.stderr
        out = " ".join(run.stdout.split())  # rich wraps long lines
        assert description["simulated_clock"] == "2026-01-05T09:00:00Z"
        assert "simulation network" in out
        assert "audit PASSED" in out
        assert "identical heads on all 4 nodes" in out
        assert "signed by a quorum of organisations" in out
        assert "simulated clock moved 80 days on all 4 nodes" in out
        assert "2,986,666.67" in out  # the same pricing as the embedded demo
        assert "network stopped: 7 processes" in out
        assert not any_running(description)
    finally:
        if any_running(description):
            network_down(directory)


@pytest.mark.etcd
@pytest.mark.slow  # a whole network up and down
def test_demo_refuses_a_network_on_system_clocks(tmp_path: Path) -> None:
    need_etcd()
    description = network_up(tmp_path, "refusal-test")
    try:
        assert description["simulated_clock"] is None
        run = _ledger("demo", "--network", str(tmp_path), password="refusal-test")
        assert run.returncode == 2, run.stdout + run.stderr
        message = " ".join(run.stderr.split())
        assert "uses the system clock" in message
        assert "has to move time forward" in message
        assert "--simulated-clock" in message
        assert any_running(description)  # a network the demo did not start is left alone
    finally:
        network_down(tmp_path)
    assert not any_running(description)
