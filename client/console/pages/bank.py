"""The bank's pages: the financing queue, a request's due diligence and terms, and exposure.

The queue lists the financing requests addressed to this bank by status.  A
request's page is the credit officer's file: the note offered, its lineage
back to issuance, the credential as the node lets the bank see it (the
trade background and the invoices' utilisation are the issuer's, the first
holder's and auditors' to see: the page says so when they are hidden), and
the terms form, priced live in the browser (static/pricing.js) and again on
the server (client/console/pricing.py) before a maker *prepares* the offer
for a checker.  Once the seller accepted, a maker prepares the disbursement
confirmation with the payment reference.  Exposure sums what the bank
financed and still holds unsettled, by core enterprise (the notes' issuer).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from client.console import approvals
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
from client.sdk.http import NodeError
from client.sdk.names import short, yuan
from ledger.money import format_fen

router = APIRouter()
RECORD_ID = re.compile(r"[0-9a-f]{64}")
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


def _optional(read: Any) -> Any:
    """Return `read()`, or None where the node does not show it to this organisation."""
    try:
        return read()
    except NodeError as exc:
        if exc.status in (400, 403, 404):
            return None
        raise


def dossier(seen: Visit, financing_id: str) -> dict[str, Any]:
    """Return what the bank may see of a request: the financing, note, lineage, credential."""
    if not RECORD_ID.fullmatch(financing_id):
        raise NotFound()
    me = seen.console.signer.participant()
    financing = me.financing(financing_id)
    if financing["bank"] != seen.console.org_uscc:
        raise NotFound()
    line = _optional(lambda: me.lineage(financing.get("bank_note") or financing["note"])) or []
    note = next((n for n in line if n["id"] == financing["note"]), None)
    root = line[-1]["root_id"] if line else None
    credential = _optional(lambda: me.receivable(root)) if root else None
    record = credential["receivable"] if credential else None
    return {"financing": financing, "note": note, "lineage": line, "credential": record,
            "tenor_days": tenor_days(record)}


def tenor_days(credential: dict[str, Any] | None) -> int | None:
    """Return a credential's tenor in days, issue to maturity (None without the record).

    Its `long_tenor` flag was set by the review threshold in force when it
    was issued, which a governance change may have moved since: pages name
    the days and the flag, never a threshold of their own.
    """
    if credential is None:
        return None
    issued, matures = (date.fromisoformat(str(credential[k])) for k in ("issue_date",
                                                                        "maturity_date"))
    return (matures - issued).days


def _page(seen: Visit, financing_id: str, *, values: dict[str, str] | None = None,
          problem: TermsError | None = None, status: int = 200) -> Response:
    facts = dossier(seen, financing_id)
    waiting = approvals.waiting_for(seen.console.engine, [financing_id]).get(financing_id)
    today = str(seen.console.signer.participant().status().get("time", ""))[:10]
    values = values or {"rate": "", "funding_date": today, "fees": "0.00",
                        "fee_payer": "seller"}
    return render(seen, "financing.html", status=status, waiting=waiting, values=values,
                  problem=problem, today=today, **facts)


@router.get("/financing/{financing_id}")
def request_page(financing_id: str, seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Show a request's due diligence, its terms form or terms, and what may be done next."""
    return _page(bank_visit(seen), financing_id)




@router.post("/financing/{financing_id}/offer")
def offer(financing_id: str, seen: Annotated[Visit, Depends(signed_in())],
          form: Annotated[Form, Depends(posted)]) -> Response:
    """Price the submitted terms on the server and prepare the offer for a checker."""
    facts = dossier(bank_visit(seen), financing_id)
    financing, note = facts["financing"], facts["note"]
    if financing["status"] not in ("requested", "offered") or note is None:
        raise NotFound()
    values = {k: field(form, k, 64) for k in FORM_FIELDS}
    try:
        terms = read_terms(values, financing=financing_id, face=note["amount"],
                           maturity=note["maturity_date"])
    except TermsError as exc:
        return _page(seen, financing_id, values=values, problem=exc, status=400)
    p, currency = terms.pricing, note["currency"]
    summary = {"financing": short(financing_id), "seller": seen.console.org(financing["seller"]),
               "face": yuan(p.face, currency), "rate": p.annual_rate_percent, "days": str(p.days),
               "interest": yuan(p.interest, currency), "fees": yuan(p.seller_fees, currency),
               "net": yuan(p.net_proceeds, currency), "funding": terms.args["funding_date"]}
    return prepare_and_show(seen, "offer_terms", terms.args, financing_id, summary)


@router.post("/financing/{financing_id}/disburse")
def disburse(financing_id: str, seen: Annotated[Visit, Depends(signed_in())],
             form: Annotated[Form, Depends(posted)]) -> Response:
    """Prepare the confirmation that the seller was paid, with the bank's payment reference."""
    facts = dossier(bank_visit(seen), financing_id)
    financing = facts["financing"]
    if financing["status"] != "accepted":
        raise NotFound()
    reference = field(form, "payment_ref", 64)
    if not reference:
        return _page(seen, financing_id, problem=TermsError("payment_ref", "disburse_need_ref"),
                     status=400)
    currency = facts["note"]["currency"] if facts["note"] else "CNY"
    summary = {"financing": short(financing_id), "seller": seen.console.org(financing["seller"]),
               "net": yuan(financing["terms"]["net_proceeds"], currency), "reference": reference}
    return prepare_and_show(seen, "confirm_disbursement",
                    {"financing": financing_id, "payment_ref": reference}, financing_id, summary)


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
