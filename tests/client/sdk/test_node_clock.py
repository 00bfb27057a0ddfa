"""The SDK signs with a simulation node's own time, and with the system clock everywhere else.

A node on a manual clock (a simulation) refuses requests dated more than five
minutes from its clock, so a client on the system clock could not use it at
all.  Such a node says so in `GET /v1/health` (`clock: "manual"` and its
`time`), and a client that was given no clock of its own signs requests and
dates transactions with that time, learning it again when the node refuses
one for its time.  A node on the system clock is never followed, and neither
is any node by a client given its own clock (`now`), nor a simulated clock
ahead of the system clock unless allowed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from client.local_consortium.launcher import NodeProcess, start_node
from client.sdk.http import NodeClient, NodeError
from client.sdk.keystore import Identity
from client.sdk.node_clock import FOLLOW_AHEAD, followed_time
from client.sdk.participant import Participant
from ledger.timefmt import format_timestamp
from tests.builders import Org, make_orgs
from tests.nodes import RunningNode, running_node, write_genesis

LONG_AGO = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)  # far from any system clock running these


@pytest.fixture
def simulation(tmp_path: Path) -> Iterator[RunningNode]:
    with running_node(tmp_path, start=LONG_AGO, verifier_processes=0) as n:
        yield n


def _identity(org: Org) -> Identity:
    return Identity(org.uscc, org.name, org.key)


def test_health_says_which_clock_a_node_runs_on(simulation: RunningNode) -> None:
    answer = httpx.get(simulation.url + "/v1/health").json()
    assert (answer["clock"], answer["time"]) == ("manual", format_timestamp(LONG_AGO))


def test_a_client_without_a_clock_of_its_own_follows_a_simulation_node(
        simulation: RunningNode) -> None:
    member = Participant(simulation.url, _identity(simulation.orgs["s1"]))
    assert member.status()["time"] == format_timestamp(LONG_AGO)  # before: 401, too far
    assert member.node.time() == LONG_AGO
    bank, core = (Participant(simulation.url, _identity(simulation.orgs[alias]))
                  for alias in ("b1", "core"))
    line = core.cosign(bank.propose_credit_line(  # dated by the node's clock, so in its window
        core=core.uscc, limit=10**6, currency="CNY", expiry_date="2024-12-31"))
    assert bank.submit([line.envelope()])[0]["status"] == "committed"


def test_a_client_learns_the_time_again_when_the_simulation_moves_on(
        simulation: RunningNode) -> None:
    member = Participant(simulation.url, _identity(simulation.orgs["s1"]))
    assert member.status()["time"] == format_timestamp(LONG_AGO)
    simulation.clock.advance(days=30)  # moved by someone else: the time learnt is stale
    assert member.status()["time"] == format_timestamp(LONG_AGO + timedelta(days=30))
    assert member.node.time() == LONG_AGO + timedelta(days=30)


def test_a_client_given_its_own_clock_never_follows(simulation: RunningNode) -> None:
    now = datetime.now(UTC)
    client = NodeClient(simulation.url, _identity(simulation.orgs["s1"]), now=lambda: now)
    assert client.time() == now
    with pytest.raises(NodeError, match="X-Ledger-Time is too far"):
        client.get("/v1/status")


@pytest.fixture
def system_node(tmp_path: Path) -> Iterator[NodeProcess]:
    write_genesis(tmp_path / "genesis.json", make_orgs(), start=datetime.now(UTC) - timedelta(
        minutes=1))
    node = start_node(genesis=tmp_path / "genesis.json", orderer=tmp_path / "orderer.db",
                      database_url=f"sqlite:///{tmp_path / 'node.db'}",
                      log_path=tmp_path / "node.log")
    try:
        yield node
    finally:
        node.stop()


def test_a_node_on_the_system_clock_is_never_followed(system_node: NodeProcess) -> None:
    answer = httpx.get(system_node.url + "/v1/health").json()
    assert answer["clock"] == "system"
    client = NodeClient(system_node.url, _identity(make_orgs()["s1"]))
    before = datetime.now(UTC)
    assert before <= client.time() <= datetime.now(UTC)  # the system clock, read now
    assert client.get("/v1/status")["node_id"] == "node-1"


@pytest.mark.parametrize("answer", [
    {"clock": "system", "time": "2020-01-01T00:00:00Z"},  # a system clock's time: never taken
    {"time": "2020-01-01T00:00:00Z"},  # a node that does not say (an older node)
    {"clock": "Manual", "time": "2020-01-01T00:00:00Z"},
])
def test_only_a_declared_manual_clock_is_followed(answer: dict[str, str]) -> None:
    assert followed_time({"ok": True, "chain_id": "c", "node_id": "n", **answer}) is None
    assert followed_time({"clock": "manual", "time": "2020-01-01T00:00:00Z"}) == datetime(
        2020, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("time", [None, 7, "yesterday", "2020-01-01T00:00:00+08:00"])
def test_a_manual_clock_without_a_readable_time_is_refused(time: object) -> None:
    with pytest.raises(ValueError, match="time"):
        followed_time({"clock": "manual", "time": time})


def test_a_simulated_clock_ahead_of_this_machine_is_followed_only_when_allowed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A node only claiming a future clock would get transactions signed to submit later."""
    ahead = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    monkeypatch.delenv(FOLLOW_AHEAD, raising=False)
    with running_node(tmp_path, start=ahead, verifier_processes=0) as n:
        refused = Participant(n.url, _identity(n.orgs["s1"]))
        assert refused.node.time() < ahead  # the system clock
        with pytest.raises(NodeError, match=FOLLOW_AHEAD) as caught:
            refused.status()
        assert caught.value.code == "clock_ahead"
        allowed = Participant(n.url, _identity(n.orgs["s1"]), follow_ahead=True)
        assert allowed.status()["time"] == format_timestamp(ahead)
        monkeypatch.setenv(FOLLOW_AHEAD, "1")
        assert NodeClient(n.url, _identity(n.orgs["s1"])).get("/v1/status")["time"] == \
            format_timestamp(ahead)
