"""`GET /v1/policies`: the policies in force as the state holds them, on SQLite and PostgreSQL.

A node founded with some policies of its own answers them over the
contracts' defaults, as of its head; a governance change scheduled from a
later height is listed as scheduled until then and in force from it (and
the contracts apply the same value); a member admitted later, who may not
read the genesis, reads the same answer as a founder; every member may read
it, and an unsigned or stranger's request is refused with 401 like every
other read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from client.sdk.keystore import Identity
from client.sdk.participant import Participant
from client.sdk.policies import Policies
from contracts.registry import DEFAULT_POLICIES
from ledger.crypto import PrivateKey
from ledger.membership import Role, make_uscc
from tests.builders import Org, key_for
from tests.node.support import error_of, grant_line, raw, signed_headers
from tests.nodes import RunningNode, running_node
from tests.pg import new_database

pytestmark = pytest.mark.postgres

FOUNDED = {"review_tenor_days": 120, "min_split_amount": 50_000,
           "governance_approval_percent": 1}  # each proposal passes on its proposer's approval


@pytest.fixture(params=["sqlite", "postgresql"])
def node(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[RunningNode]:
    """A fresh node founded with FOUNDED, on each backend."""
    tmp = tmp_path_factory.mktemp(f"policies-{request.param}")
    url = None
    if request.param == "postgresql":
        url = new_database(request.getfixturevalue("postgres_url"), "policies")
    with running_node(tmp, policies=FOUNDED, database_url=url, verifier_processes=0) as n:
        yield n


def _answer(n: RunningNode, who: str) -> Any:
    response = raw(n, n.orgs[who], "GET", "/v1/policies")
    assert response.status_code == 200, response.text
    return response.json()


def _floats(value: Any) -> list[Any]:
    """Return every float anywhere in a decoded JSON value."""
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for v in value.values() for f in _floats(v)]
    if isinstance(value, list):
        return [f for v in value for f in _floats(v)]
    return []


def _propose_policy(n: RunningNode, name: str, value: Any, from_height: int) -> None:
    core = n.participant("core")
    try:
        change = {"kind": "set_policy", "name": name, "value": value, "from_height": from_height}
        [event] = core.act("propose", contract="governance", change=change)["events"]
        assert event["executed"] is True, event
    finally:
        core.close()


def _commit_until(n: RunningNode, height: int) -> None:
    """Commit blocks (credit lines) until the node's head is at least `height`."""
    while n.service.chain.head.height < height:
        grant_line(n)


def test_every_member_reads_the_genesis_policies_over_the_defaults(node: RunningNode) -> None:
    expected = {name: {"value": value, "from_height": 0}
                for name, value in {**DEFAULT_POLICIES, **FOUNDED}.items()}
    head = node.service.chain.head.height
    for who in ("core", "s1", "b1", "auditor"):
        answer = _answer(node, who)
        assert answer == {"height": head, "policies": expected, "scheduled": []}
        assert _floats(answer) == []
    s1 = node.participant("s1")
    try:
        policies = s1.policies()
    finally:
        s1.close()
    assert (policies.height, policies["review_tenor_days"]) == (head, 120)
    assert policies.number("min_split_amount") == 50_000
    assert policies.to_json() == _answer(node, "s1")


def test_a_governance_change_is_scheduled_then_in_force(node: RunningNode) -> None:
    start = node.service.chain.head.height
    takes_effect = start + 3
    _propose_policy(node, "review_tenor_days", 90, takes_effect)
    before = _answer(node, "s1")
    assert before["height"] < takes_effect
    assert before["policies"]["review_tenor_days"] == {"value": 120, "from_height": 0}
    assert before["scheduled"] == [{"name": "review_tenor_days", "value": 90,
                                    "from_height": takes_effect}]
    scheduled = Policies.from_json(before)
    assert scheduled.at(takes_effect - 1)["review_tenor_days"] == 120
    assert scheduled.at(takes_effect)["review_tenor_days"] == 90
    _commit_until(node, takes_effect)
    after = _answer(node, "s1")
    assert after["height"] == node.service.chain.head.height >= takes_effect
    assert after["policies"]["review_tenor_days"] == {"value": 90, "from_height": takes_effect}
    assert after["scheduled"] == []
    assert {k: v for k, v in after["policies"].items() if k != "review_tenor_days"} == {
        k: v for k, v in before["policies"].items() if k != "review_tenor_days"}


def test_a_member_admitted_later_reads_what_a_founder_reads(node: RunningNode) -> None:
    newcomer = Org("s5", make_uscc("91310000MA0000050"), frozenset({Role.SUPPLIER}),
                   key_for("s5"))
    core = node.participant("core")
    try:
        [event] = core.act("propose", contract="governance", change={
            "kind": "add_member", "member": newcomer.member().to_json()})["events"]
        assert event["executed"] is True
    finally:
        core.close()
    late = Participant(node.url, Identity(newcomer.uscc, "s5", newcomer.key),
                       now=node.clock.now)
    try:
        assert late.policies() == Policies.from_json(_answer(node, "s1"))
        assert late.policies().number("review_tenor_days") == 120
    finally:
        late.close()


def test_an_unsigned_or_strangers_request_is_refused_with_401(node: RunningNode) -> None:
    unsigned = raw(node, None, "GET", "/v1/policies")
    assert error_of(unsigned, 401)[0] == "unauthenticated"
    stranger = make_uscc("91310000MA7777777")
    headers = signed_headers(node, node.orgs["s1"], "GET", "/v1/policies",
                             key=PrivateKey(bytes(range(1, 33))), uscc=stranger)
    response = httpx.get(node.url + "/v1/policies", headers=headers)
    error, detail = error_of(response, 401)
    assert error == "unauthenticated" and stranger in detail
