"""Issuance (开立): who may issue to whom, tenor, currency, credit line and invoice utilisation.

Each test starts from a valid issuance and changes one thing; a refused
issuance must leave the world state untouched.
"""

from __future__ import annotations

import pytest

from contracts.records import invoice_id
from tests.builders import MemoryChain
from tests.contracts.support import (
    FACE,
    LIMIT,
    MATURITY,
    STRANGER,
    Deal,
    day_after_start,
    grant_line,
    issue,
    issue_args,
    new_chain,
    refused,
    said,
    set_member,
    short,
    trade,
)


def test_issue_records_the_credential_pending_acceptance(pending: Deal) -> None:
    rec, c = pending.rec(), pending.c
    assert rec["status"] == "pending"
    assert (rec["face"], rec["currency"], rec["maturity_date"]) == (FACE, "CNY", MATURITY)
    assert (rec["issuer"], rec["first_holder"]) == (c.uscc("core"), c.uscc("s1"))
    assert rec["issue_date"] == "2026-01-05"
    assert rec["trade"] == trade(c)
    assert rec["live"] == [pending.root]
    note = pending.note(pending.root)
    assert (note["status"], note["amount"], note["depth"]) == ("pending", FACE, 0)
    assert pending.line_used() == FACE


def test_issuer_needs_core_enterprise_role_and_headroom(chain: MemoryChain, line: str) -> None:
    drawn = LIMIT - FACE
    issue(chain, line, amount=drawn, trade=trade(chain, amount=LIMIT, allocated=drawn))
    over = issue_args(chain, line, amount=FACE + 1,
                      trade=trade(chain, number="INV-2", allocated=FACE + 1))
    r = refused(chain, "core", "issue", **over)
    assert r.reason == said(
        "the credit line has enough headroom",
        f"amount 1,000,000.01 is more than the headroom 1,000,000.00 of credit line {short(line)} "
        "(limit 5,000,000.00, used 4,000,000.00)")
    set_member(chain, "core", roles=["supplier"])  # no governance action can do this
    args = issue_args(chain, line, trade=trade(chain, number="INV-3"))
    r = refused(chain, "core", "issue", **args)
    assert r.reason == said(
        "the issuer is an active member with the core-enterprise role",
        f"the issuer {chain.uscc('core')} does not have the core_enterprise role "
        "(its roles: supplier)")


def test_only_the_core_enterprise_of_the_line_signs_the_issuance(
    chain: MemoryChain, line: str
) -> None:
    r = refused(chain, "core2", "issue", **issue_args(chain, line))
    assert r.reason == said(
        "the core enterprise of the credit line signs the issuance",
        f"credit line {short(line)} is unknown, or not granted to {chain.uscc('core2')}")


@pytest.mark.parametrize(("receiver", "lacking"), [
    ("b1", "does not have the supplier role (its roles: bank)"),
    ("core2", "does not have the supplier role (its roles: core_enterprise)"),
    ("auditor", "does not have the supplier role (its roles: auditor)"),
    ("stranger", "is not a member"),
    ("suspended", "is suspended"),
])
def test_receiver_must_be_supplier(
    chain: MemoryChain, line: str, receiver: str, lacking: str
) -> None:
    if receiver == "suspended":
        set_member(chain, "s2", status="suspended")  # no governance action can do this
    names = {"suspended": "s2"}
    to = STRANGER if receiver == "stranger" else chain.uscc(names.get(receiver, receiver))
    r = refused(chain, "core", "issue", **issue_args(chain, line, to=to))
    assert r.reason == said("the receiver is an active member with the supplier role",
                            f"the receiver {to} {lacking}")


def test_tenor_at_most_365_days(chain: MemoryChain, line: str) -> None:
    r = refused(chain, "core", "issue", **issue_args(chain, line,
                                                     maturity_date=day_after_start(366)))
    assert r.reason == said("maturity is at most 365 days after issue",
                            "maturity 2027-01-06 is 366 days after the issue date 2026-01-05")
    issue(chain, line, maturity_date=day_after_start(365))


def test_maturity_is_after_the_issue_date(chain: MemoryChain, line: str) -> None:
    r = refused(chain, "core", "issue", **issue_args(chain, line, maturity_date="2026-01-05"))
    assert r.reason == said("maturity is after the issue date",
                            "maturity 2026-01-05 is not after the issue date 2026-01-05")
    r = refused(chain, "core", "issue", **issue_args(chain, line, maturity_date="2025-12-31"))
    assert r.reason == said("maturity is after the issue date",
                            "maturity 2025-12-31 is not after the issue date 2026-01-05")


@pytest.mark.parametrize(("days", "flagged"), [(183, False), (184, True), (365, True)])
def test_tenor_over_183_days_is_flagged_long(
    chain: MemoryChain, line: str, days: int, flagged: bool
) -> None:
    root = issue(chain, line, maturity_date=day_after_start(days))
    assert chain.get("receivable/" + root)["long_tenor"] is flagged


def test_currency_must_match_credit_line(chain: MemoryChain, line: str) -> None:
    r = refused(chain, "core", "issue", **issue_args(chain, line, currency="USD"))
    assert r.reason == said("the credential's currency matches the credit line",
                            f"the credential is in USD but credit line {short(line)} is in CNY")


def test_credit_line_must_not_have_expired(chain: MemoryChain) -> None:
    line = grant_line(chain, expiry="2026-01-10")
    chain.advance(days=6)
    r = refused(chain, "core", "issue", **issue_args(chain, line, maturity_date="2026-05-01"))
    assert r.reason == said("the credit line has not expired",
                            f"credit line {short(line)} expired on 2026-01-10")


def test_invoice_never_used_beyond_its_amount_across_issuances(
    chain: MemoryChain, line: str
) -> None:
    issue(chain, line, trade=trade(chain, amount=FACE + 50, allocated=FACE))
    args = issue_args(chain, line, amount=51, trade=trade(chain, amount=FACE + 50, allocated=51))
    r = refused(chain, "core", "issue", **args)
    assert r.reason == said(
        "an invoice is never used beyond its amount (no double financing)",
        "0.51 allocated to invoice INV-1 is more than the 0.50 left of its 1,000,000.50")
    issue(chain, line, amount=50, trade=trade(chain, amount=FACE + 50, allocated=50))
    inv = chain.get("invoice/" + invoice_id(chain.uscc("s1"), chain.uscc("core"), "INV-1"))
    assert (inv["allocated"], inv["amount"]) == (FACE + 50, FACE + 50)


def test_invoice_amount_is_the_same_in_every_use(pending: Deal) -> None:
    c = pending.c
    args = issue_args(c, pending.line, trade=trade(c, amount=3 * FACE))
    r = refused(c, "core", "issue", **args)
    assert r.reason == said("an invoice's amount is the same in every use",
                            "invoice INV-1 is on record for 2,000,000.00, not 3,000,000.00")


def test_invoice_allocations_add_up_to_the_face(chain: MemoryChain, line: str) -> None:
    args = issue_args(chain, line, trade=trade(chain, allocated=FACE - 1))
    r = refused(chain, "core", "issue", **args)
    assert r.reason == said("the invoice allocations add up to the credential's amount",
                            "the allocations add up to 999,999.99, the credential is 1,000,000.00")


def test_each_invoice_listed_once_per_credential(chain: MemoryChain, line: str) -> None:
    background = trade(chain, allocated=FACE // 2)
    background["invoices"] = background["invoices"] * 2
    r = refused(chain, "core", "issue", **issue_args(chain, line, trade=background))
    assert r.reason == said("each invoice is listed once per credential",
                            "invoice INV-1 is listed more than once")


def test_invoices_are_the_receivers_own_sales(chain: MemoryChain, line: str) -> None:
    args = issue_args(chain, line, trade=trade(chain, seller="s2"))
    r = refused(chain, "core", "issue", **args)
    assert r.reason == said(
        "the invoices are the receiver's own sales",
        f"invoice INV-1 is a sale of {chain.uscc('s2')}, not of the receiver {chain.uscc('s1')}")


@pytest.mark.parametrize("policy_on", [True, False])
def test_overdue_blocks_new_issuance(policy_on: bool) -> None:
    c = new_chain(block_issuance_when_overdue=policy_on)
    line = grant_line(c)
    c.ok("s1", "accept", receivable=issue(c, line, maturity_date="2026-01-15"))
    c.advance(days=14)  # 2026-01-19: maturity 01-15 + 3 grace days has passed
    args = issue_args(c, line, maturity_date="2026-06-01", trade=trade(c, number="INV-2"))
    if not policy_on:
        c.ok("core", "issue", **args)
        return
    r = refused(c, "core", "issue", **args)
    assert r.reason == said(
        "a core enterprise with overdue credentials issues no new ones until they are paid",
        "its credentials maturing on 2026-01-15 are not paid in full and the 3-day grace period "
        "has passed")


def test_issuance_within_grace_is_not_blocked() -> None:
    c = new_chain()
    line = grant_line(c)
    c.ok("s1", "accept", receivable=issue(c, line, maturity_date="2026-01-15"))
    c.advance(days=13)  # 2026-01-18 = maturity + grace: not yet overdue
    c.ok("core", "issue", **issue_args(c, line, trade=trade(c, number="INV-2")))


def test_pending_credential_past_maturity_does_not_block_issuance() -> None:
    c = new_chain()
    line = grant_line(c)
    issue(c, line, maturity_date="2026-01-06")  # never accepted, cannot be paid
    c.advance(days=5)  # 2026-01-10: within its acceptance window, past maturity + grace
    c.ok("core", "issue", **issue_args(c, line, trade=trade(c, number="INV-2")))
