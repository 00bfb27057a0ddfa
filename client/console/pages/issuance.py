"""The core enterprise's issuance against invoices, with the tenor warnings of the policy in force.

The form takes a supplier (by name), the credit line to draw on (with its
headroom), the maturity date, the contract number and invoice rows (number
and amount in yuan); the credential's face is the rows' sum.  Before
anything is prepared the server checks what the node would refuse (a tenor
over 365 days, more than the line's headroom) and warns when the tenor is
past the policy's review threshold (`review_tenor_days`: a bank must then
review it before financing): the maker must confirm that, in words, before
the issuance goes to a checker.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from client.console.forms import fen_of, members_with, today_of
from client.console.policy import HARD_TENOR_DAYS, policy_number
from client.console.web import Form, Visit, field, posted, prepare_and_show, render, signed_in
from client.sdk.names import short, yuan

router = APIRouter()
ROWS = 3  # invoice rows on the form


def _context(seen: Visit) -> dict[str, Any]:
    me = seen.console.signer.participant()
    lines = [{**line, "headroom": line["limit"] - line["used"]}
             for line in me.credit_lines(status="open", limit=200) if line["core"] == me.uscc]
    return {"lines": lines, "suppliers": members_with(seen.console, "supplier"),
            "review_days": policy_number(me, "review_tenor_days"), "today": today_of(seen.console),
            "bank_name": seen.console.directory.name}


def _page(seen: Visit, status: int = 200, typed: dict[str, Any] | None = None,
          errors: dict[str, str] | None = None, warning: str | None = None) -> Response:
    typed = typed or {"rows": [{"number": "", "amount": ""} for _ in range(ROWS)]}
    return render(seen, "issue.html", status=status, typed=typed, errors=errors or {},
                  warning=warning, hard_days=HARD_TENOR_DAYS, **_context(seen))


@router.get("/issue")
def issue_form(seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Show the issuance form."""
    return _page(seen)


def _typed(form: Form) -> dict[str, Any]:
    return {"to": field(form, "to", 18), "credit_line": field(form, "credit_line", 64),
            "maturity_date": field(form, "maturity_date", 10),
            "contract_no": field(form, "contract_no", 64),
            "long_tenor_ok": field(form, "long_tenor_ok", 3) == "yes",
            "rows": [{"number": field(form, f"invoice_{i}", 64),
                      "amount": field(form, f"invoice_amount_{i}", 40)} for i in range(ROWS)]}


def _invoices(seen: Visit, typed: dict[str, Any], errors: dict[str, str]) -> list[dict[str, Any]]:
    invoices = []
    for i, row in enumerate(typed["rows"]):
        if not row["number"] and not row["amount"]:
            continue
        fen, problem = fen_of(row["amount"], seen.t)
        if not row["number"]:
            errors[f"invoice_{i}"] = seen.t("issue_invoice_number_missing")
        if problem:
            errors[f"invoice_amount_{i}"] = problem
        elif row["number"] and fen is not None:
            invoices.append({"seller": typed["to"], "number": row["number"], "amount": fen,
                             "allocated": fen})
    if not invoices and not errors:
        errors["invoice_0"] = seen.t("issue_no_invoices")
    return invoices


def _tenor(seen: Visit, typed: dict[str, Any], today: str, errors: dict[str, str]) -> int | None:
    try:
        days = (date.fromisoformat(typed["maturity_date"]) - date.fromisoformat(today)).days
    except ValueError:
        errors["maturity_date"] = seen.t("issue_date_bad")
        return None
    if days <= 0:
        errors["maturity_date"] = seen.t("issue_date_past", today=today)
    elif days > HARD_TENOR_DAYS:
        errors["maturity_date"] = seen.t("issue_tenor_too_long", days=days, limit=HARD_TENOR_DAYS)
    return days


@router.post("/issue")
def issue(seen: Annotated[Visit, Depends(signed_in())],
          form: Annotated[Form, Depends(posted)]) -> Response:
    """Prepare the issuance, or show the form again with what is wrong or needs confirming."""
    context, typed, errors = _context(seen), _typed(form), {}
    if typed["to"] not in {m["uscc"] for m in context["suppliers"]}:
        errors["to"] = seen.t("issue_pick_supplier")
    line = next((x for x in context["lines"] if x["id"] == typed["credit_line"]), None)
    if line is None:
        errors["credit_line"] = seen.t("issue_pick_line")
    if not typed["contract_no"]:
        errors["contract_no"] = seen.t("issue_contract_missing")
    invoices = _invoices(seen, typed, errors)
    days = _tenor(seen, typed, context["today"], errors)
    face = sum(i["amount"] for i in invoices)
    if line is not None and face > line["headroom"]:
        errors["credit_line"] = seen.t("issue_over_headroom", face=yuan(face, line["currency"]),
                                       headroom=yuan(line["headroom"], line["currency"]))
    if errors:
        return _page(seen, 422, typed, errors)
    assert line is not None and days is not None
    if days > context["review_days"] and not typed["long_tenor_ok"]:
        return _page(seen, 200, typed, warning=seen.t(
            "issue_long_tenor", days=days, limit=context["review_days"]))
    args = {"credit_line": line["id"], "to": typed["to"], "amount": face,
            "currency": line["currency"], "maturity_date": typed["maturity_date"],
            "contract_no": typed["contract_no"], "invoices": invoices}
    facts = {"to": seen.console.org(typed["to"]), "amount": yuan(face, line["currency"]),
             "maturity": typed["maturity_date"], "days": str(days),
             "bank": seen.console.org(line["bank"]), "line": short(line["id"]),
             "invoices": ", ".join(i["number"] for i in invoices)}
    subject = "issue:" + line["id"] + ":" + ",".join(sorted(i["number"] for i in invoices))
    return prepare_and_show(seen, "issue", args, subject[:200], facts)
