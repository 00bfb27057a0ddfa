"""Acceptance (签收), rejection, withdrawal and expiry of an issued credential.

Before acceptance the issuer may withdraw, the receiver may reject, and after
the acceptance window either may record expiry; each releases the credit line
and the invoice allocations.  Acceptance is irrevocable.
"""

from __future__ import annotations

import pytest

from contracts.records import invoice_id
from tests.contracts.support import FACE, Deal, issue, refused, said, short, trade

CANCELLATIONS = [("reject", "s1", "rejected"), ("withdraw", "core", "withdrawn"),
                 ("expire", "core", "expired"), ("expire", "s1", "expired")]


def _allocated(deal: Deal) -> int:
    """What credentials use of s1's invoice INV-1 to core (0 once nothing is recorded)."""
    record = deal.c.get("invoice/" + invoice_id(deal.c.uscc("s1"), deal.c.uscc("core"), "INV-1"))
    return 0 if record is None else int(record["allocated"])


def test_accept_makes_the_credential_effective(pending: Deal) -> None:
    pending.c.ok("s1", "accept", receivable=pending.root)
    assert pending.rec()["status"] == "active"
    assert pending.note(pending.root)["status"] == "active"
    assert pending.line_used() == FACE


def test_only_the_receiver_accepts(pending: Deal) -> None:
    r = refused(pending.c, "core", "accept", receivable=pending.root)
    assert r.reason == said(
        "the receiving supplier signs the acceptance",
        f"credential {short(pending.root)} is unknown, or not issued to {pending.c.uscc('core')}")


def test_a_mistyped_credential_id_is_quoted_back(pending: Deal) -> None:
    """The words are those of someone else's credential: they say nothing of which it is."""
    mistyped = "602c4e1a" + pending.root[8:]
    r = refused(pending.c, "s1", "accept", receivable=mistyped)
    assert r.reason == said(
        "the receiving supplier signs the acceptance",
        f"credential 602c4e1a\u2026 is unknown, or not issued to {pending.c.uscc('s1')}")


def test_accept_within_the_acceptance_window(pending: Deal) -> None:
    pending.c.advance(days=8)  # accept_by is 2026-01-12
    r = refused(pending.c, "s1", "accept", receivable=pending.root)
    assert r.reason == said(
        "a credential is accepted within the acceptance window",
        f"the acceptance window of credential {short(pending.root)} closed on 2026-01-12")


def test_accept_on_the_last_day_of_the_window(pending: Deal) -> None:
    assert pending.rec()["accept_by"] == "2026-01-12"
    pending.c.advance(days=7)
    pending.c.ok("s1", "accept", receivable=pending.root)


@pytest.mark.parametrize(("action", "signer", "status"), CANCELLATIONS)
def test_cancellation_releases_credit_line_and_invoice_allocations(
    pending: Deal, action: str, signer: str, status: str
) -> None:
    if action == "expire":
        pending.c.advance(days=8)
    assert (pending.line_used(), _allocated(pending)) == (FACE, FACE)
    pending.c.ok(signer, action, receivable=pending.root)
    assert (pending.rec()["status"], pending.rec()["live"]) == (status, [])
    assert pending.note(pending.root)["status"] == "void"
    assert (pending.line_used(), _allocated(pending)) == (0, 0)
    book = pending.c.get("issuer/" + pending.c.uscc("core"))  # pending ones are never in it
    assert book is None or book["open_maturities"] == {}


def test_only_the_receiver_rejects(pending: Deal) -> None:
    r = refused(pending.c, "core", "reject", receivable=pending.root)
    assert r.reason == said(
        "only the receiving supplier rejects a credential",
        f"credential {short(pending.root)} is unknown, or not issued to {pending.c.uscc('core')}")


def test_only_the_issuer_withdraws(pending: Deal) -> None:
    r = refused(pending.c, "s1", "withdraw", receivable=pending.root)
    assert r.reason == said(
        "only the issuer withdraws a credential",
        f"credential {short(pending.root)} is unknown, or not issued by {pending.c.uscc('s1')}")


def test_expiry_only_after_the_window(pending: Deal) -> None:
    pending.c.advance(days=7)
    r = refused(pending.c, "core", "expire", receivable=pending.root)
    assert r.reason == said(
        "a credential expires only after its acceptance window",
        f"the acceptance window of credential {short(pending.root)} is open until 2026-01-12")
    pending.c.advance(days=1)
    pending.c.ok("core", "expire", receivable=pending.root)


def test_expiry_recorded_by_the_issuer_or_receiver(pending: Deal) -> None:
    pending.c.advance(days=8)
    r = refused(pending.c, "s2", "expire", receivable=pending.root)
    assert r.reason == said("the issuer or receiver records expiry",
                            f"credential {short(pending.root)} is unknown, or not issued by or "
                            f"to {pending.c.uscc('s2')}")


@pytest.mark.parametrize(("action", "signer"), [("reject", "s1"), ("withdraw", "core"),
                                                ("expire", "core"), ("accept", "s1")])
def test_acceptance_is_irrevocable(active: Deal, action: str, signer: str) -> None:
    active.c.advance(days=8)
    r = refused(active.c, signer, action, receivable=active.root)
    assert r.reason == said("the credential is pending acceptance",
                            f"credential {short(active.root)} is already accepted "
                            "(on 2026-01-05)")


@pytest.mark.parametrize(("action", "signer", "status"), [("reject", "s1", "rejected"),
                                                          ("withdraw", "core", "withdrawn")])
def test_cancelled_credential_cannot_be_accepted(
    pending: Deal, action: str, signer: str, status: str
) -> None:
    pending.c.advance(days=2)
    pending.c.ok(signer, action, receivable=pending.root)
    pending.c.advance(days=1)
    r = refused(pending.c, "s1", "accept", receivable=pending.root)
    assert r.reason == said("the credential is pending acceptance",
                            f"credential {short(pending.root)} is {status} (on 2026-01-07)")


def test_a_credential_accepted_after_its_maturity_is_refused_with_the_date(pending: Deal) -> None:
    c = pending.c
    root = issue(c, pending.line, maturity_date="2026-01-08", trade=trade(c, number="INV-9"))
    c.advance(days=3)  # 2026-01-08: within the acceptance window, but the maturity date
    r = refused(c, "s1", "accept", receivable=root)
    assert r.reason == said("a credential is accepted before maturity",
                            f"credential {short(root)} reached maturity on 2026-01-08")


def test_a_credential_records_the_date_of_each_status(pending: Deal) -> None:
    assert (pending.rec()["status"], pending.rec()["status_date"]) == ("pending", "2026-01-05")
    pending.c.advance(days=3)
    pending.c.ok("s1", "accept", receivable=pending.root)
    assert (pending.rec()["status"], pending.rec()["status_date"]) == ("active", "2026-01-08")


def test_invoice_usable_in_full_again_after_rejection(pending: Deal) -> None:
    c = pending.c
    c.ok("s1", "reject", receivable=pending.root)
    issue(c, pending.line, amount=2 * FACE, trade=trade(c, allocated=2 * FACE))
    assert _allocated(pending) == 2 * FACE
