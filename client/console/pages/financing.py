"""A financing's quote, and the seller's acceptance of exactly the terms it was shown.

Once the bank has offered, the page shows the priced terms as the node
holds them (rate in percent a year, ACT/360 days, interest, fees and who
pays them, net proceeds, recourse) and their `terms_hash`.  A maker's
Accept posts that hash back: if the bank has re-offered since the page was
drawn, the hash no longer matches and the page says so with the new terms
instead of preparing anything; if it re-offers after the maker prepared,
the node refuses the checker's signed acceptance (it names the old hash),
so a changed offer is never accepted silently.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from client.console.pages.inbox import RECORD_ID
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


def _financing(seen: Visit, financing_id: str) -> dict[str, Any]:
    if not RECORD_ID.fullmatch(financing_id):
        raise NotFound()
    return seen.console.signer.participant().financing(financing_id)


def _page(seen: Visit, record: dict[str, Any], status: int = 200, changed: bool = False
          ) -> Response:
    return render(seen, "quote.html", status=status, f=record, terms=record.get("terms"),
                  changed=changed, mine=record.get("seller") == seen.console.org_uscc)


@router.get("/financings/{financing_id}")
def financing(financing_id: str, seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Show a financing request, the terms on offer and (to the seller's makers) Accept."""
    return _page(seen, _financing(seen, financing_id))


@router.post("/financings/{financing_id}/accept")
def accept_terms(financing_id: str, seen: Annotated[Visit, Depends(signed_in())],
                 form: Annotated[Form, Depends(posted)]) -> Response:
    """Prepare acceptance of the terms whose hash the form carries, if they are still on offer."""
    record = _financing(seen, financing_id)
    if record.get("seller") != seen.console.org_uscc:
        raise NotFound()
    shown = field(form, "terms_hash", 64)
    terms = record.get("terms")
    if record.get("status") != "offered" or not terms or shown != record.get("terms_hash"):
        return _page(seen, record, status=409, changed=True)
    facts = {"financing": short(financing_id), "bank": seen.console.org(record["bank"]),
             "rate": str(terms["annual_rate_percent"]), "days": str(terms["days"]),
             "interest": yuan(terms["interest"]), "fees": yuan(terms["fees"]),
             "net": yuan(terms["net_proceeds"]), "terms": short(shown)}
    return prepare_and_show(seen, "accept_terms", {"financing": financing_id, "terms_hash": shown},
                    financing_id, facts)
