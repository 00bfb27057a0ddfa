"""Acceptance (签收), rejection, withdrawal and expiry of an issued credential.

Before acceptance the issuer may withdraw, the receiver may reject, and after
the acceptance window either may record expiry; each releases the credit line
and the invoice allocations.  Acceptance is irrevocable.
"""

from __future__ import annotations

import pytest

from contracts.records import invoice_id
from tests.contracts.support import FACE, Deal, issue, refused, trade

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
    assert r.reason == "the receiving supplier signs the acceptance"


def test_accept_within_the_acceptance_window(pending: Deal) -> None:
    pending.c.advance(days=8)  # accept_by is 2026-01-12
    r = refused(pending.c, "s1", "accept", receivable=pending.root)
    assert r.reason == "a credential is accepted within the acceptance window"


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
    assert r.reason == "only the receiving supplier rejects a credential"


def test_only_the_issuer_withdraws(pending: Deal) -> None:
    r = refused(pending.c, "s1", "withdraw", receivable=pending.root)
    assert r.reason == "only the issuer withdraws a credential"


def test_expiry_only_after_the_window(pending: Deal) -> None:
    pending.c.advance(days=7)
    r = refused(pending.c, "core", "expire", receivable=pending.root)
    assert r.reason == "a credential expires only after its acceptance window"
    pending.c.advance(days=1)
    pending.c.ok("core", "expire", receivable=pending.root)


def test_expiry_recorded_by_the_issuer_or_receiver(pending: Deal) -> None:
    pending.c.advance(days=8)
    r = refused(pending.c, "s2", "expire", receivable=pending.root)
    assert r.reason == "the issuer or receiver records expiry"


@pytest.mark.parametrize(("action", "signer"), [("reject", "s1"), ("withdraw", "core"),
                                                ("expire", "core"), ("accept", "s1")])
def test_acceptance_is_irrevocable(active: Deal, action: str, signer: str) -> None:
    active.c.advance(days=8)
    r = refused(active.c, signer, action, receivable=active.root)
    assert r.reason == "the credential is pending acceptance"


@pytest.mark.parametrize(("action", "signer"), [("reject", "s1"), ("withdraw", "core")])
def test_cancelled_credential_cannot_be_accepted(pending: Deal, action: str, signer: str) -> None:
    pending.c.ok(signer, action, receivable=pending.root)
    r = refused(pending.c, "s1", "accept", receivable=pending.root)
    assert r.reason == "the credential is pending acceptance"


def test_invoice_usable_in_full_again_after_rejection(pending: Deal) -> None:
    c = pending.c
    c.ok("s1", "reject", receivable=pending.root)
    issue(c, pending.line, amount=2 * FACE, trade=trade(c, allocated=2 * FACE))
    assert _allocated(pending) == 2 * FACE
