"""Maturity payment and clearing (到期兑付/清分), partial payment and overdue (逾期).

At maturity the issuer records payment; every leaf holder gets a clearing
record and the credit line is released.  A partial payment is shared pro rata
with the leftover fen to the earliest leaves, and the rest is overdue.
"""

from __future__ import annotations

import pytest

from contracts.records import derived_id
from ledger.errors import rule_of
from tests.builders import MemoryChain
from tests.contracts.support import (
    FACE,
    Deal,
    Split,
    assert_conserved,
    issue_args,
    pay_to,
    refused,
    said,
    short,
    trade,
)

THIRD = 33_333_333


def _clearings(c: MemoryChain, tx_id: str, count: int) -> list[tuple[str, int, str]]:
    records = [c.get("clearing/" + derived_id(tx_id, i, "clearing")) for i in range(count)]
    return [(r["holder"], r["amount"], r["payment_ref"]) for r in records]


@pytest.fixture
def thirds(active: Deal) -> Deal:
    """s1 pays s2 and s3 a third each: leaves s2, s3, s1 (33,333,333/333/334 fen)."""
    payments = pay_to(active.c, "s2", THIRD) + pay_to(active.c, "s3", THIRD)
    active.c.ok("s1", "transfer", note=active.root, payments=payments)
    active.c.advance(days=90)
    return active


def test_maturity_payment_clears_every_leaf_holder(split: Split) -> None:
    c = split.c
    c.advance(days=90)
    r = c.ok("core", "pay", receivable=split.root, amount=FACE, payment_ref="ICBC-0405-1")
    assert _clearings(c, r.tx_id, 2) == [(c.uscc("s2"), 30_000_000, "ICBC-0405-1"),
                                         (c.uscc("s1"), 70_000_000, "ICBC-0405-1")]
    assert c.get("clearing/" + derived_id(r.tx_id, 0, "clearing"))["date"] == "2026-04-05"
    assert [split.note(n)["status"] for n in (split.paid, split.rest)] == ["settled"] * 2
    assert (split.rec()["status"], split.rec()["paid"], split.rec()["live"]) == ("paid", FACE, [])
    assert_conserved(c, split.root)


def test_credit_line_released_on_payment(split: Split) -> None:
    split.c.advance(days=90)
    split.c.ok("core", "pay", receivable=split.root, amount=FACE - 1, payment_ref="P1")
    assert split.line_used() == 1
    split.c.ok("core", "pay", receivable=split.root, amount=1, payment_ref="P2")
    assert split.line_used() == 0
    assert split.c.get("issuer/" + split.c.uscc("core"))["open_maturities"] == {}


def test_payment_only_on_or_after_maturity(split: Split) -> None:
    split.c.advance(days=89)
    r = refused(split.c, "core", "pay", receivable=split.root, amount=FACE, payment_ref="P")
    assert r.reason == said("payment is recorded on or after maturity",
                            f"credential {short(split.root)} matures on 2026-04-05")


def test_only_the_issuer_records_payment(split: Split) -> None:
    split.c.advance(days=90)
    r = refused(split.c, "s1", "pay", receivable=split.root, amount=FACE, payment_ref="P")
    assert r.reason == said(
        "the issuing core enterprise records the payment",
        f"credential {short(split.root)} is unknown, or not issued by {split.c.uscc('s1')}")


def test_payment_does_not_exceed_the_outstanding_amount(split: Split) -> None:
    split.c.advance(days=90)
    r = refused(split.c, "core", "pay", receivable=split.root, amount=FACE + 1, payment_ref="P")
    assert r.reason == said("a payment does not exceed the amount outstanding",
                            f"payment 1,000,000.01 is more than the 1,000,000.00 outstanding on "
                            f"credential {short(split.root)}")
    split.c.ok("core", "pay", receivable=split.root, amount=FACE - 100, payment_ref="P1")
    r = refused(split.c, "core", "pay", receivable=split.root, amount=101, payment_ref="P2")
    assert r.reason == said("a payment does not exceed the amount outstanding",
                            f"payment 1.01 is more than the 1.00 outstanding on "
                            f"credential {short(split.root)}")


def test_payment_only_for_an_effective_unpaid_credential(pending: Deal) -> None:
    pending.c.advance(days=90)
    r = refused(pending.c, "core", "pay", receivable=pending.root, amount=FACE, payment_ref="P")
    assert r.reason == said(
        "the credential is effective and not yet paid",
        f"credential {short(pending.root)} is pending acceptance (since 2026-01-05)")


def test_paid_credential_is_not_paid_again(split: Split) -> None:
    split.c.advance(days=90)
    split.c.ok("core", "pay", receivable=split.root, amount=FACE, payment_ref="P1")
    r = refused(split.c, "core", "pay", receivable=split.root, amount=1, payment_ref="P2")
    assert r.reason == said("the credential is effective and not yet paid",
                            f"credential {short(split.root)} is paid (on 2026-04-05)")


def test_partial_payment_pro_rata_with_leftover_fen_to_the_earliest_leaves(thirds: Deal) -> None:
    c = thirds.c
    r = c.ok("core", "pay", receivable=thirds.root, amount=50_000_002, payment_ref="P1")
    # exact shares 16,666,667.17 / .17 / .67: floors sum to one fen short, which goes first
    shares = [16_666_668, 16_666_667, 16_666_667]
    holders = [c.uscc(n) for n in ("s2", "s3", "s1")]
    assert _clearings(c, r.tx_id, 3) == [(h, s, "P1") for h, s in zip(holders, shares,
                                                                      strict=True)]
    rests = [thirds.note(n) for n in thirds.rec()["live"]]
    assert [(n["holder"], n["amount"]) for n in rests] == [
        (h, a - s) for h, a, s in zip(holders, [THIRD, THIRD, THIRD + 1], shares, strict=True)]
    assert_conserved(c, thirds.root)


def test_partial_payment_leaves_the_rest_overdue(thirds: Deal) -> None:
    c = thirds.c
    c.ok("core", "pay", receivable=thirds.root, amount=10, payment_ref="P1")
    assert (thirds.rec()["status"], thirds.rec()["paid"]) == ("overdue", 10)
    assert [thirds.note(n)["status"] for n in thirds.rec()["live"]] == ["active"] * 3
    assert thirds.line_used() == FACE - 10
    c.ok("core", "pay", receivable=thirds.root, amount=FACE - 10, payment_ref="P2")
    assert (thirds.rec()["status"], thirds.rec()["live"]) == ("paid", [])


def test_an_overdue_credential_stays_overdue_since_its_first_partial_payment(
    thirds: Deal
) -> None:
    """Paid in part at maturity (2026-04-05) and the day after, in full the day after that."""
    c = thirds.c
    c.ok("core", "pay", receivable=thirds.root, amount=10, payment_ref="P1")
    c.advance(days=1)
    c.ok("core", "pay", receivable=thirds.root, amount=10, payment_ref="P2")
    assert (thirds.rec()["status"], thirds.rec()["status_date"]) == ("overdue", "2026-04-05")
    c.advance(days=1)
    c.ok("core", "pay", receivable=thirds.root, amount=FACE - 20, payment_ref="P3")
    assert (thirds.rec()["status"], thirds.rec()["status_date"]) == ("paid", "2026-04-07")


def test_payment_cancels_open_financing_requests(split: Split) -> None:
    c = split.c
    fid = c.ok("s2", "request_financing", note=split.paid,
               bank=c.uscc("b1")).events[0]["financing"]
    c.advance(days=90)
    c.ok("core", "pay", receivable=split.root, amount=FACE, payment_ref="P1")
    assert c.get("financing/" + fid)["status"] == "cancelled"
    assert split.note(split.paid)["status"] == "settled"


def test_zero_share_leaf_under_financing_is_released(split: Split) -> None:
    c = split.c
    fid = c.ok("s1", "request_financing", note=split.rest,
               bank=c.uscc("b1")).events[0]["financing"]
    c.advance(days=90)
    c.ok("core", "pay", receivable=split.root, amount=1, payment_ref="P1")  # s2 gets the fen
    assert c.get("financing/" + fid)["status"] == "cancelled"
    note = split.note(split.rest)
    assert (note["status"], note["financing"]) == ("active", None)


def test_overdue_only_after_maturity_plus_grace(split: Split) -> None:
    split.c.advance(days=93)  # 2026-04-08: maturity + 3 grace days
    r = refused(split.c, "s2", "mark_overdue", receivable=split.root)
    assert r.reason == said("a credential is overdue only after maturity plus the grace period",
                            f"the grace period of credential {short(split.root)} runs until "
                            "2026-04-08 (maturity 2026-04-05, 3 days' grace)")
    split.c.advance(days=1)
    split.c.ok("s2", "mark_overdue", receivable=split.root)
    assert split.rec()["status"] == "overdue"


def test_overdue_recorded_by_the_issuer_or_a_holder(split: Split) -> None:
    split.c.advance(days=94)
    r = refused(split.c, "s3", "mark_overdue", receivable=split.root)
    assert r.reason == said("the issuer or a holder of the credential records it overdue",
                            f"credential {short(split.root)} is unknown, or not issued by or "
                            f"held by {split.c.uscc('s3')}")
    split.c.ok("core", "mark_overdue", receivable=split.root)
    r = refused(split.c, "core", "mark_overdue", receivable=split.root)
    assert r.reason == said("only an effective unpaid credential goes overdue",
                            f"credential {short(split.root)} is overdue (since 2026-04-09)")


def test_paying_overdue_credentials_unblocks_issuance(split: Split) -> None:
    c = split.c
    c.advance(days=94)
    c.ok("core", "mark_overdue", receivable=split.root)
    args = issue_args(c, split.line, maturity_date="2026-09-01", trade=trade(c, number="INV-2"))
    r = refused(c, "core", "issue", **args)
    assert rule_of(r.reason) == (
        "a core enterprise with overdue credentials issues no new ones until they are paid")
    c.ok("core", "pay", receivable=split.root, amount=FACE, payment_ref="P1")
    c.ok("core", "issue", **args)
