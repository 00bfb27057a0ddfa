"""What a financing's page shows, gathered from the node and from this console's approvals.

One page (client/console/pages/financing.py) serves every organisation the
node shows a financing to: its seller, its bank, and auditors; anyone else
gets the node's 404, exactly as for an id that does not exist.  All of them
see the request, its status, the terms once offered and the history.  The
bank's side adds its due diligence: the note's lineage back to issuance and
the credential as the node lets the bank see it (the trade background is the
issuer's, the first holder's and auditors' to see).

The ledger keeps a financing's current state, not its story, so the history
is the steps its status shows it went through, each with the transactions
this console knows of (those its people prepared and approved, and the
acceptance that made the bank's note), dated by their blocks.  A step taken
elsewhere (by the other party, or through the SDK) is listed undated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from client.console import approvals
from client.console.approvals import Approval
from client.console.services import Console
from client.sdk.http import NodeError
from client.sdk.names import short, yuan
from contracts.records import derived_id

STEPS = ("requested", "offered", "accepted", "disbursed")
STEP_OF_ACTION = {"request_financing": "requested", "offer_terms": "offered",
                  "accept_terms": "accepted", "confirm_disbursement": "disbursed"}


@dataclass(frozen=True)
class Step:
    """One step of a financing's history: what happened, and what this console knows of it."""

    step: str  # a STEPS member or "cancelled"
    words: dict[str, str] = field(default_factory=dict)  # the fields of `fin_step_<step>`
    tx_id: str | None = None
    date: str | None = None
    prepared_by: str | None = None
    approved_by: str | None = None


def _optional(read: Callable[[], Any]) -> Any:
    """Return `read()`, or None where the node does not show it to this organisation."""
    try:
        return read()
    except NodeError as exc:
        if exc.status in (400, 403, 404):
            return None
        raise


def gather(console: Console, financing_id: str) -> dict[str, Any]:
    """Return what this organisation may see of a financing, and which side of it it is on.

    Raises NodeError (404) when the node does not show it the financing.
    The bank's side also gets the credential (`credential`, else None).
    """
    me = console.signer.participant()
    record = me.financing(financing_id)
    is_bank = record["bank"] == console.org_uscc
    start = record.get("bank_note") if is_bank else None
    line = _optional(lambda: me.lineage(start or record["note"])) or []
    note = next((n for n in line if n["id"] == record["note"]), None)
    credential = None
    if is_bank and line:
        answer = _optional(lambda: me.receivable(line[-1]["root_id"]))
        credential = answer["receivable"] if answer else None
    return {"financing": record, "note": note, "lineage": line, "credential": credential,
            "tenor_days": tenor_days(credential), "is_bank": is_bank,
            "is_seller": record["seller"] == console.org_uscc,
            "currency": note["currency"] if note else "CNY"}


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


def reached(record: dict[str, Any]) -> list[str]:
    """Return the steps a financing in its status went through, in order."""
    if record["status"] == "cancelled":
        return ["requested", *(["offered"] if record.get("terms") else []), "cancelled"]
    return list(STEPS[:STEPS.index(record["status"]) + 1])


def _ours(console: Console, record: dict[str, Any]) -> list[Approval]:
    """Return this console's approved actions on the financing, oldest first."""
    found = approvals.approved_for(console.engine, [record["id"], record["note"]])
    return [a for a in found if a.action in STEP_OF_ACTION and (
        a.subject == record["id"] or  # a request's subject is the note: is it this financing's?
        (a.tx_id is not None and derived_id(a.tx_id, 0, "financing") == record["id"]))]


def _words(console: Console, step: str, record: dict[str, Any], currency: str,
           approval: Approval | None) -> dict[str, str]:
    """Return the fields of a step's words, from its approval or else from the record."""
    terms = record.get("terms") or {}
    if step == "requested":
        return {"seller": console.org(record["seller"]), "bank": console.org(record["bank"])}
    if step == "offered" and approval is not None:
        return {"rate": approval.facts.get("rate", ""), "net": approval.facts.get("net", "")}
    if step == "offered":
        return {"rate": str(terms.get("annual_rate_percent", "")),
                "net": yuan(int(terms.get("net_proceeds", 0)), currency)}
    if step == "accepted":
        return {"terms": short(record.get("terms_hash"))}
    if step == "disbursed":
        return {"reference": str(record.get("payment_ref") or "")}
    return {}


Known = dict[str, list[tuple[str | None, Approval | None]]]  # step -> (tx id, our approval)


def _known(console: Console, record: dict[str, Any], line: list[dict[str, Any]]) -> Known:
    """Return the transactions this console knows of each step, with its approval if ours."""
    known: Known = {}
    for ours in _ours(console, record):
        known.setdefault(STEP_OF_ACTION[ours.action], []).append((ours.tx_id, ours))
    bank_note = next((n for n in line if n["id"] == record.get("bank_note")), None)
    if bank_note and bank_note.get("created_tx") and "accepted" not in known:
        known["accepted"] = [(bank_note["created_tx"], None)]  # the acceptance made it
    return known


def history(console: Console, seen: dict[str, Any]) -> list[Step]:
    """Return the financing's history as this console knows it (`seen` from `gather`)."""
    record = seen["financing"]
    known = _known(console, record, seen["lineage"])
    facts = console.tx_facts.facts(console.signer.participant().node,
                                   (tx for pairs in known.values() for tx, _ in pairs if tx))
    steps = []
    for step in reached(record):
        for tx_id, approval in known.get(step) or [(None, None)]:
            fact = facts.get(tx_id or "")
            steps.append(Step(step, _words(console, step, record, seen["currency"], approval),
                              tx_id, fact.date if fact else None,
                              approval.prepared_by if approval else None,
                              approval.decided_by if approval else None))
    return steps
