"""The bank's pages: the financing queue, its offers and disbursements, and exposure.

The queue lists the financing requests addressed to this bank by status,
each a link to the financing's one page (client/console/pages/financing.py),
where the bank's side is the credit officer's file: due diligence and the
terms form, priced live in the browser (static/pricing.js).  Its POSTs are
here: the submitted terms are priced again on the server
(client/console/pricing.py) before a maker *prepares* the offer for a
checker; once the seller accepted, a maker prepares the disbursement
confirmation with the payment reference.  Either shows the financing's page
again, the problem beside the field, when the form says something wrong.
Exposure sums what the bank financed and still holds unsettled, by core
enterprise (the notes' issuer).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from client.console import approvals
from client.console.pages.financing import financing_page, gathered
from client.console.pricing import TermsError, read_terms
from client.console.web import (
    Forbidden,
    Form,
    NotFound,
    Visit,
    field,
    posted,
    prepare_and_show,
    render,
    signed_in,
)
from client.sdk.names import short, yuan
from ledger.money import format_fen

router = APIRouter()
STATUSES = ("requested", "offered", "accepted", "disbursed", "cancelled")
FORM_FIELDS = ("rate", "funding_date", "fees", "fee_payer", "recourse", "registry_no",
               "tenor_reviewed")


def bank_visit(seen: Visit) -> Visit:
    """Return `seen` if this console's organisation is a bank; else raise Forbidden."""
    if "bank" not in seen.console.roles():
        raise Forbidden("error_not_bank")
    return seen


def _mine(seen: Visit, status: str | None = None) -> list[dict[str, Any]]:
    """Return the financings addressed to this bank (not those it sought as a seller)."""
    found = seen.console.signer.participant().financings(status=status, limit=1000)
    return [f for f in found if f["bank"] == seen.console.org_uscc]


@router.get("/financing")
def queue(seen: Annotated[Visit, Depends(signed_in())], status: str = "requested") -> Response:
    """List the financing requests addressed to this bank, in one status."""
    bank_visit(seen)
    if status not in STATUSES:
        status = "requested"
    items = _mine(seen, status)
    waiting = approvals.waiting_for(seen.console.engine, [f["id"] for f in items])
    return render(seen, "financing_queue.html", items=items, state=status, statuses=STATUSES,
                  waiting=waiting)


def _bank_side(seen: Visit, financing_id: str) -> dict[str, Any]:
    """Return what the bank sees of a financing addressed to it (else the 404 page)."""
    facts = gathered(bank_visit(seen), financing_id)
    if not facts["is_bank"]:
        raise NotFound()
    return facts


@router.post("/financings/{financing_id}/offer")
def offer(financing_id: str, seen: Annotated[Visit, Depends(signed_in())],
          form: Annotated[Form, Depends(posted)]) -> Response:
    """Price the submitted terms on the server and prepare the offer for a checker."""
    facts = _bank_side(seen, financing_id)
    financing, note = facts["financing"], facts["note"]
    if financing["status"] not in ("requested", "offered") or note is None:
        raise NotFound()
    values = {k: field(form, k, 64) for k in FORM_FIELDS}
    try:
        terms = read_terms(values, financing=financing_id, face=note["amount"],
                           maturity=note["maturity_date"])
    except TermsError as exc:
        return financing_page(seen, financing_id, values=values, problem=exc, status=400)
    p, currency = terms.pricing, note["currency"]
    summary = {"financing": short(financing_id), "seller": seen.console.org(financing["seller"]),
               "face": yuan(p.face, currency), "rate": p.annual_rate_percent, "days": str(p.days),
               "interest": yuan(p.interest, currency), "fees": yuan(p.seller_fees, currency),
               "net": yuan(p.net_proceeds, currency), "funding": terms.args["funding_date"]}
    return prepare_and_show(seen, "offer_terms", terms.args, financing_id, summary)


@router.post("/financings/{financing_id}/disburse")
def disburse(financing_id: str, seen: Annotated[Visit, Depends(signed_in())],
             form: Annotated[Form, Depends(posted)]) -> Response:
    """Prepare the confirmation that the seller was paid, with the bank's payment reference."""
    facts = _bank_side(seen, financing_id)
    financing = facts["financing"]
    if financing["status"] != "accepted":
        raise NotFound()
    reference = field(form, "payment_ref", 64)
    if not reference:
        return financing_page(seen, financing_id, status=400,
                              problem=TermsError("payment_ref", "disburse_need_ref"))
    summary = {"financing": short(financing_id), "seller": seen.console.org(financing["seller"]),
               "net": yuan(financing["terms"]["net_proceeds"], facts["currency"]),
               "reference": reference}
    return prepare_and_show(seen, "confirm_disbursement",
                            {"financing": financing_id, "payment_ref": reference}, financing_id,
                            summary)


def exposure_by_core(financings: list[dict[str, Any]],
                     held: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Return, per core enterprise, the financed amount this bank still holds unsettled.

    `financings` are the bank's accepted or disbursed ones, `held` its live
    notes by id: a financing counts while its bank note is among them.
    """
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for f in financings:
        bank_note = held.get(f.get("bank_note") or "")
        if bank_note is None:
            continue
        key = (bank_note["issuer"], bank_note["currency"])
        row = rows.setdefault(key, {"core": key[0], "currency": key[1], "amount": 0,
                                    "count": 0, "undisbursed": 0, "next": None})
        row["amount"] += bank_note["amount"]
        row["count"] += 1
        row["undisbursed"] += 1 if f["status"] == "accepted" else 0
        due = bank_note["maturity_date"]
        row["next"] = due if row["next"] is None else min(row["next"], due)
    return sorted(rows.values(), key=lambda r: (-r["amount"], r["core"]))


@router.get("/exposure")
def exposure(seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Show the bank's outstanding financed amounts by core enterprise."""
    bank_visit(seen)
    me = seen.console.signer.participant()
    financed = [f for s in ("accepted", "disbursed") for f in _mine(seen, s)]
    held = {n["id"]: n for n in me.notes(holder=seen.console.org_uscc, limit=10_000)
            if n["status"] in ("active", "financing") and n.get("financed")}
    rows = exposure_by_core(financed, held)
    totals: dict[str, int] = {}
    for row in rows:
        totals[row["currency"]] = totals.get(row["currency"], 0) + row["amount"]
    return render(seen, "exposure.html", rows=rows, totals=totals, format_fen=format_fen)
