"""A financing's one page, for both its parties, and the seller's acceptance of exactly its terms.

`/financings/{id}` shows what every organisation the node shows the
financing to may see (client/console/financing_view.py): the request, its
status in words, the terms once offered, the history.  Then the part for
the visitor's side and role: the seller's makers get Accept of the terms
shown, the bank's makers its due diligence, the terms form priced as they
type (static/pricing.js) and the disbursement confirmation (their POSTs are
in client/console/pages/bank.py); checkers, viewers and auditors read.  The
bank's old address `/financing/{id}` redirects here for good.

Accept posts the `terms_hash` the page showed: if the bank has re-offered
since the page was drawn, the hash no longer matches and the page says so
with the new terms (409) instead of preparing anything; if it re-offers
after the maker prepared, the node refuses the checker's signed acceptance
(it names the old hash), so a changed offer is never accepted silently.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response

from client.console import approvals, financing_view
from client.console.pages.inbox import RECORD_ID
from client.console.pricing import TermsError
from client.console.web import (
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

router = APIRouter()


def gathered(seen: Visit, financing_id: str) -> dict[str, Any]:
    """Return what this organisation may see of the financing (the 404 page if nothing)."""
    if not RECORD_ID.fullmatch(financing_id):
        raise NotFound()
    return financing_view.gather(seen.console, financing_id)


def _form_values(seen: Visit, facts: dict[str, Any]) -> dict[str, str]:
    """Return the terms form's starting values: the node's date as the funding date."""
    if not facts["is_bank"]:
        return {}
    today = str(seen.console.signer.participant().status().get("time", ""))[:10]
    return {"rate": "", "funding_date": today, "fees": "0.00", "fee_payer": "seller"}


def financing_page(seen: Visit, financing_id: str, *, status: int = 200, changed: bool = False,
                   values: dict[str, str] | None = None,
                   problem: TermsError | None = None) -> Response:
    """Return the financing's page for this visit (a form's `values` and `problem` kept)."""
    facts = gathered(seen, financing_id)
    waiting = approvals.waiting_for(seen.console.engine, [financing_id]).get(financing_id)
    return render(seen, "financing.html", status=status, changed=changed, problem=problem,
                  values=values or _form_values(seen, facts), waiting=waiting,
                  history=financing_view.history(seen.console, facts), **facts)


@router.get("/financings/{financing_id}")
def financing(financing_id: str, seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Show a financing: the shared part, then what this side and role may do."""
    return financing_page(seen, financing_id)


@router.get("/financing/{financing_id}")
def moved(financing_id: str) -> RedirectResponse:
    """Send the bank's old address of a financing to its one page, for good (301)."""
    if not RECORD_ID.fullmatch(financing_id):
        raise NotFound()
    return RedirectResponse(f"/financings/{financing_id}", status_code=301)


@router.post("/financing/{financing_id}/{action}")
def moved_post(financing_id: str, action: Literal["offer", "disburse"],
               form: Annotated[Form, Depends(posted)]) -> RedirectResponse:
    """Send a form of a page drawn at the old address on to the new one, method and all (308)."""
    if not RECORD_ID.fullmatch(financing_id):
        raise NotFound()
    return RedirectResponse(f"/financings/{financing_id}/{action}", status_code=308)


@router.post("/financings/{financing_id}/accept")
def accept_terms(financing_id: str, seen: Annotated[Visit, Depends(signed_in())],
                 form: Annotated[Form, Depends(posted)]) -> Response:
    """Prepare acceptance of the terms whose hash the form carries, if they are still on offer."""
    if not RECORD_ID.fullmatch(financing_id):
        raise NotFound()
    record = seen.console.signer.participant().financing(financing_id)
    if record.get("seller") != seen.console.org_uscc:
        raise NotFound()
    shown = field(form, "terms_hash", 64)
    terms = record.get("terms")
    if record.get("status") != "offered" or not terms or shown != record.get("terms_hash"):
        return financing_page(seen, financing_id, status=409, changed=True)
    facts = {"financing": short(financing_id), "bank": seen.console.org(record["bank"]),
             "rate": str(terms["annual_rate_percent"]), "days": str(terms["days"]),
             "interest": yuan(terms["interest"]), "fees": yuan(terms["fees"]),
             "net": yuan(terms["net_proceeds"]), "terms": short(shown)}
    return prepare_and_show(seen, "accept_terms", {"financing": financing_id, "terms_hash": shown},
                            financing_id, facts)
