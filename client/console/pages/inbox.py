"""The supplier's inbox: credentials to accept or reject, through maker and checker; a credential.

The node says what awaits the organisation (`Participant.inbox()`, as of the
node's date).  A credential to accept shows its issuer, amount, maturity and
deadline, and a maker's Accept and Reject buttons; each *prepares* the
action (client/console/approvals.py), which a checker then approves.  What
else waits is listed next (a financing, on either side, links to its page);
what the organisation holds below, with each credential's status.

A credential's page shows what the node lets this organisation see of it;
one it may not see (another organisation's, by URL) is the 404 page, as the
node answers such a read exactly as for an id that does not exist.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from client.console import approvals
from client.console.credential_view import credential_extras
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
RECORD_ID = re.compile(r"[0-9a-f]{64}")
TO_ACCEPT = "credential_to_accept"
FINANCING_KINDS = ("financing_request", "offer_to_accept", "disbursement_to_confirm",
                   "awaiting_offer", "awaiting_disbursement")  # each links to its financing's page


def _to_accept(seen: Visit) -> list[dict[str, Any]]:
    answer = seen.console.signer.participant().inbox()
    return [i for i in answer["items"] if i["kind"] == TO_ACCEPT]


@router.get("/inbox")
def inbox(seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Show the credentials to accept (with any approval waiting) and those held."""
    me = seen.console.signer.participant()
    answer = me.inbox()
    items = answer["items"]
    to_accept = [i for i in items if i["kind"] == TO_ACCEPT]
    others = [i for i in items if i["kind"] != TO_ACCEPT]
    waiting = approvals.waiting_for(seen.console.engine, [i["id"] for i in to_accept])
    held = me.receivables(role="held", limit=200)
    return render(seen, "inbox.html", as_of=answer["as_of"], to_accept=to_accept,
                  others=others, waiting=waiting, held=held, financing_kinds=FINANCING_KINDS)


def _decide(seen: Visit, form: Form, action: str) -> Response:
    """Prepare `action` (accept or reject) on the credential the form names, as a maker."""
    assert seen.user is not None
    receivable = field(form, "receivable", 64)
    item = next((i for i in _to_accept(seen) if i["id"] == receivable), None)
    if item is None:
        raise NotFound()  # not in this organisation's inbox (any more)
    facts = {"credential": short(receivable), "amount": yuan(item["amount"], item["currency"]),
             "issuer": seen.console.org(item["counterparty"]),
             "maturity": str(item["record"].get("maturity_date"))}
    return prepare_and_show(seen, action, {"receivable": receivable}, receivable, facts)


@router.post("/inbox/accept")
def accept(seen: Annotated[Visit, Depends(signed_in())],
           form: Annotated[Form, Depends(posted)]) -> Response:
    """Prepare the acceptance of a credential issued to this organisation."""
    return _decide(seen, form, "accept")


@router.post("/inbox/reject")
def reject(seen: Annotated[Visit, Depends(signed_in())],
           form: Annotated[Form, Depends(posted)]) -> Response:
    """Prepare the refusal of a credential issued to this organisation."""
    return _decide(seen, form, "reject")


@router.get("/credentials/{record_id}")
def credential(record_id: str, seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Show a credential as the node lets this organisation see it (else the 404 page)."""
    return credential_page(seen, record_id)


def credential_page(seen: Visit, record_id: str, *, status: int = 200,
                    pay_errors: dict[str, str] | None = None,
                    pay_typed: dict[str, str] | None = None) -> Response:
    """Return a credential's page: record, split tree, history, clearing, the issuer's payment.

    The 404 page when the node does not show this organisation the credential.
    """
    if not RECORD_ID.fullmatch(record_id):
        raise NotFound()
    me = seen.console.signer.participant()
    answer = me.receivable(record_id)
    record = answer["receivable"]
    today = str(me.status()["time"])[:10]
    return render(seen, "credential.html", status=status, record=record, notes=answer["notes"],
                  today=today, pay_errors=pay_errors or {}, pay_typed=pay_typed or {},
                  outstanding=int(record["face"]) - int(record.get("paid") or 0),
                  **credential_extras(seen.console, answer))
