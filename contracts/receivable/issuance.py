"""Issuance (开立/确权) and acceptance (签收) of a credential.

A core enterprise issues a credential to a tier-1 supplier against real trade:
a contract number, the supplier's invoices (each may back several
credentials, but never beyond its amount) and document hashes.  It draws on
a bank's credit line.  The credential takes effect only when the supplier
signs for it; until then the issuer may withdraw it, the supplier may reject
it, and after the acceptance window it expires.  Acceptance is irrevocable.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from contracts import base
from contracts.base import exact_args, require
from contracts.receivable.credit import existing_line, release
from contracts.receivable.notes import credential, existing_note
from contracts.records import (
    CreditLine,
    Invoice,
    IssuerBook,
    Note,
    NoteStatus,
    Receivable,
    ReceivableStatus,
    derived_id,
    evolve,
    invoice_id,
    load,
    save,
)
from contracts.registry import active_member, policy
from ledger.errors import SchemaError
from ledger.execution import Call
from ledger.membership import Role

MAX_TENOR_DAYS = 365
MAX_INVOICES = 50
MAX_DOCUMENTS = 50


def issue(call: Call) -> None:
    """The core enterprise issues a credential to a supplier (pending its acceptance)."""
    exact_args(call, {"credit_line", "to", "amount", "currency", "maturity_date", "trade"})
    line = existing_line(call, base.hex_id(call.args["credit_line"], "credit_line"))
    issuer = line.core
    call.authorise(issuer, "the core enterprise of the credit line signs the issuance")
    active_member(
        call, issuer, Role.CORE_ENTERPRISE,
        "the issuer is an active member with the core-enterprise role",
    )
    receiver = base.uscc(call.args["to"], "to")
    active_member(
        call, receiver, Role.SUPPLIER, "the receiver is an active member with the supplier role"
    )
    face = base.amount(call.args["amount"], "amount")
    currency = base.currency(call.args["currency"])
    maturity = base.day(call.args["maturity_date"], "maturity_date")
    today = call.block.date
    require(maturity > today, "maturity is after the issue date")
    require(
        (maturity - today).days <= MAX_TENOR_DAYS,
        f"maturity is at most {MAX_TENOR_DAYS} days after issue",
    )
    _draw_credit_line(call, line, face, currency)
    _check_no_overdue(call, issuer)
    trade = _trade_background(call.args["trade"], receiver)
    _allocate_invoices(call, trade["invoices"], face)
    _record_credential(call, line, receiver, face, currency, maturity.isoformat(), trade)


def _draw_credit_line(call: Call, line: CreditLine, face: int, currency: str) -> None:
    require(line.currency == currency, "the credential's currency matches the credit line")
    require(call.block.date.isoformat() <= line.expiry_date, "the credit line has not expired")
    require(line.limit - line.used >= face, "the credit line has enough headroom")
    save(call, evolve(line, used=line.used + face))


def _check_no_overdue(call: Call, issuer: str) -> None:
    if not policy(call, "block_issuance_when_overdue"):
        return
    book = load(call, IssuerBook, issuer)
    if book is None or not book.open_maturities:
        return
    grace = timedelta(days=policy(call, "grace_days"))
    earliest = min(book.open_maturities)
    require(
        base.day(earliest, "maturity") + grace >= call.block.date,
        "a core enterprise with overdue credentials issues no new ones until they are paid",
    )


def _trade_background(value: Any, receiver: str) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != {"contract_no", "invoices", "documents"}:
        raise SchemaError("trade must have exactly contract_no, invoices and documents")
    base.text(value["contract_no"], "trade.contract_no")
    invoices = base.objects(value["invoices"], "trade.invoices", max_items=MAX_INVOICES)
    for inv in invoices:
        if set(inv) != {"seller", "number", "amount", "allocated"}:
            raise SchemaError("each invoice has exactly seller, number, amount and allocated")
        base.uscc(inv["seller"], "invoice seller")
        base.text(inv["number"], "invoice number", max_length=64)
        base.amount(inv["amount"], "invoice amount")
        base.amount(inv["allocated"], "invoice allocated")
        require(inv["seller"] == receiver, "the invoices are the receiver's own sales")
    if not isinstance(value["documents"], list) or len(value["documents"]) > MAX_DOCUMENTS:
        raise SchemaError(f"trade.documents must be a list of at most {MAX_DOCUMENTS}")
    for doc in value["documents"]:
        if not isinstance(doc, dict) or set(doc) != {"name", "sha256"}:
            raise SchemaError("each document has exactly name and sha256")
        base.text(doc["name"], "document name")
        base.hex_id(doc["sha256"], "document sha256")
    return dict(value)


def _allocate_invoices(call: Call, invoices: list[Any], face: int) -> None:
    """Invoice utilisation: allocations across all credentials never exceed an invoice."""
    require(
        sum(inv["allocated"] for inv in invoices) == face,
        "the invoice allocations add up to the credential's amount",
    )
    seen: set[str] = set()
    for inv in invoices:
        inv_id = invoice_id(inv["seller"], inv["number"])
        require(inv_id not in seen, "each invoice is listed once per credential")
        seen.add(inv_id)
        known = load(call, Invoice, inv_id)
        record = known or Invoice(inv_id, inv["seller"], inv["number"], inv["amount"], 0)
        require(record.amount == inv["amount"], "an invoice's amount is the same in every use")
        require(
            record.allocated + inv["allocated"] <= record.amount,
            "an invoice is never used beyond its amount (no double financing)",
        )
        save(call, evolve(record, allocated=record.allocated + inv["allocated"]))


def _record_credential(
    call: Call, line: CreditLine, receiver: str, face: int, currency: str, maturity: str,
    trade: dict[str, Any],
) -> None:
    note_id = derived_id(call.tx_id, 0)
    today = call.block.date
    accept_by = today + timedelta(days=policy(call, "acceptance_days"))
    long_tenor = (base.day(maturity, "maturity_date") - today).days > policy(
        call, "review_tenor_days"
    )
    root = Receivable(
        id=note_id, issuer=line.core, first_holder=receiver, face=face, currency=currency,
        issue_date=today.isoformat(), maturity_date=maturity, accept_by=accept_by.isoformat(),
        credit_line=line.id, trade=trade, status=ReceivableStatus.PENDING,
        long_tenor=long_tenor, paid=0, live=(note_id,),
    )
    note = Note(
        id=note_id, root_id=note_id, parent_id=None, holder=receiver, amount=face,
        currency=currency, issuer=line.core, maturity_date=maturity, depth=0,
        status=NoteStatus.PENDING, created_tx=call.tx_id,
    )
    save(call, root)
    save(call, note)
    call.emit({"type": "issued", "receivable": note_id, "amount": face,
               "parties": [line.core, receiver, line.bank]})


def _open_in_book(call: Call, issuer: str, maturity: str) -> None:
    book = load(call, IssuerBook, issuer) or IssuerBook(issuer, {})
    counts = dict(book.open_maturities)
    counts[maturity] = counts.get(maturity, 0) + 1
    save(call, IssuerBook(issuer, counts))


def close_in_book(call: Call, issuer: str, maturity: str) -> None:
    """Remove one effective credential maturing on `maturity` from the issuer's book.

    The book counts accepted, unpaid credentials only: a pending one can
    never be paid, so it must not make its issuer look overdue.
    """
    book = load(call, IssuerBook, issuer)
    require(book is not None and maturity in book.open_maturities, "the credential is open")
    assert book is not None
    counts = dict(book.open_maturities)
    counts[maturity] -= 1
    if counts[maturity] == 0:
        del counts[maturity]
    save(call, IssuerBook(issuer, counts))


def _pending(call: Call) -> tuple[Receivable, Note]:
    exact_args(call, {"receivable"})
    root = credential(call, base.hex_id(call.args["receivable"], "receivable"))
    require(root.status is ReceivableStatus.PENDING, "the credential is pending acceptance")
    return root, existing_note(call, root.id)


def accept(call: Call) -> None:
    """The receiving supplier signs for the credential (签收); it becomes effective."""
    root, note = _pending(call)
    call.authorise(root.first_holder, "the receiving supplier signs the acceptance")
    require(
        call.block.date.isoformat() <= root.accept_by,
        "a credential is accepted within the acceptance window",
    )
    require(
        call.block.date.isoformat() < root.maturity_date, "a credential is accepted before maturity"
    )
    save(call, evolve(root, status=ReceivableStatus.ACTIVE))
    _open_in_book(call, root.issuer, root.maturity_date)
    save(call, evolve(note, status=NoteStatus.ACTIVE))
    call.emit({"type": "accepted", "receivable": root.id,
               "parties": [root.issuer, root.first_holder]})


def reject(call: Call) -> None:
    """The receiving supplier refuses the credential; credit and invoices are released."""
    root, note = _pending(call)
    call.authorise(root.first_holder, "only the receiving supplier rejects a credential")
    _cancel(call, root, note, ReceivableStatus.REJECTED)


def withdraw(call: Call) -> None:
    """The issuer takes back a credential not yet accepted."""
    root, note = _pending(call)
    call.authorise(root.issuer, "only the issuer withdraws a credential")
    _cancel(call, root, note, ReceivableStatus.WITHDRAWN)


def expire(call: Call) -> None:
    """Either party records that the acceptance window has passed unsigned."""
    root, note = _pending(call)
    parties = [s for s in call.signers if s in (root.issuer, root.first_holder)]
    require(parties, "the issuer or receiver records expiry")
    for party in parties:
        call.authorise(party, "the issuer or receiver records expiry")
    require(
        call.block.date.isoformat() > root.accept_by,
        "a credential expires only after its acceptance window",
    )
    _cancel(call, root, note, ReceivableStatus.EXPIRED)


def _cancel(call: Call, root: Receivable, note: Note, status: ReceivableStatus) -> None:
    release(call, root.credit_line, root.face)
    for inv in root.trade["invoices"]:
        record = load(call, Invoice, invoice_id(inv["seller"], inv["number"]))
        assert record is not None
        save(call, evolve(record, allocated=record.allocated - inv["allocated"]))
    save(call, evolve(root, status=status, live=()))
    save(call, evolve(note, status=NoteStatus.VOID))
    call.emit({"type": status.value, "receivable": root.id,
               "parties": [root.issuer, root.first_holder]})
