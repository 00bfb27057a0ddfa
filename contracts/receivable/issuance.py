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

from contracts.base import fail, require
from contracts.receivable import invoices
from contracts.receivable.commands import Issue, OnCredential
from contracts.receivable.credit import core_line, release
from contracts.receivable.explain import credential_state
from contracts.receivable.notes import Parties, existing_note, signed_credential
from contracts.records import (
    CreditLine,
    IssuerBook,
    Note,
    NoteStatus,
    Receivable,
    ReceivableStatus,
    derived_id,
    evolve,
    load,
    save,
    with_status,
)
from contracts.registry import active_member, policy
from ledger.execution import Call
from ledger.membership import Role
from ledger.timefmt import parse_date

MAX_TENOR_DAYS = 365


def issue(call: Call) -> None:
    """The core enterprise issues a credential to a supplier (pending its acceptance)."""
    command = Issue.parse(call)
    line = core_line(call, command.credit_line,
                     "the core enterprise of the credit line signs the issuance")
    issuer = line.core
    active_member(
        call, issuer, Role.CORE_ENTERPRISE,
        "the issuer is an active member with the core-enterprise role", "the issuer",
    )
    active_member(call, command.to, Role.SUPPLIER,
                  "the receiver is an active member with the supplier role", "the receiver")
    today = call.block.date
    require(command.maturity_date > today, "maturity is after the issue date",
            "maturity {} is not after the issue date {}", command.maturity_date, today)
    tenor = (command.maturity_date - today).days
    require(tenor <= MAX_TENOR_DAYS, f"maturity is at most {MAX_TENOR_DAYS} days after issue",
            "maturity {} is {} days after the issue date {}", command.maturity_date, tenor, today)
    _draw_credit_line(call, line, command.amount, command.currency)
    _check_no_overdue(call, issuer)
    for invoice in command.trade.invoices:
        require(invoice.seller == command.to, "the invoices are the receiver's own sales",
                "invoice {} is a sale of {}, not of the receiver {}", invoice.number,
                invoice.seller, command.to)
    invoices.allocate(call, issuer, command.trade.invoices, command.amount)
    _record_credential(call, line, command)


def _draw_credit_line(call: Call, line: CreditLine, face: int, currency: str) -> None:
    require(line.currency == currency, "the credential's currency matches the credit line",
            "the credential is in {} but credit line {:id} is in {}", currency, line.id,
            line.currency)
    require(call.block.date.isoformat() <= line.expiry_date, "the credit line has not expired",
            "credit line {:id} expired on {}", line.id, line.expiry_date)
    headroom = line.limit - line.used
    require(headroom >= face, "the credit line has enough headroom",
            "amount {:yuan} is more than the headroom {:yuan} of credit line {:id} "
            "(limit {:yuan}, used {:yuan})", face, headroom, line.id, line.limit, line.used)
    save(call, evolve(line, used=line.used + face))


def _check_no_overdue(call: Call, issuer: str) -> None:
    if not policy(call, "block_issuance_when_overdue"):
        return
    book = load(call, IssuerBook, issuer)
    if book is None or not book.open_maturities:
        return
    grace_days = policy(call, "grace_days")
    earliest = min(book.open_maturities)
    require(
        parse_date(earliest, what="maturity") + timedelta(days=grace_days) >= call.block.date,
        "a core enterprise with overdue credentials issues no new ones until they are paid",
        "its credentials maturing on {} are not paid in full and the {}-day grace period "
        "has passed", earliest, grace_days,
    )


def _record_credential(call: Call, line: CreditLine, command: Issue) -> None:
    note_id = derived_id(call.tx_id, 0)
    today = call.block.date
    accept_by = today + timedelta(days=policy(call, "acceptance_days"))
    long_tenor = (command.maturity_date - today).days > policy(call, "review_tenor_days")
    maturity = command.maturity_date.isoformat()
    root = Receivable(
        id=note_id, issuer=line.core, first_holder=command.to, face=command.amount,
        currency=command.currency, issue_date=today.isoformat(), maturity_date=maturity,
        accept_by=accept_by.isoformat(), credit_line=line.id, trade=command.trade.to_json(),
        status=ReceivableStatus.PENDING, long_tenor=long_tenor, paid=0, live=(note_id,),
        status_date=today.isoformat(),
    )
    note = Note(
        id=note_id, root_id=note_id, parent_id=None, holder=command.to, amount=command.amount,
        currency=command.currency, issuer=line.core, maturity_date=maturity, depth=0,
        status=NoteStatus.PENDING, created_tx=call.tx_id,
    )
    save(call, root)
    save(call, note)
    call.emit({"type": "issued", "receivable": note_id, "amount": command.amount,
               "parties": [line.core, command.to, line.bank]})


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
    require(book is not None and maturity in book.open_maturities, "the credential is open",
            "no credential of {} maturing on {} is open", issuer, maturity)
    assert book is not None
    counts = dict(book.open_maturities)
    counts[maturity] -= 1
    if counts[maturity] == 0:
        del counts[maturity]
    save(call, IssuerBook(issuer, counts))


def _pending(
    call: Call, parties: Parties, rule: str, relation: str
) -> tuple[Receivable, Note]:
    """Return a credential one of `parties` signed for, if it is still pending acceptance."""
    command = OnCredential.parse(call)
    root = signed_credential(call, command.receivable, parties, rule, relation)
    if root.status is not ReceivableStatus.PENDING:
        fail("the credential is pending acceptance", credential_state(root))
    return root, existing_note(call, root.id)


def _receiver(root: Receivable) -> tuple[str]:
    return (root.first_holder,)


def _issuer(root: Receivable) -> tuple[str]:
    return (root.issuer,)


def _issuer_or_receiver(root: Receivable) -> tuple[str, str]:
    return (root.issuer, root.first_holder)


def accept(call: Call) -> None:
    """The receiving supplier signs for the credential (签收); it becomes effective."""
    root, note = _pending(call, _receiver, "the receiving supplier signs the acceptance",
                          "issued to")
    require(
        call.block.date.isoformat() <= root.accept_by,
        "a credential is accepted within the acceptance window",
        "the acceptance window of credential {:id} closed on {}", root.id, root.accept_by,
    )
    require(
        call.block.date.isoformat() < root.maturity_date,
        "a credential is accepted before maturity",
        "credential {:id} reached maturity on {}", root.id, root.maturity_date,
    )
    save(call, with_status(call, root, ReceivableStatus.ACTIVE))
    _open_in_book(call, root.issuer, root.maturity_date)
    save(call, evolve(note, status=NoteStatus.ACTIVE))
    call.emit({"type": "accepted", "receivable": root.id,
               "parties": [root.issuer, root.first_holder]})


def reject(call: Call) -> None:
    """The receiving supplier refuses the credential; credit and invoices are released."""
    root, note = _pending(call, _receiver, "only the receiving supplier rejects a credential",
                          "issued to")
    _cancel(call, root, note, ReceivableStatus.REJECTED)


def withdraw(call: Call) -> None:
    """The issuer takes back a credential not yet accepted."""
    root, note = _pending(call, _issuer, "only the issuer withdraws a credential", "issued by")
    _cancel(call, root, note, ReceivableStatus.WITHDRAWN)


def expire(call: Call) -> None:
    """Either party records that the acceptance window has passed unsigned."""
    root, note = _pending(call, _issuer_or_receiver, "the issuer or receiver records expiry",
                          "issued by or to")
    require(
        call.block.date.isoformat() > root.accept_by,
        "a credential expires only after its acceptance window",
        "the acceptance window of credential {:id} is open until {}", root.id, root.accept_by,
    )
    _cancel(call, root, note, ReceivableStatus.EXPIRED)


def _cancel(call: Call, root: Receivable, note: Note, status: ReceivableStatus) -> None:
    release(call, root.credit_line, root.face)
    invoices.release(call, root.issuer, root.trade["invoices"])
    save(call, with_status(call, root, status, live=()))
    save(call, evolve(note, status=NoteStatus.VOID))
    call.emit({"type": status.value, "receivable": root.id,
               "parties": [root.issuer, root.first_holder]})
