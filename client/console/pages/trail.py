"""The audit trail, for admins: every login, lockout, account change, preparation and decision.

The page shows the latest events; the downloads give the whole trail as CSV
(a spreadsheet opens it; cells that could run as formulas are defused) or
JSON, each row with who prepared and who approved the transaction it
concerns and the transaction id the node gave it.  Downloads go in the
trail too.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from client.console import audit_trail
from client.console.clock import now_s
from client.console.web import Visit, render, signed_in

router = APIRouter()
SHOWN = 300


@router.get("/audit")
def trail(seen: Annotated[Visit, Depends(signed_in("admin"))]) -> Response:
    """Show the latest events of the audit trail, newest first."""
    rows = audit_trail.export_rows(seen.console.engine, limit=SHOWN)
    return render(seen, "audit.html", rows=rows, shown=SHOWN)


@router.get("/audit/export.{kind}")
def export(kind: str, seen: Annotated[Visit, Depends(signed_in("admin"))]) -> Response:
    """Download the whole trail as `csv` or `json`."""
    if kind not in ("csv", "json"):
        return render(seen, "error.html", status=404, status_code=404, reason="error_not_found")
    assert seen.user is not None
    audit_trail.note(seen.console.engine, user=seen.user.name, event="exported", at=now_s(),
                     detail=kind)
    rows = audit_trail.export_rows(seen.console.engine)
    body = audit_trail.as_csv(rows) if kind == "csv" else audit_trail.as_json(rows)
    media = "text/csv; charset=utf-8" if kind == "csv" else "application/json"
    return Response(body, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="console-audit-trail.{kind}"'})
