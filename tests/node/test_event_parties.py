"""Events served to a member do not name the other parties of a transaction.

A maturity payment clears every holder of the credential, so every holder
is party to it; its event listed all of them, and each holder reading the
transaction (or its event feed) learned who else holds a piece of the
credential (the read side of finding 6, found while closing it).  The
`parties` of an event decide who may read the transaction; only auditors
are served them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.node.support import grant_line, issue_accepted, outputs
from tests.nodes import RunningNode, running_node


@pytest.fixture(scope="module")
def paid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningNode, str]]:
    """s1 paid s2 from its credential; at maturity core paid, clearing both."""
    tmp: Path = tmp_path_factory.mktemp("event-parties")
    with running_node(tmp, verifier_processes=0) as n:
        root = issue_accepted(n, grant_line(n))
        s1, core = n.participant("s1"), n.participant("core")
        outputs(s1.transfer(root, [(n.orgs["s2"].uscc, 30_000_000)]))
        n.clock.advance(days=90)
        tx_id = core.pay(root, 100_000_000, "PAY-1")["tx_id"]
        yield n, tx_id


def test_a_holder_reading_the_payment_does_not_learn_the_other_holders(
    paid: tuple[RunningNode, str]
) -> None:
    n, tx_id = paid
    for me, other in (("s2", "s1"), ("s1", "s2")):
        person = n.participant(me)
        served = orjson.dumps(person.transaction(tx_id)).decode()
        fed = [e for e in person.events(limit=1000) if e["tx_id"] == tx_id]
        assert len(fed) == 1
        assert n.orgs[other].uscc not in served, f"{me} sees {other} in the payment"
        assert n.orgs[other].uscc not in orjson.dumps(fed).decode(), f"{me}'s feed names {other}"


def test_the_auditor_still_sees_every_party(paid: tuple[RunningNode, str]) -> None:
    n, tx_id = paid
    events = n.participant("auditor").transaction(tx_id)["events"]
    assert {n.orgs[x].uscc for x in ("core", "s1", "s2")} <= set(events[0]["parties"])
