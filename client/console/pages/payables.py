"""The core enterprise's side: credit lines and headroom, payables by month, overdue, payment.

Credit lines are listed per bank with what is used and what headroom is
left.  What the organisation issued is grouped by month of maturity with
totals in yuan, each credential marked overdue (in words, not only colour)
once its maturity has passed unpaid.  Payment at maturity is prepared from
a credential's page (amount and payment reference) and signed on a
checker's approval; the node then clears every holder of a live note, and
that credential's page lists who was cleared how much.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from client.console.forms import fen_of, today_of
from client.console.pages.inbox import RECORD_ID, credential_page
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
OPEN = ("pending", "active", "overdue")


def lines_by_bank(lines: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return credit lines grouped by bank, each line with its headroom, and per-bank totals."""
    banks: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        banks[str(line["bank"])].append({**line, "headroom": line["limit"] - line["used"]})
    return [{"bank": bank, "lines": held,
             "limit": sum(x["limit"] for x in held), "used": sum(x["used"] for x in held),
             "headroom": sum(x["headroom"] for x in held), "currency": held[0]["currency"]}
            for bank, held in sorted(banks.items())]


def payables_by_month(issued: Sequence[Mapping[str, Any]], today: str) -> list[dict[str, Any]]:
    """Return open credentials by month of maturity, marking those overdue as of `today`."""
    months: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in issued:
        if r["status"] in OPEN:
            overdue = r["status"] == "overdue" or (
                r["status"] == "active" and str(r["maturity_date"]) < today)
            months[str(r["maturity_date"])[:7]].append({**r, "overdue": overdue})
    return [{"month": m, "credentials": items, "currency": items[0]["currency"],
             "total": sum(i["face"] - (i.get("paid") or 0) for i in items)}
            for m, items in sorted(months.items())]


@router.get("/payables")
def payables(seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Show credit lines and headroom per bank, payables by month, overdue and paid ones."""
    me = seen.console.signer.participant()
    today = today_of(seen.console)
    issued = me.receivables(role="issued", limit=2000)
    months = payables_by_month(issued, today)
    overdue = [i for m in months for i in m["credentials"] if i["overdue"]]
    return render(seen, "payables.html", today=today,
                  banks=lines_by_bank(me.credit_lines(limit=200)), months=months,
                  overdue=overdue, paid=[r for r in issued if r["status"] == "paid"])


@router.post("/credentials/{record_id}/pay")
def pay(record_id: str, seen: Annotated[Visit, Depends(signed_in())],
        form: Annotated[Form, Depends(posted)]) -> Response:
    """Prepare the maturity payment of a credential this organisation issued."""
    if not RECORD_ID.fullmatch(record_id):
        raise NotFound()
    record = seen.console.signer.participant().receivable(record_id)["receivable"]
    if record.get("issuer") != seen.console.org_uscc:
        raise NotFound()
    outstanding = int(record["face"]) - int(record.get("paid") or 0)
    amount, problem = fen_of(field(form, "amount", 40), seen.t)
    if amount is not None and amount > outstanding:
        problem = seen.t("pay_too_much", outstanding=yuan(outstanding, record["currency"]))
    reference = field(form, "payment_ref", 64)
    errors = {k: v for k, v in (("amount", problem),
                               ("payment_ref", None if reference else seen.t("pay_ref_missing")))
              if v}
    if errors:
        return credential_page(seen, record_id, status=422, pay_errors=errors,
                               pay_typed={"amount": field(form, "amount", 40),
                                          "payment_ref": reference})
    assert amount is not None
    facts = {"credential": short(record_id), "amount": yuan(amount, record["currency"]),
             "reference": reference, "outstanding": yuan(outstanding, record["currency"])}
    return prepare_and_show(seen, "pay", {"receivable": record_id, "amount": amount,
                                  "payment_ref": reference}, record_id, facts)
