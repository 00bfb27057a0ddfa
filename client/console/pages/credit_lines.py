"""A credit line by clicking: the bank proposes it, the core enterprise co-signs it.

A credit line needs two signatures, the bank's and the core enterprise's,
and consoles talk only to their own node: there is no channel between
them.  So it goes as the command line's does (`ledger credit-line --out`,
then `ledger cosign`), by a file the people pass on:

- in the bank's console a maker fills in the proposal (the core enterprise
  by name, the limit in yuan, the expiry date) and a checker approves it:
  the console signs the bank's half and keeps it; its page shows the terms,
  the prepared transaction as text and a download of the same JSON file the
  command line writes, valid for the day the signature's window allows;
- in the core enterprise's console a maker uploads or pastes that file: the
  page checks it is a credit line to this organisation, signed by a bank of
  the consortium with its registered key, still in its window and not yet
  on the ledger, and shows the terms in words; the maker prepares the
  co-signature, and a checker's approval adds the core's signature and
  submits the transaction.  The node checks it all again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from client.console import approvals
from client.console.forms import fen_of, members_with, today_of
from client.console.pages.bank import bank_visit
from client.console.web import (
    Forbidden,
    Form,
    NotFound,
    Visit,
    field,
    posted,
    prepare_and_show,
    render,
    signed_in,
)
from client.sdk.http import NodeError
from client.sdk.names import short, yuan
from ledger.crypto import Domain, PublicKey
from ledger.errors import LedgerError
from ledger.timefmt import parse_timestamp
from ledger.tx import Envelope, parse_envelope

router = APIRouter()
CURRENCY = "CNY"
MAX_PREPARED = 16_000  # characters: a credit line's prepared transaction is about 800


class ProposalError(ValueError):
    """Raised when a text is not a credit line this organisation may co-sign (a catalog key)."""

    def __init__(self, key: str, **fields: str) -> None:
        super().__init__(key)
        self.key, self.fields = key, fields


@dataclass(frozen=True)
class Proposal:
    """A bank's half-signed credit line, checked, as the co-signing page words it."""

    envelope: Envelope
    text: str
    bank: str
    limit: int
    currency: str
    expiry_date: str
    valid_until: str


def core_visit(seen: Visit, *, maker: bool = False) -> Visit:
    """Return `seen` if this console's organisation is a core enterprise (and the user a maker,
    with `maker`); else raise Forbidden.  Checked in the route, after the CSRF check."""
    if "core_enterprise" not in seen.console.roles():
        raise Forbidden("error_not_core")
    if maker and (seen.user is None or seen.user.role != "maker"):
        raise Forbidden("error_not_maker")
    return seen


# -- the bank: propose, and hand over what was signed ------------------------------------


def _bank_page(seen: Visit, status: int = 200, typed: dict[str, str] | None = None,
               errors: dict[str, str] | None = None) -> Response:
    me = seen.console.signer.participant()
    signed = [a for a in approvals.listed(seen.console.engine, approvals.APPROVED)
              if a.action == "propose_credit_line" and a.outcome == approvals.SIGNED]
    granted = [line for line in me.credit_lines(limit=200) if line["bank"] == me.uscc]
    return render(seen, "credit_lines.html", status=status, signed=signed[:20], granted=granted,
                  cores=members_with(seen.console, "core_enterprise"),
                  typed=typed or {"core": "", "limit": "", "expiry_date": ""},
                  errors=errors or {}, today=today_of(seen.console), currency=CURRENCY)


@router.get("/credit-lines")
def bank_lines(seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Show the bank's proposal form, what its checkers signed, and the lines it granted."""
    return _bank_page(bank_visit(seen))


def _expiry(seen: Visit, text: str, today: str, errors: dict[str, str]) -> None:
    try:
        expiry = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        expiry = None
    if expiry is None:
        errors["expiry_date"] = seen.t("issue_date_bad")
    elif expiry.isoformat() <= today:
        errors["expiry_date"] = seen.t("lines_expiry_past", today=today)


@router.post("/credit-lines")
def propose(seen: Annotated[Visit, Depends(signed_in())],
            form: Annotated[Form, Depends(posted)]) -> Response:
    """Prepare the bank's half of a credit line for a checker, or show what is wrong."""
    bank_visit(seen)
    typed = {k: field(form, k, 40) for k in ("core", "limit", "expiry_date")}
    errors: dict[str, str] = {}
    if typed["core"] not in {m["uscc"] for m in members_with(seen.console, "core_enterprise")}:
        errors["core"] = seen.t("lines_pick_core")
    limit, problem = fen_of(typed["limit"], seen.t)
    if problem:
        errors["limit"] = problem
    _expiry(seen, typed["expiry_date"], today_of(seen.console), errors)
    if errors or limit is None:
        return _bank_page(seen, 422, typed, errors)
    args = {"core": typed["core"], "limit": limit, "currency": CURRENCY,
            "expiry_date": typed["expiry_date"]}
    facts = {"core": seen.console.org(typed["core"]), "limit": yuan(limit, CURRENCY),
             "expiry": typed["expiry_date"]}
    return prepare_and_show(seen, "propose_credit_line", args,
                    f"propose:{typed['core']}:{typed['expiry_date']}", facts)


def _signed(seen: Visit, approval_id: int) -> tuple[approvals.Approval, str]:
    """Return a signed proposal of this bank's and its prepared transaction (else the 404 page)."""
    try:
        approval = approvals.find(seen.console.engine, approval_id)
    except approvals.ApprovalError as exc:
        raise NotFound() from exc
    prepared = approvals.half_signed_of(seen.console.engine, approval_id)
    if approval.action != "propose_credit_line" or prepared is None:
        raise NotFound()
    return approval, prepared


@router.get("/credit-lines/proposals/{approval_id}")
def proposal(approval_id: int, seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Show a signed proposal: its terms, whether the core co-signed, the file to hand over."""
    approval, prepared = _signed(bank_visit(seen), approval_id)
    envelope = parse_envelope(json.loads(prepared))
    return render(seen, "credit_line_proposal.html", approval=approval, prepared=prepared,
                  body=envelope.body, args=envelope.body.args,
                  on_ledger=_on_ledger(seen, envelope.tx_id))


@router.get("/credit-lines/proposals/{approval_id}/file")
def proposal_file(approval_id: int, seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Download the prepared transaction, the file `ledger credit-line --out` writes."""
    approval, prepared = _signed(bank_visit(seen), approval_id)
    name = f"credit-line-{short(approval.tx_id or '').rstrip('…')}.json"
    return Response(prepared, media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _on_ledger(seen: Visit, tx_id: str) -> dict[str, Any] | None:
    """Return the transaction's status if the node knows it, else None."""
    try:
        return seen.console.signer.participant().transaction(tx_id)
    except NodeError as exc:
        if exc.status in (400, 404):
            return None
        raise


# -- the core enterprise: check what the bank signed, and co-sign it --------------------


def _text_of(form: Form) -> str:
    """Return the prepared transaction uploaded (first) or pasted; raise ProposalError if none."""
    upload = form.get("file")
    text = ""
    if isinstance(upload, UploadFile) and upload.filename:
        raw = upload.file.read(MAX_PREPARED + 1)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProposalError("cosign_not_json") from exc
    else:
        pasted = form.get("prepared")
        text = pasted if isinstance(pasted, str) else ""
    if len(text) > MAX_PREPARED:
        raise ProposalError("cosign_too_long", limit=str(MAX_PREPARED))
    if not text.strip():
        raise ProposalError("cosign_missing")
    return text.strip()


def _envelope(text: str) -> Envelope:
    try:
        return parse_envelope(json.loads(text))
    except json.JSONDecodeError as exc:
        raise ProposalError("cosign_not_json") from exc
    except (LedgerError, ValueError, RecursionError) as exc:
        raise ProposalError("cosign_not_prepared", detail=str(exc)[:200]) from exc


def _bank_signed(seen: Visit, envelope: Envelope, bank: str) -> None:
    """Raise ProposalError unless `bank` is an active bank whose registered key signed."""
    member = seen.console.directory.members().get(bank) or {}
    if "bank" not in member.get("roles", ()) or member.get("status") != "active":
        raise ProposalError("cosign_bank_unknown", bank=bank)
    signature = next((s for s in envelope.signatures if s.signer == bank), None)
    try:
        if signature is None:
            raise LedgerError("no signature")
        PublicKey.from_hex(str(member.get("public_key"))).verify(
            Domain.TRANSACTION, envelope.body_bytes, signature.signature)
    except LedgerError as exc:
        raise ProposalError("cosign_bank_unsigned", bank=seen.console.org(bank)) from exc


def read_proposal(seen: Visit, text: str) -> Proposal:
    """Return the credit line in `text` if this organisation may co-sign it now.

    Raises ProposalError naming what is wrong: not a prepared transaction,
    not a credit line, not to us, not signed by a bank with its registered
    key, past its window, or already on the ledger.
    """
    envelope = _envelope(text)
    body, args = envelope.body, envelope.body.args
    if (body.contract, body.action) != ("receivable", "grant_credit_line"):
        raise ProposalError("cosign_not_credit_line", action=f"{body.contract}.{body.action}")
    bank, core = str(args.get("bank")), str(args.get("core"))
    if core != seen.console.org_uscc or set(body.signers) != {bank, core}:
        raise ProposalError("cosign_not_ours", core=seen.console.org(core))
    _bank_signed(seen, envelope, bank)
    now = parse_timestamp(str(seen.console.signer.participant().status()["time"]), what="time")
    if parse_timestamp(body.not_after, what="not_after") <= now:
        raise ProposalError("cosign_expired", until=body.not_after)
    if _on_ledger(seen, envelope.tx_id) is not None:
        raise ProposalError("cosign_already", tx=short(envelope.tx_id))
    limit = args.get("limit")
    return Proposal(envelope, text, bank, limit if isinstance(limit, int) else 0,
                    str(args.get("currency")), str(args.get("expiry_date")), body.not_after)


def _cosign_page(seen: Visit, *, status: int = 200, problem: ProposalError | None = None,
                 proposal: Proposal | None = None, pasted: str = "") -> Response:
    return render(seen, "credit_line_cosign.html", status=status, proposal=proposal,
                  problem=seen.t(problem.key, **problem.fields) if problem else None,
                  pasted=pasted, max_chars=MAX_PREPARED)


@router.get("/credit-lines/cosign")
def cosign_form(seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Show where the core enterprise uploads or pastes a bank's proposal."""
    return _cosign_page(core_visit(seen))


@router.post("/credit-lines/cosign")
def cosign_review(seen: Annotated[Visit, Depends(signed_in())],
                  form: Annotated[Form, Depends(posted)]) -> Response:
    """Check the proposal given and show its terms in words, ready to prepare the co-signature."""
    core_visit(seen, maker=True)
    try:
        text = _text_of(form)
        return _cosign_page(seen, proposal=read_proposal(seen, text))
    except ProposalError as exc:
        pasted = form.get("prepared")
        return _cosign_page(seen, status=400, problem=exc,
                            pasted=pasted[:MAX_PREPARED] if isinstance(pasted, str) else "")


@router.post("/credit-lines/cosign/prepare")
def cosign_prepare(seen: Annotated[Visit, Depends(signed_in())],
                   form: Annotated[Form, Depends(posted)]) -> Response:
    """Prepare the core enterprise's co-signature of the proposal reviewed, for a checker."""
    core_visit(seen, maker=True)
    try:
        found = read_proposal(seen, _text_of(form))
    except ProposalError as exc:
        return _cosign_page(seen, status=400, problem=exc)
    facts = {"bank": seen.console.org(found.bank), "limit": yuan(found.limit, found.currency),
             "expiry": found.expiry_date, "until": found.valid_until,
             "tx": short(found.envelope.tx_id)}
    return prepare_and_show(seen, "cosign_credit_line", {"prepared": found.text},
                    f"cosign:{found.envelope.tx_id}"[:64], facts)
