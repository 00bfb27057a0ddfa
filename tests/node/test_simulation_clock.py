"""A simulation node's clock: only its named controllers move it, and never out of range.

Found by the outside test (finding 8): any member could move a manual clock,
and after about 400 maximal advances (year 9999) every clock call answered
500.  Whoever moves time moves every deadline of the ledger (acceptance
windows, maturities, validity windows), so a node names who may move it,
and the clock stops well before dates run out.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from ledger.timefmt import format_timestamp
from node.clock import LATEST_SIMULATED
from tests.builders import make_orgs
from tests.node.support import error_of, raw
from tests.nodes import RunningNode, running_node, write_genesis

CONTROLLER = make_orgs()["auditor"].uscc


@pytest.fixture
def node(tmp_path: Path) -> Iterator[RunningNode]:
    with running_node(tmp_path, clock_controllers=CONTROLLER, verifier_processes=0) as n:
        yield n


def _advance(n: RunningNode, who: str, days: int) -> tuple[int, dict[str, str]]:
    response = raw(n, n.orgs[who], "POST", "/v1/admin/clock", orjson.dumps({"days": days}))
    return response.status_code, response.json()


@pytest.mark.parametrize("who", ["s1", "core", "b1"])
def test_a_member_who_is_no_controller_cannot_move_the_clock(node: RunningNode,
                                                            who: str) -> None:
    before = node.clock.now()
    status, answer = _advance(node, who, 30)
    assert (status, answer["error"]) == (403, "forbidden")
    assert CONTROLLER in answer["detail"]
    assert node.clock.now() == before


def test_the_controller_moves_it_until_the_limit_and_never_gets_a_500(node: RunningNode) -> None:
    status, answer = _advance(node, "auditor", 1)
    assert (status, answer) == (200, {"time": "2026-01-06T09:00:00Z"})
    node.clock.set(datetime(8900, 1, 1, tzinfo=UTC))  # where hundreds of advances lead
    for _ in range(400):  # 400 x 3,660 days from 8900 would pass year 9999 several times
        status, answer = _advance(node, "auditor", 3660)
        assert status in (200, 400), answer
        if status == 400:
            break
    assert status == 400
    assert node.clock.now() < LATEST_SIMULATED
    _, detail = error_of(raw(node, node.orgs["auditor"], "POST", "/v1/admin/clock",
                                orjson.dumps({"days": 3660})), 400)
    assert format_timestamp(LATEST_SIMULATED) in detail
    assert node.participant("s1").status()["time"] == format_timestamp(node.clock.now())


def test_a_simulation_node_without_a_controller_does_not_start(tmp_path: Path) -> None:
    write_genesis(tmp_path / "genesis.json", make_orgs())
    done = subprocess.run(
        [sys.executable, "-m", "node", "serve", "--genesis", str(tmp_path / "genesis.json"),
         "--database", f"sqlite:///{tmp_path / 'node.db'}", "--port", "1",
         "--manual-clock", "2026-01-05T09:00:00Z"],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--clock-controller" in done.stderr
    assert "Traceback" not in done.stderr
