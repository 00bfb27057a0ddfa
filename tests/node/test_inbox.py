"""The inbox: each party sees what awaits it, step by step through a credential's life.

A real node over HTTP, with its manual clock moved past maturity:

    b1 grants core a credit line; core issues 1,000,000.00 to s1, who accepts;
    s1 pays s2 300,000.00; s2 asks b2 to finance it, b2 offers, s2 accepts,
    b2 confirms the disbursement; at maturity core's payment falls due, a day
    later it is overdue for core, s1 and b2; core pays half, then the rest.

s4 is a supplier with no part in any of it, and the auditor is party to
nothing: both see an empty inbox throughout.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client.sdk.http import NodeError
from client.sdk.participant import Participant
from tests.node.support import FACE, MATURITY, grant_line, issue_args, outputs
from tests.nodes import RunningNode, running_node

TO_S2 = 30_000_000
CAST = ("core", "s1", "s2", "b1", "b2", "s4", "auditor")


@pytest.fixture
def node(tmp_path: Path) -> Iterator[RunningNode]:
    with running_node(tmp_path, verifier_processes=0) as n:
        yield n


class Cast:
    """The participants of the story and a short way to read their inboxes."""

    def __init__(self, n: RunningNode) -> None:
        self.n = n
        self.people = {name: n.participant(name) for name in CAST}

    def __getitem__(self, name: str) -> Participant:
        return self.people[name]

    def uscc(self, name: str) -> str:
        return self.n.orgs[name].uscc

    def items(self, name: str, within_days: int = 30) -> list[dict[str, Any]]:
        answer = self[name].inbox(within_days)
        assert answer["as_of"] == self.n.clock.now().date().isoformat()
        assert answer["within_days"] == within_days
        assert answer["truncated"] is False
        return list(answer["items"])

    def kinds(self, name: str, within_days: int = 30) -> list[tuple[str, str]]:
        return [(i["kind"], i["id"]) for i in self.items(name, within_days)]

    def quiet(self, *names: str) -> None:
        for name in names:
            assert self.items(name) == [], name

    def close(self) -> None:
        for person in self.people.values():
            person.close()


@pytest.fixture
def cast(node: RunningNode) -> Iterator[Cast]:
    c = Cast(node)
    yield c
    c.close()


def only(items: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(items) == 1, items
    return items[0]


def test_each_party_sees_what_awaits_it_through_a_credentials_life(cast: Cast) -> None:
    n = cast.n
    line = grant_line(n)
    cast.quiet(*CAST)

    issued = cast["core"].act("issue", **issue_args(n, line))
    root = issued["events"][0]["receivable"]
    _issued_awaits_acceptance(cast, root)

    cast["s1"].accept(root)
    cast.quiet(*CAST)
    due = only(cast.items("core", within_days=90))  # matures in 90 days: due within 90
    assert (due["kind"], due["id"], due["amount"], due["date"]) == (
        "payment_due", root, FACE, MATURITY)
    assert due["counterparty"] is None

    out = outputs(cast["s1"].transfer(root, [(cast.uscc("s2"), TO_S2)]))
    s2_note, s1_rest = out[cast.uscc("s2")], out[cast.uscc("s1")]
    cast.quiet(*CAST)

    bank_note = _financing_round(cast, s2_note)
    _maturity(cast, root, s1_rest, bank_note)


def _issued_awaits_acceptance(cast: Cast, root: str) -> None:
    to_accept = only(cast.items("s1"))
    assert to_accept["kind"] == "credential_to_accept"
    assert (to_accept["id"], to_accept["counterparty"], to_accept["amount"]) == (
        root, cast.uscc("core"), FACE)
    assert to_accept["currency"] == "CNY"
    assert to_accept["date"] == to_accept["record"]["accept_by"] > "2026-01-05"
    assert to_accept["record"]["note"]["id"] == root
    assert "trade" in to_accept["record"]  # the first holder sees its own sales
    assert "live" not in to_accept["record"]  # but not the split tree
    waiting = only(cast.items("core"))
    assert (waiting["kind"], waiting["id"], waiting["counterparty"], waiting["amount"]) == (
        "awaiting_acceptance", root, cast.uscc("s1"), FACE)
    assert waiting["record"]["live"] == [root]  # the issuer sees the whole record
    cast.quiet("s2", "b1", "b2", "s4", "auditor")


def _financing_round(cast: Cast, s2_note: str) -> str:
    """Request, offer, accept, disburse; return the bank's note."""
    financing = cast["s2"].request_financing(s2_note, cast.uscc("b2"))["events"][0]["financing"]
    request = only(cast.items("b2"))
    assert (request["kind"], request["id"], request["counterparty"], request["amount"],
            request["date"]) == ("financing_request", financing, cast.uscc("s2"), TO_S2, MATURITY)
    assert request["record"]["note"]["id"] == s2_note
    assert cast.kinds("s2") == [("awaiting_offer", financing)]
    assert only(cast.items("s2"))["counterparty"] == cast.uscc("b2")
    cast.quiet("core", "s1", "b1", "s4", "auditor")

    offered = cast["b2"].offer_terms(financing, annual_rate_percent="2.00",
                                     funding_date="2026-01-05")["events"][0]
    offer = only(cast.items("s2"))
    assert (offer["kind"], offer["counterparty"], offer["amount"], offer["date"]) == (
        "offer_to_accept", cast.uscc("b2"), offered["terms"]["net_proceeds"], MATURITY)
    assert offer["amount"] < TO_S2
    assert offer["record"]["terms_hash"] == offered["terms_hash"]
    cast.quiet("b2", "s4", "auditor")

    accepted = cast["s2"].accept_terms(financing, offered["terms_hash"])["events"][0]
    confirm = only(cast.items("b2"))
    assert (confirm["kind"], confirm["id"], confirm["counterparty"], confirm["amount"]) == (
        "disbursement_to_confirm", financing, cast.uscc("s2"), offered["terms"]["net_proceeds"])
    assert confirm["record"]["note"]["id"] == s2_note  # the parent of the bank's own note
    assert cast.kinds("s2") == [("awaiting_disbursement", financing)]

    cast["b2"].confirm_disbursement(financing, "PAY-1")
    cast.quiet(*CAST)
    return str(accepted["bank_note"])


def _maturity(cast: Cast, root: str, s1_rest: str, bank_note: str) -> None:
    n = cast.n
    n.clock.advance(days=90)  # maturity day: due, not yet overdue
    assert cast.kinds("core") == [("payment_due", root)]
    cast.quiet("s1", "s2", "b2", "s4", "auditor")

    n.clock.advance(days=1)
    assert cast.kinds("core") == [("overdue", root)]
    assert only(cast.items("core"))["amount"] == FACE
    _holders_overdue(cast, {"s1": (s1_rest, FACE - TO_S2), "b2": (bank_note, TO_S2)})
    cast.quiet("s2", "b1", "s4", "auditor")

    cast["core"].pay(root, FACE // 2, "PAY-HALF")  # partial: the credential is overdue now
    assert cast["core"].receivable(root)["receivable"]["status"] == "overdue"
    overdue = only(cast.items("core"))
    assert (overdue["kind"], overdue["amount"]) == ("overdue", FACE - FACE // 2)
    s1_item = only(cast.items("s1"))
    assert (s1_item["kind"], s1_item["amount"]) == ("overdue", (FACE - TO_S2) // 2)

    cast["core"].pay(root, FACE - FACE // 2, "PAY-REST")
    cast.quiet(*CAST)


def _holders_overdue(cast: Cast, notes: dict[str, tuple[str, int]]) -> None:
    for name, (note_id, amount) in notes.items():
        found = only(cast.items(name))
        assert (found["kind"], found["id"], found["counterparty"], found["amount"],
                found["date"]) == ("overdue", note_id, cast.uscc("core"), amount, MATURITY)
        assert found["record"]["note"]["holder"] == cast.uscc(name)


def test_items_sort_by_date_and_credit_lines_expire_by_the_node_clock(cast: Cast) -> None:
    n = cast.n
    line = grant_line(n)
    late = {**issue_args(n, line), "maturity_date": "2026-02-20"}
    first = cast["core"].act("issue", **issue_args(n, line))["events"][0]["receivable"]
    second = cast["core"].act("issue", **late)["events"][0]["receivable"]
    cast["s1"].accept(first)
    cast["s1"].accept(second)
    kinds = cast.kinds("core", within_days=366)
    assert kinds == [("payment_due", second), ("payment_due", first)]  # earlier maturity first
    assert cast.kinds("core", within_days=46) == [("payment_due", second)]
    assert [x["id"] for x in cast["b1"].credit_lines(status="open")] == [line]
    assert cast["b1"].credit_lines(status="expired") == []
    n.clock.advance(days=361)  # past the line's expiry, 2026-12-31
    assert [x["id"] for x in cast["core"].credit_lines(status="expired")] == [line]
    assert cast["core"].credit_lines(status="open") == []


@pytest.mark.parametrize("within_days", [0, 367, -1, "soon"])
def test_a_bad_window_is_a_400_naming_it(cast: Cast, within_days: Any) -> None:
    with pytest.raises(NodeError) as info:
        cast["s1"].inbox(within_days)
    assert info.value.status == 400
    assert "within_days" in info.value.detail
