"""Financing (融资): request, offer, acceptance, disbursement and cancellation.

A holder asks a bank to buy a note, the bank prices it (ACT/360, half-up to
the fen), the seller agrees and the note passes to the bank, marked financed;
the bank confirms the payout with its reference.  A note is financed once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from ledger.canonical import canonical_bytes
from ledger.crypto import sha256_hex
from tests.builders import MemoryChain, build_tx
from tests.contracts.support import (
    FACE,
    Deal,
    Split,
    assert_conserved,
    day_after_start,
    grant_line,
    issue,
    new_chain,
    pay_to,
    refused,
    said,
    short,
)

CHANGED = "the seller accepts exactly the terms on offer (the bank has changed them)"
TERMS: dict[str, Any] = {"annual_rate_percent": "2.00", "funding_date": "2026-01-05",
                         "fees": 0, "fee_payer": "seller", "recourse": True}


@dataclass(frozen=True)
class Fin:
    """A deal whose full-face note s1 asked b1 to finance."""

    c: MemoryChain
    root: str
    fid: str

    def rec(self) -> dict[str, Any]:
        return self.c.get("financing/" + self.fid)

    def offer(self, **changes: Any) -> None:
        self.c.ok("b1", "offer_terms", financing=self.fid, **{**TERMS, **changes})

    def terms_hash(self) -> str:
        """Return the hash of the terms on offer now (what an acceptance names)."""
        return str(self.rec()["terms_hash"])

    def accept(self, who: str = "s1") -> Any:
        """Have `who` accept the terms on offer now."""
        return self.c.ok(who, "accept_terms", financing=self.fid, terms_hash=self.terms_hash())

    def refused_accept(self, who: str = "s1", terms_hash: str | None = None) -> Any:
        """Have `who` try to accept (the terms on offer, unless another hash is named)."""
        named = terms_hash or self.rec().get("terms_hash") or "00" * 32
        return refused(self.c, who, "accept_terms", financing=self.fid, terms_hash=named)


def _request(c: MemoryChain, note: str, holder: str = "s1") -> str:
    r = c.ok(holder, "request_financing", note=note, bank=c.uscc("b1"))
    return r.events[0]["financing"]


@pytest.fixture
def fin(active: Deal) -> Fin:
    return Fin(active.c, active.root, _request(active.c, active.root))


@pytest.fixture
def offered(fin: Fin) -> Fin:
    fin.offer(registry_no="ZD-2026-0001")
    return fin


def test_pricing_recorded(offered: Fin) -> None:
    """DOMAIN worked example: 1,000,000.00 at 2.00% for 90 days."""
    terms = offered.rec()["terms"]
    assert (terms["face"], terms["days"], terms["interest"]) == (FACE, 90, 500_000)
    assert terms["net_proceeds"] == 99_500_000
    assert (terms["fees"], terms["fee_payer"], terms["seller_fees"]) == (0, "seller", 0)
    assert (terms["annual_rate_percent"], terms["funding_date"]) == ("2.00", "2026-01-05")
    assert offered.rec()["terms_hash"] == sha256_hex(canonical_bytes(terms))


def test_recourse_flag_and_registry_number_recorded(offered: Fin) -> None:
    terms = offered.rec()["terms"]
    assert (terms["recourse"], terms["registry_no"]) == (True, "ZD-2026-0001")
    offered.offer(recourse=False)
    assert (offered.rec()["terms"]["recourse"], offered.rec()["terms"]["registry_no"]) == (
        False, None)


def test_financing_flow_passes_the_note_to_the_bank(offered: Fin) -> None:
    c = offered.c
    r = offered.accept()
    bank_note = c.get("note/" + offered.rec()["bank_note"])
    assert (bank_note["holder"], bank_note["amount"], bank_note["financed"]) == (
        c.uscc("b1"), FACE, True)
    assert r.events[0]["net_proceeds"] == 99_500_000
    assert r.events[0]["terms_hash"] == offered.terms_hash()
    assert offered.rec()["status"] == "accepted"
    assert c.get("note/" + offered.root)["status"] == "spent"
    c.ok("b1", "confirm_disbursement", financing=offered.fid, payment_ref="BOC-20260105-77")
    assert (offered.rec()["status"], offered.rec()["payment_ref"]) == (
        "disbursed", "BOC-20260105-77")
    assert_conserved(c, offered.root)


def test_request_holds_the_note(fin: Fin) -> None:
    note = fin.c.get("note/" + fin.root)
    assert (note["status"], note["financing"]) == ("financing", fin.fid)
    assert fin.rec()["status"] == "requested"


@pytest.mark.parametrize(("financier", "roles"), [("s2", "supplier"), ("core", "core_enterprise"),
                                                   ("auditor", "auditor")])
def test_financier_must_be_bank(active: Deal, financier: str, roles: str) -> None:
    c = active.c
    r = refused(c, "s1", "request_financing", note=active.root, bank=c.uscc(financier))
    assert r.reason == said("the financier has the bank role",
                            f"the financier {c.uscc(financier)} does not have the bank role "
                            f"(its roles: {roles})")


def test_only_the_holder_requests_financing(split: Split) -> None:
    r = refused(split.c, "s1", "request_financing", note=split.paid, bank=split.c.uscc("b1"))
    assert r.reason == said(
        "the holder signs the financing request",
        f"note {short(split.paid)} is unknown, or not held by {split.c.uscc('s1')}")


def test_note_financed_only_once(offered: Fin) -> None:
    c = offered.c
    offered.accept()
    bank_note = offered.rec()["bank_note"]
    r = refused(c, "b1", "request_financing", note=bank_note, bank=c.uscc("b2"))
    assert r.reason == said("a note is financed only once",
                            f"note {short(bank_note)} is already financed")
    moved = c.ok("b1", "transfer", note=bank_note, payments=pay_to(c, "s3", 10_000))
    piece = moved.events[0]["outputs"][0]["note"]
    r = refused(c, "s3", "request_financing", note=piece, bank=c.uscc("b2"))
    assert r.reason == said("a note is financed only once",
                            f"note {short(piece)} is already financed")


def test_financed_note_moves_only_by_the_bank(offered: Fin) -> None:
    c = offered.c
    offered.accept()
    moved = c.ok("b1", "transfer", note=offered.rec()["bank_note"],
                 payments=pay_to(c, "b2", 10_000) + pay_to(c, "s3", 10_000))
    supplier_piece = moved.events[0]["outputs"][1]["note"]
    r = refused(c, "s3", "transfer", note=supplier_piece, payments=pay_to(c, "s4", 10_000))
    assert r.reason == said(
        "a financed note moves only by the bank that holds it",
        f"note {short(supplier_piece)} is financed and its holder {c.uscc('s3')} is not a bank")


def test_double_financing_request_is_refused(fin: Fin) -> None:
    r = refused(fin.c, "s1", "request_financing", note=fin.root, bank=fin.c.uscc("b2"))
    assert r.reason == said("the note is not under a financing request",
                            f"note {short(fin.root)} is under financing request {short(fin.fid)}")


def test_long_tenor_needs_bank_review_flag() -> None:
    c = new_chain()
    root = issue(c, grant_line(c), maturity_date=day_after_start(200))
    c.ok("s1", "accept", receivable=root)
    fid = _request(c, root)
    r = refused(c, "b1", "offer_terms", financing=fid, **TERMS)
    assert r.reason == said(
        "a long-tenor credential needs the bank's review flag before financing",
        f"credential {short(root)} runs from 2026-01-05 to 2026-07-24 and the terms lack "
        "tenor_reviewed")
    c.ok("b1", "offer_terms", financing=fid, tenor_reviewed=True, **TERMS)
    assert c.get("financing/" + fid)["terms"]["tenor_reviewed"] is True


def test_only_the_bank_asked_offers_terms(fin: Fin) -> None:
    r = refused(fin.c, "b2", "offer_terms", financing=fin.fid, **TERMS)
    assert r.reason == said("the bank asked signs the terms",
                            f"financing request {short(fin.fid)} is unknown, or not addressed to "
                            f"{fin.c.uscc('b2')}")


def test_bank_may_revise_terms_until_accepted(offered: Fin) -> None:
    offered.offer(annual_rate_percent="3.60")
    assert offered.rec()["terms"]["interest"] == 900_000
    offered.accept()
    r = refused(offered.c, "b1", "offer_terms", financing=offered.fid, **TERMS)
    assert r.reason == said("terms are offered only on an open request",
                            f"financing request {short(offered.fid)} is already accepted")


@pytest.mark.parametrize(("funding", "wrong"), [
    ("2026-01-04", "funding date 2026-01-04 is before today, 2026-01-05"),
    ("2026-04-05", "funding date 2026-04-05 is not before maturity, 2026-04-05"),
])
def test_funding_falls_between_today_and_maturity(fin: Fin, funding: str, wrong: str) -> None:
    r = refused(fin.c, "b1", "offer_terms", financing=fin.fid, **{**TERMS, "funding_date": funding})
    assert r.reason == said("funding falls between today and maturity", wrong)


def test_seller_receives_a_positive_net_amount(fin: Fin) -> None:
    terms = {**TERMS, "fees": FACE - 500_000}
    r = refused(fin.c, "b1", "offer_terms", financing=fin.fid, **terms)
    assert r.reason == said("the seller receives a positive net amount",
                            "net proceeds would be 0.00: face 1,000,000.00 less interest 5,000.00 "
                            "and fees 995,000.00")
    fin.offer(fees=FACE - 500_001)


def test_only_the_seller_accepts_terms(offered: Fin) -> None:
    r = offered.refused_accept("b1")
    assert r.reason == said("the seller signs its acceptance of the terms",
                            f"financing request {short(offered.fid)} is unknown, or not "
                            f"requested by {offered.c.uscc('b1')}")


def test_terms_accepted_only_once_offered(fin: Fin) -> None:
    r = fin.refused_accept()
    assert r.reason == said("the bank has offered terms",
                            f"financing request {short(fin.fid)} awaits the bank's terms")


def test_terms_accepted_no_later_than_their_funding_date(offered: Fin) -> None:
    offered.c.advance(days=1)
    r = offered.refused_accept()
    assert r.reason == said("terms are accepted no later than their funding date",
                            "the terms' funding date 2026-01-05 has passed (today is 2026-01-06)")


@pytest.mark.parametrize("who", ["s1", "b1"])
def test_cancel_frees_the_note(offered: Fin, who: str) -> None:
    c = offered.c
    c.ok(who, "cancel_financing", financing=offered.fid)
    assert offered.rec()["status"] == "cancelled"
    note = c.get("note/" + offered.root)
    assert (note["status"], note["financing"]) == ("active", None)
    c.ok("s1", "transfer", note=offered.root, payments=pay_to(c, "s2", 10_000))


def test_only_seller_or_bank_cancels(offered: Fin) -> None:
    r = refused(offered.c, "b2", "cancel_financing", financing=offered.fid)
    assert r.reason == said("the seller or the bank cancels a financing request",
                            f"financing request {short(offered.fid)} is unknown, or not "
                            f"requested by or addressed to {offered.c.uscc('b2')}")


def test_only_an_open_request_is_cancelled(offered: Fin) -> None:
    offered.accept()
    r = refused(offered.c, "s1", "cancel_financing", financing=offered.fid)
    assert r.reason == said("only an open financing request is cancelled",
                            f"financing request {short(offered.fid)} is already accepted")
    offered.c.ok("b1", "confirm_disbursement", financing=offered.fid, payment_ref="P")
    r = refused(offered.c, "b1", "cancel_financing", financing=offered.fid)
    assert r.reason == said("only an open financing request is cancelled",
                            f"financing request {short(offered.fid)} is already disbursed")


def test_a_cancelled_request_says_so(offered: Fin) -> None:
    offered.c.ok("s1", "cancel_financing", financing=offered.fid)
    r = offered.refused_accept()
    assert r.reason == said("the bank has offered terms",
                            f"financing request {short(offered.fid)} is cancelled")


def test_disbursement_confirmed_by_the_bank_after_acceptance(offered: Fin) -> None:
    r = refused(offered.c, "b1", "confirm_disbursement", financing=offered.fid, payment_ref="P")
    assert r.reason == said(
        "the seller has accepted the terms",
        f"financing request {short(offered.fid)} has terms on offer, not yet accepted")
    offered.accept()
    r = refused(offered.c, "s1", "confirm_disbursement", financing=offered.fid, payment_ref="P")
    assert r.reason == said("the financing bank confirms the disbursement",
                            f"financing request {short(offered.fid)} is unknown, or not "
                            f"addressed to {offered.c.uscc('s1')}")


def test_frozen_note_under_financing_request_cannot_be_financed(offered: Fin) -> None:
    offered.c.ok("auditor", "freeze", note=offered.root, reason="court order")
    r = offered.refused_accept()
    assert r.reason == said("the note is not frozen", f"note {short(offered.root)} is frozen")


def test_an_acceptance_names_the_terms_and_fails_once_the_bank_changes_them(offered: Fin) -> None:
    """The bank re-offers (1 % to 20 %) just before the seller's acceptance, in one block."""
    c = offered.c
    accepted_hash = offered.terms_hash()
    reoffer = build_tx(c.orgs, ["b1"], "receivable", "offer_terms",
                       {**TERMS, "financing": offered.fid, "annual_rate_percent": "20"}, now=c.now)
    accept = build_tx(c.orgs, ["s1"], "receivable", "accept_terms",
                      {"financing": offered.fid, "terms_hash": accepted_hash}, now=c.now)
    results = c.run_block([reoffer, accept])
    assert results[0].valid
    assert (results[1].valid, results[1].reason) == (False, said(
        CHANGED, f"terms_hash {short(accepted_hash)} is not that of the terms on offer, "
        f"{short(offered.terms_hash())}"))
    assert offered.rec()["status"] == "offered"
    assert offered.rec()["terms"]["annual_rate_percent"] == "20"
    assert c.get("note/" + offered.root)["holder"] == c.uscc("s1")
    offered.accept()  # the new terms, named by their own hash, can still be accepted


def test_an_acceptance_of_unknown_terms_is_refused(offered: Fin) -> None:
    r = offered.refused_accept(terms_hash="ab" * 32)
    assert r.reason == said(CHANGED,
                            f"terms_hash abababab\u2026 is not that of the terms on offer, "
                            f"{short(offered.terms_hash())}")


@pytest.mark.parametrize(("rate", "ok"), [("24", True), ("24.00", True), ("24.0001", False),
                                          ("250", False), ("0", True)])
def test_annual_rates_are_bounded_by_policy(fin: Fin, rate: str, ok: bool) -> None:
    terms = {**TERMS, "financing": fin.fid, "annual_rate_percent": rate}
    if ok:
        fin.c.ok("b1", "offer_terms", **terms)
    else:
        r = refused(fin.c, "b1", "offer_terms", **terms)
        assert r.reason == said("the annual rate is at most 24.00 % (policy)",
                                f"the terms offer {rate} % a year")


def test_the_rate_ceiling_is_a_policy() -> None:
    c = new_chain(max_annual_rate_bp=3000)
    root = issue(c, grant_line(c))
    c.ok("s1", "accept", receivable=root)
    fid = _request(c, root)
    r = refused(c, "b1", "offer_terms", financing=fid, **{**TERMS, "annual_rate_percent": "30.5"})
    assert r.reason == said("the annual rate is at most 30.00 % (policy)",
                            "the terms offer 30.5 % a year")
    c.ok("b1", "offer_terms", financing=fid, **{**TERMS, "annual_rate_percent": "30"})
