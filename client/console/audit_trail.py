"""The console's audit trail: who did what, when, and what the ledger made of it.

Every event that matters to the organisation's controls is a row: logins
(and failed ones), lockouts, users added or changed, each transaction
prepared, approved (with the transaction id the node gave it) or rejected
(with the reason), and the node's refusal in words when signing failed.
Rows are only ever added.  An admin downloads the trail as CSV or JSON
(`export_rows`, `as_csv`, `as_json`), each row saying who prepared and who
approved the transaction it concerns.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from client.console.clock import moment
from client.console.i18n import translator
from client.console.store import approvals, audit
from ledger.timefmt import format_timestamp

COLUMNS = ("id", "time", "event", "user", "approval", "action", "summary", "prepared_by",
           "approved_by", "tx_id", "detail")


def record(db: Connection, *, user: str, event: str, at: int, approval_id: int | None = None,
           prepared_by: str | None = None, tx_id: str | None = None, detail: str = "") -> None:
    """Add one event to the trail (within the caller's database transaction)."""
    db.execute(insert(audit).values(at=at, user=user, event=event, approval_id=approval_id,
                                    prepared_by=prepared_by, tx_id=tx_id, detail=detail))


def note(engine: Engine, **fields: Any) -> None:
    """Add one event to the trail in a transaction of its own (see `record`)."""
    with engine.begin() as db:
        record(db, **fields)


def export_rows(engine: Engine, limit: int | None = None) -> list[dict[str, Any]]:
    """Return the trail, newest first, each row with its approval's action, maker and checker."""
    query = (select(audit, approvals.c.action, approvals.c.summary)
             .select_from(audit.outerjoin(approvals, audit.c.approval_id == approvals.c.id))
             .order_by(audit.c.id.desc()))
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as db:
        return [_row(r._mapping) for r in db.execute(query)]


def _row(r: Any) -> dict[str, Any]:
    approved = r["event"] in ("approved", "refused")  # a checker approved; the node answered
    summary = None
    if r["action"] is not None:
        summary = translator("en")(f"summary_{r['action']}", **json.loads(r["summary"]))
    return {
        "id": r["id"], "time": format_timestamp(moment(r["at"])), "event": r["event"],
        "user": r["user"], "approval": r["approval_id"], "action": r["action"],
        "summary": summary, "prepared_by": r["prepared_by"],
        "approved_by": r["user"] if approved else None, "tx_id": r["tx_id"],
        "detail": r["detail"],
    }


def as_csv(rows: Sequence[dict[str, Any]]) -> str:
    """Return the rows as CSV with a header line (empty cells for what does not apply)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row[k] is None else _cell(row[k]) for k in COLUMNS})
    return out.getvalue()


def _cell(value: Any) -> Any:
    """Return a cell a spreadsheet will not run as a formula (OWASP CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def as_json(rows: Sequence[dict[str, Any]]) -> str:
    """Return the rows as a JSON document {"audit_trail": [...]}."""
    return json.dumps({"audit_trail": list(rows)}, ensure_ascii=False, indent=1)
