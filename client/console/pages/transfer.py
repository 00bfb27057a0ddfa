"""A note's split-and-transfer form, and its financing request (pick a bank).

The holder pays suppliers, picked by name, from one note; what is not paid
stays with it as a new note.  static/transfer.js shows the remainder as the
amounts are typed and refuses, before submitting, a piece under the policy
minimum (client/console/policy.py); the server reads the form again by the
same rules (a browser without the script, or a form forced past it, gets
the same words beside the fields), and the node checks them a third time
when the checker approves.  Either form only *prepares* the transaction.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from client.console.forms import fen_of, members_with
from client.console.pages.inbox import RECORD_ID
from client.console.policy import policy_number
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
ROWS = 4  # recipients one transfer may pay from this form


def _held_note(seen: Visit, note_id: str) -> dict[str, Any]:
    """Return the note if this organisation holds it (else the 404 page)."""
    if not RECORD_ID.fullmatch(note_id):
        raise NotFound()
    me = seen.console.signer.participant()
    note = me.note(note_id)
    if note.get("holder") != me.uscc:
        raise NotFound()
    return note


def _minimum(seen: Visit) -> int:
    """Return the smallest split piece the node's policy allows, in fen."""
    return policy_number(seen.console.signer.participant(), "min_split_amount")


def _page(seen: Visit, note: dict[str, Any], *, status: int = 200, rows: list[dict[str, str]]
          | None = None, errors: dict[str, str] | None = None,
          minimum: int | None = None) -> Response:
    return render(seen, "transfer.html", status=status, note=note,
                  recipients=members_with(seen.console, "supplier", but=note["holder"]),
                  minimum=_minimum(seen) if minimum is None else minimum,
                  rows=rows or [{"to": "", "amount": ""} for _ in range(ROWS)],
                  errors=errors or {})


@router.get("/notes/{note_id}/transfer")
def transfer_form(note_id: str, seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Show the split-and-transfer form of a note this organisation holds."""
    return _page(seen, _held_note(seen, note_id))


def read_payments(seen: Visit, form: Form, note: dict[str, Any], minimum: int
                  ) -> tuple[list[dict[str, str]], list[tuple[str, int]], dict[str, str]]:
    """Return the rows as typed, the payments they make, and what is wrong (by field id)."""
    t, errors = seen.t, {}
    known = {m["uscc"] for m in members_with(seen.console, "supplier", but=note["holder"])}
    rows = [{"to": field(form, f"to_{i}", 18), "amount": field(form, f"amount_{i}", 40)}
            for i in range(ROWS)]
    payments: list[tuple[str, int]] = []
    for i, row in enumerate(rows):
        if not row["to"] and not row["amount"]:
            continue
        if row["to"] not in known:
            errors[f"to_{i}"] = t("transfer_pick_recipient")
        fen, problem = fen_of(row["amount"], t)
        if fen is not None and fen < minimum:
            problem = t("transfer_below_minimum", minimum=yuan(minimum, note["currency"]))
        if problem:
            errors[f"amount_{i}"] = problem
        elif row["to"] in known and fen is not None:
            payments.append((row["to"], fen))
    _check_totals(seen, note, minimum, rows, payments, errors)
    return rows, payments, errors


def _check_totals(seen: Visit, note: dict[str, Any], minimum: int, rows: list[dict[str, str]],
                  payments: list[tuple[str, int]], errors: dict[str, str]) -> None:
    t, currency = seen.t, note["currency"]
    if not any(r["to"] or r["amount"] for r in rows):
        errors["to_0"] = t("transfer_none")
    paid = sum(a for _, a in payments)
    rest = int(note["amount"]) - paid
    if rest < 0:
        errors["remainder"] = t("transfer_over", paid=yuan(paid, currency))
    elif 0 < rest < minimum and payments:
        errors["remainder"] = t("transfer_rest_below", rest=yuan(rest, currency),
                                minimum=yuan(minimum, currency))


@router.post("/notes/{note_id}/transfer")
def transfer(note_id: str, seen: Annotated[Visit, Depends(signed_in())],
             form: Annotated[Form, Depends(posted)]) -> Response:
    """Prepare the transfer the form describes, or show the form again with what is wrong."""
    assert seen.user is not None
    note = _held_note(seen, note_id)
    minimum = _minimum(seen)
    rows, payments, errors = read_payments(seen, form, note, minimum)
    if errors:
        return _page(seen, note, status=422, rows=rows, errors=errors, minimum=minimum)
    currency = note["currency"]
    paid = sum(a for _, a in payments)
    facts = {"note": short(note_id), "amount": yuan(note["amount"], currency),
             "payments": "; ".join(f"{seen.console.directory.name(to)} {yuan(a, currency)}"
                                   for to, a in payments),
             "remainder": yuan(int(note["amount"]) - paid, currency)}
    args = {"note": note_id, "payments": [{"to": to, "amount": a} for to, a in payments]}
    return prepare_and_show(seen, "transfer", args, note_id, facts)




@router.get("/notes/{note_id}/finance")
def finance_form(note_id: str, seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Show the financing request form of a note this organisation holds: pick a bank."""
    return render(seen, "finance.html", note=_held_note(seen, note_id),
                  banks=members_with(seen.console, "bank"), error=None)


@router.post("/notes/{note_id}/finance")
def finance(note_id: str, seen: Annotated[Visit, Depends(signed_in())],
            form: Annotated[Form, Depends(posted)]) -> Response:
    """Prepare a financing request to the bank picked."""
    note = _held_note(seen, note_id)
    banks = members_with(seen.console, "bank")
    bank = field(form, "bank", 18)
    if bank not in {b["uscc"] for b in banks}:
        return render(seen, "finance.html", status=422, note=note, banks=banks,
                      error=seen.t("finance_pick_bank"))
    facts = {"note": short(note_id), "amount": yuan(note["amount"], note["currency"]),
             "bank": seen.console.org(bank), "maturity": str(note["maturity_date"])}
    return prepare_and_show(seen, "request_financing", {"note": note_id, "bank": bank}, note_id,
                            facts)
