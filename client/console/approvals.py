"""Maker-checker (经办/复核): nothing is signed with the organisation's key on one person's word.

A maker *prepares* a transaction: the action's name, its typed arguments and
a summary in words are stored (never signed bytes).  A checker other than the
maker *approves* it: only then does the console build, sign and submit the
transaction with the organisation's key, so its timestamps and nonce are
fresh; or *rejects* it with a reason.  A viewer does neither.  The audit
trail records each step, with the transaction id the node committed or the
node's refusal in words.

The actions a maker may prepare are `ACTIONS`: to add one, give its name,
how the SDK performs it and which arguments it takes (see `Action`).  A
page then prepares it with `prepare(...)`; nothing else is needed for the
queue, the approval, the signing and the trail.

A transaction another organisation must sign too (a credit line: the bank's
and the core enterprise's) is approved in two consoles: the bank's checker's
approval signs its half and keeps it (`half_signed`, outcome `signed`), to
hand over as the file `ledger credit-line --out` writes; the core
enterprise's maker prepares `cosign_credit_line` with it, and that checker's
approval adds the second signature and submits.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert, select, update

from client.console import audit_trail
from client.console.clock import now_s
from client.console.store import approvals, half_signed
from client.console.users import User
from client.sdk.http import NodeError
from client.sdk.participant import Participant, PreparedTx, TransactionFailed
from ledger.tx import parse_envelope

log = logging.getLogger("console.approvals")
PENDING, SIGNING, APPROVED, REJECTED, REFUSED = (
    "pending", "signing", "approved", "rejected", "refused")
SIGNED = "signed"  # the outcome of an approval that signed one half, for another to co-sign
STATES = (PENDING, APPROVED, REJECTED, REFUSED)


class ApprovalError(ValueError):
    """Raised when a person may not do this to this approval (the message is a catalog key)."""


@dataclass(frozen=True)
class Action:
    """A business action a maker may prepare: its arguments and how the SDK performs it."""

    name: str
    args: tuple[str, ...]
    perform: Callable[[Participant, Mapping[str, Any]], dict[str, Any]]


def _half(prepared: PreparedTx) -> dict[str, Any]:
    """Return a status for a transaction signed here that another organisation co-signs."""
    envelope = prepared.envelope()
    return {"tx_id": envelope.tx_id, "status": SIGNED,
            "prepared": json.dumps(envelope.to_json(), ensure_ascii=False)}


def cosign_and_submit(me: Participant, prepared: str) -> dict[str, Any]:
    """Add our signature to the prepared transaction (JSON text) and submit it; return its status.

    Raises what parsing (ValueError, LedgerError) or the submission (NodeError,
    TransactionFailed) raises; the page checked it before a maker prepared it.
    """
    envelope = parse_envelope(json.loads(prepared))
    signed = me.cosign(PreparedTx(envelope.body, envelope.body_bytes, envelope.signatures))
    status = me.submit([signed.envelope()])[0]
    return me.transaction(status["tx_id"]) if status.get("status") != "pending" else status


ACTIONS: dict[str, Action] = {a.name: a for a in (
    Action("accept", ("receivable",), lambda me, a: me.accept(a["receivable"])),
    Action("reject", ("receivable",), lambda me, a: me.reject(a["receivable"])),
    # -- the bank's actions (client/console/pages/bank.py) --
    Action("offer_terms", ("financing", "annual_rate_percent", "funding_date", "fees",
                           "fee_payer", "recourse", "registry_no", "tenor_reviewed"),
           lambda me, a: me.offer_terms(
               a["financing"], annual_rate_percent=a["annual_rate_percent"],
               funding_date=a["funding_date"], fees=a["fees"], fee_payer=a["fee_payer"],
               recourse=a["recourse"], registry_no=a["registry_no"],
               tenor_reviewed=a["tenor_reviewed"])),
    Action("confirm_disbursement", ("financing", "payment_ref"),
           lambda me, a: me.confirm_disbursement(a["financing"], a["payment_ref"])),
    # -- supplier and core enterprise pages --
    Action("transfer", ("note", "payments"), lambda me, a: me.transfer(
        a["note"], [(p["to"], p["amount"]) for p in a["payments"]])),
    Action("request_financing", ("note", "bank"),
           lambda me, a: me.request_financing(a["note"], a["bank"])),
    Action("accept_terms", ("financing", "terms_hash"),
           lambda me, a: me.accept_terms(a["financing"], a["terms_hash"])),
    Action("issue", ("credit_line", "to", "amount", "currency", "maturity_date", "contract_no",
                     "invoices"), lambda me, a: me.issue(**a)),
    Action("pay", ("receivable", "amount", "payment_ref"),
           lambda me, a: me.pay(a["receivable"], a["amount"], a["payment_ref"])),
    # -- the credit line, the bank's half then the core's (client/console/pages/credit_lines.py) --
    Action("propose_credit_line", ("core", "limit", "currency", "expiry_date"),
           lambda me, a: _half(me.propose_credit_line(**a))),
    Action("cosign_credit_line", ("prepared",),
           lambda me, a: cosign_and_submit(me, a["prepared"])),
)}


@dataclass(frozen=True)
class Approval:
    """One prepared transaction and what became of it."""

    id: int
    action: str
    args: dict[str, Any]
    facts: dict[str, str]
    subject: str
    state: str
    prepared_by: str
    prepared_at: int
    decided_by: str | None
    decided_at: int | None
    reason: str | None
    tx_id: str | None
    outcome: str | None


def _approval(row: Any) -> Approval:
    return Approval(row.id, row.action, json.loads(row.args), json.loads(row.summary), row.subject,
                    row.state, row.prepared_by, row.prepared_at, row.decided_by,
                    row.decided_at, row.reason, row.tx_id, row.outcome)


def prepare(engine: Engine, maker: User, action: str, args: Mapping[str, Any], *,
            subject: str, facts: Mapping[str, str]) -> int:
    """Queue `action` with `args` for a checker, as `maker`; return the approval's id.

    `facts` fill the action's summary in the catalog (`summary_<action>`:
    amounts, names, dates as shown), so each person reads it in their language.

    Raises ApprovalError if `maker` is not a maker, the action is unknown or
    its arguments are not exactly the action's, or `subject` already waits
    for approval.
    """
    if maker.role != "maker":
        raise ApprovalError("error_not_maker")
    known = ACTIONS.get(action)
    if known is None or set(args) != set(known.args):
        raise ApprovalError("error_bad_action")
    now = now_s()
    with engine.begin() as db:
        waiting = db.execute(select(approvals.c.id).where(
            approvals.c.subject == subject, approvals.c.state.in_((PENDING, SIGNING)))).first()
        if waiting is not None:
            raise ApprovalError("error_already_pending")
        made = db.execute(insert(approvals).values(
            action=action, args=json.dumps(dict(args), sort_keys=True),
            summary=json.dumps(dict(facts), ensure_ascii=False, sort_keys=True),
            subject=subject, state=PENDING, prepared_by=maker.name, prepared_at=now))
        approval_id = int(made.inserted_primary_key[0])  # type: ignore[index]
        audit_trail.record(db, user=maker.name, event="prepared", at=now,
                           approval_id=approval_id, prepared_by=maker.name)
    return approval_id


def listed(engine: Engine, state: str, limit: int = 200) -> list[Approval]:
    """Return the approvals in `state`, newest first."""
    with engine.connect() as db:
        rows = db.execute(select(approvals).where(approvals.c.state == state)
                          .order_by(approvals.c.id.desc()).limit(limit))
        return [_approval(r) for r in rows]


def waiting_for(engine: Engine, subjects: list[str]) -> dict[str, Approval]:
    """Return the approvals pending for any of `subjects`, by subject."""
    with engine.connect() as db:
        rows = db.execute(select(approvals).where(
            approvals.c.subject.in_(subjects), approvals.c.state.in_((PENDING, SIGNING))))
        return {r.subject: _approval(r) for r in rows}


def approved_for(engine: Engine, subjects: list[str]) -> list[Approval]:
    """Return the approved approvals of any of `subjects` that have a transaction, oldest first."""
    with engine.connect() as db:
        rows = db.execute(select(approvals).where(
            approvals.c.subject.in_(subjects), approvals.c.state == APPROVED,
            approvals.c.tx_id.is_not(None)).order_by(approvals.c.id))
        return [_approval(r) for r in rows]


def _claim(engine: Engine, checker: User, approval_id: int, to: str) -> Approval:
    """Move a pending approval to state `to` for `checker`, or raise ApprovalError."""
    if checker.role != "checker":
        raise ApprovalError("error_not_checker")
    with engine.begin() as db:
        row = db.execute(select(approvals).where(approvals.c.id == approval_id)).first()
        if row is None:
            raise ApprovalError("error_no_approval")
        if row.prepared_by == checker.name:
            raise ApprovalError("error_own_approval")
        claimed = db.execute(update(approvals).where(
            approvals.c.id == approval_id, approvals.c.state == PENDING).values(
            state=to, decided_by=checker.name, decided_at=now_s()))
        if claimed.rowcount != 1:  # decided meanwhile by another checker
            raise ApprovalError("error_not_pending")
    return _approval(row)


def reject(engine: Engine, checker: User, approval_id: int, reason: str) -> None:
    """Reject a pending approval with `reason`, as `checker` (not its maker)."""
    if not reason.strip():
        raise ApprovalError("error_reason_needed")
    approval = _claim(engine, checker, approval_id, REJECTED)
    with engine.begin() as db:
        db.execute(update(approvals).where(approvals.c.id == approval_id)
                   .values(reason=reason.strip()))
        audit_trail.record(db, user=checker.name, event="rejected", at=now_s(),
                           approval_id=approval_id, prepared_by=approval.prepared_by,
                           detail=reason.strip())


class Signer:
    """The organisation's key, held in this process, and the one lock it signs under.

    `connect` makes the SDK participant (it asks a node for the chain id), at
    first use and again after a failure, so the console starts while its
    node is down.
    """

    def __init__(self, connect: Callable[[], Participant]) -> None:
        self._connect = connect
        self._participant: Participant | None = None
        self._lock = threading.Lock()

    def participant(self) -> Participant:
        """Return the participant, connecting first if needed; raise NodeError if none answers."""
        with self._lock:
            if self._participant is None:
                self._participant = self._connect()
            return self._participant

    def perform(self, action: Action, args: Mapping[str, Any]) -> dict[str, Any]:
        """Sign and submit `action` now (fresh time and nonce); return its committed status."""
        me = self.participant()
        with self._lock:
            return action.perform(me, args)

    def close(self) -> None:
        """Close the connection to the node."""
        if self._participant is not None:
            self._participant.close()


def approve(engine: Engine, signer: Signer, checker: User, approval_id: int) -> Approval:
    """Approve as `checker` (not the maker): sign and submit now, and record what the node said.

    Returns the approval as it ends: `approved` with the transaction id (its
    outcome `committed`, or `pending`: accepted, not yet in a block, or
    `signed`: our half, kept for another organisation to co-sign), or
    `refused` with the node's refusal (or the rule that failed) in words.
    """
    approval = _claim(engine, checker, approval_id, SIGNING)
    tx_id, outcome, state, half = None, "", APPROVED, None
    try:
        status = signer.perform(ACTIONS[approval.action], approval.args)
        tx_id = str(status.get("tx_id"))
        said = status.get("status")
        outcome = str(said) if said in ("committed", SIGNED) else "pending"
        half = status.get("prepared") if outcome == SIGNED else None
    except TransactionFailed as exc:
        tx_id, state = exc.status.get("tx_id"), REFUSED
        outcome = f"{exc.status.get('code')}: {exc.status.get('reason')}"
    except NodeError as exc:
        state = REFUSED
        outcome = (f"no node answered ({exc.detail})" if exc.status == 0
                   else f"{exc.code}: {exc.detail}")
    except Exception as exc:  # never leave it `signing`: the trail says what happened
        log.exception("signing approval %d failed", approval_id)
        state, outcome = REFUSED, f"not submitted: {type(exc).__name__}: {exc}"
    now = now_s()
    with engine.begin() as db:
        db.execute(update(approvals).where(approvals.c.id == approval_id).values(
            state=state, tx_id=tx_id, outcome=outcome, decided_at=now))
        if half is not None:
            db.execute(insert(half_signed).values(approval_id=approval_id, tx_id=tx_id,
                                                  prepared=half))
        audit_trail.record(db, user=checker.name, event=state, at=now, approval_id=approval_id,
                           prepared_by=approval.prepared_by, tx_id=tx_id, detail=outcome)
    return find(engine, approval_id)


INTERRUPTED = ("the console stopped while signing: the transaction may have reached the "
               "ledger; look it up (its credential or record) before preparing it again")


def settle_interrupted(engine: Engine) -> int:
    """Mark the approvals left `signing` by a console that stopped as refused; return how many.

    Called when the console starts (one console process per database): no
    approval can be under way then, so one still `signing` was cut short
    between claiming it and recording the node's answer.  Whether its
    transaction was submitted is not known here, so the outcome says to look
    it up; the subject is freed for a new approval (the ledger refuses a
    repeat of what already happened).
    """
    now = now_s()
    with engine.begin() as db:
        stuck = db.execute(select(approvals.c.id, approvals.c.prepared_by, approvals.c.decided_by)
                           .where(approvals.c.state == SIGNING)).all()
        for row in stuck:
            db.execute(update(approvals).where(approvals.c.id == row.id).values(
                state=REFUSED, outcome=INTERRUPTED, decided_at=now))
            audit_trail.record(db, user=row.decided_by or "console", event=REFUSED, at=now,
                               approval_id=row.id, prepared_by=row.prepared_by,
                               detail=INTERRUPTED)
    return len(stuck)


def find(engine: Engine, approval_id: int) -> Approval:
    """Return approval `approval_id`; raise ApprovalError if there is none."""
    with engine.connect() as db:
        row = db.execute(select(approvals).where(approvals.c.id == approval_id)).first()
    if row is None:
        raise ApprovalError("error_no_approval")
    return _approval(row)


def half_signed_of(engine: Engine, approval_id: int) -> str | None:
    """Return the half-signed transaction (JSON text) approval `approval_id` made, if any."""
    with engine.connect() as db:
        row = db.execute(select(half_signed.c.prepared).where(
            half_signed.c.approval_id == approval_id)).first()
    return None if row is None else str(row.prepared)
