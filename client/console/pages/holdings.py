"""The supplier's dashboard: what it holds by status, what falls due when, what was cleared.

Everything comes from the node as this organisation may see it: its notes
(every status), grouped by status with totals in yuan; the live ones
(active or under financing) by month of maturity, each with the days left
as of the ledger's date; the settled ones, each a clearing the core
enterprise paid this organisation at maturity; and its financing requests
with their state, each a link to its quote.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from client.console.web import Visit, render, signed_in
from client.sdk.names import yuan

router = APIRouter()
SHOWN_STATUSES = ("pending", "active", "financing", "settled")
LIVE = ("active", "financing")


def totals(notes: Iterable[Mapping[str, Any]]) -> str:
    """Return the notes' total in yuan, one amount per currency ("-" for none)."""
    sums: dict[str, int] = defaultdict(int)
    for note in notes:
        sums[str(note["currency"])] += int(note["amount"])
    return " + ".join(yuan(v, c) for c, v in sorted(sums.items())) or "-"


def by_month(notes: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return notes grouped by month of maturity (YYYY-MM), soonest first, with totals."""
    months: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for note in sorted(notes, key=lambda n: (str(n["maturity_date"]), str(n["id"]))):
        months[str(note["maturity_date"])[:7]].append(note)
    return [{"month": m, "notes": ns, "total": totals(ns)} for m, ns in sorted(months.items())]


def days_between(today: str, later: str) -> int:
    """Return the days from `today` to `later` (ISO dates; negative when `later` is past)."""
    return (date.fromisoformat(later) - date.fromisoformat(today)).days


@router.get("/holdings")
def holdings(seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Show holdings by status with totals, maturities by month, clearings and financings."""
    me = seen.console.signer.participant()
    today = str(me.inbox(within_days=1)["as_of"])
    notes = me.notes(holder=me.uscc, limit=2000)
    groups = [{"status": s, "count": len(ns), "total": totals(ns)}
              for s in SHOWN_STATUSES for ns in [[n for n in notes if n["status"] == s]]]
    live = [n for n in notes if n["status"] in LIVE]
    cleared = [n for n in notes if n["status"] == "settled"]
    return render(seen, "holdings.html", today=today, groups=groups, months=by_month(live),
                  cleared=cleared, cleared_total=totals(cleared),
                  financings=me.financings(limit=200), days=lambda d: days_between(today, d))
