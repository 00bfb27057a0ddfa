"""Financing (融资: discount 贴现 / factoring 保理): a bank buys a holder's note.

The holder asks a bank; the bank answers with terms priced ACT/360 from the
funding date (inclusive) to maturity (exclusive), half-up to the fen; on the
holder's agreement the note passes to the bank, which later confirms the
disbursement with its payment reference.  A note is financed only once, and a
credential with a long tenor needs the bank's explicit review flag.
"""

from __future__ import annotations

from dataclasses import asdict

from contracts import base
from contracts.base import exact_args, require
from contracts.receivable.notes import credential, existing_note, holder_note, spend_into
from contracts.records import (
    Financing,
    FinancingStatus,
    NoteStatus,
    derived_id,
    evolve,
    load,
    save,
)
from contracts.registry import active_member
from ledger.execution import Call
from ledger.membership import Role
from ledger.money import price_financing

OFFER_ARGS = {"financing", "annual_rate", "funding_date", "fees", "fee_payer", "recourse"}
OPTIONAL_OFFER_ARGS = frozenset({"registry_no", "tenor_reviewed"})


def request_financing(call: Call) -> None:
    """The holder asks a bank to finance one note; the note is held for the request."""
    exact_args(call, {"note", "bank"})
    note, _ = holder_note(
        call, base.hex_id(call.args["note"], "note"), "the holder signs the financing request"
    )
    require(not note.financed, "a note is financed only once")
    bank = base.uscc(call.args["bank"], "bank")
    active_member(call, bank, Role.BANK, "the financier has the bank role")
    financing = Financing(
        id=derived_id(call.tx_id, 0, "financing"),
        note=note.id,
        seller=note.holder,
        bank=bank,
        status=FinancingStatus.REQUESTED,
    )
    save(call, financing)
    save(call, evolve(note, status=NoteStatus.FINANCING, financing=financing.id))
    call.emit({"type": "financing_requested", "financing": financing.id, "note": note.id,
               "parties": [note.holder, bank]})


def _financing(call: Call) -> Financing:
    record = load(call, Financing, base.hex_id(call.args["financing"], "financing"))
    require(record is not None, "the financing request exists")
    assert record is not None
    return record


def offer_terms(call: Call) -> None:
    """The bank answers a request with priced terms (it may revise them until accepted)."""
    exact_args(call, OFFER_ARGS, OPTIONAL_OFFER_ARGS)
    financing = _financing(call)
    call.authorise(financing.bank, "the bank asked signs the terms")
    require(
        financing.status in (FinancingStatus.REQUESTED, FinancingStatus.OFFERED),
        "terms are offered only on an open request",
    )
    note = existing_note(call, financing.note)
    require(not note.frozen, "the note is not frozen")
    root = credential(call, note.root_id)
    reviewed = base.flag(call.args.get("tenor_reviewed", False), "tenor_reviewed")
    require(
        not root.long_tenor or reviewed,
        "a long-tenor credential needs the bank's review flag before financing",
    )
    funding = base.day(call.args["funding_date"], "funding_date")
    maturity = base.day(note.maturity_date, "maturity_date")
    require(call.block.date <= funding < maturity, "funding falls between today and maturity")
    pricing = price_financing(
        face=note.amount,
        annual_rate=base.text(call.args["annual_rate"], "annual_rate", max_length=16),
        funding=funding,
        maturity=maturity,
        fees=base.fen_or_zero(call.args["fees"], "fees"),
        fee_payer=base.text(call.args["fee_payer"], "fee_payer", max_length=8),
    )
    require(pricing.net_proceeds > 0, "the seller receives a positive net amount")
    terms = {
        **asdict(pricing),
        "funding_date": funding.isoformat(),
        "recourse": base.flag(call.args["recourse"], "recourse"),
        "registry_no": _registry_no(call),
        "tenor_reviewed": reviewed,
    }
    save(call, evolve(financing, status=FinancingStatus.OFFERED, terms=terms))
    call.emit({"type": "financing_offered", "financing": financing.id, "terms": terms,
               "parties": [financing.seller, financing.bank]})


def _registry_no(call: Call) -> str | None:
    value = call.args.get("registry_no")
    return None if value is None else base.text(value, "registry_no", max_length=64)


def accept_terms(call: Call) -> None:
    """The seller agrees; its note passes to the bank, marked financed."""
    exact_args(call, {"financing"})
    financing = _financing(call)
    call.authorise(financing.seller, "the seller signs its acceptance of the terms")
    require(financing.status is FinancingStatus.OFFERED, "the bank has offered terms")
    assert financing.terms is not None
    require(
        call.block.date.isoformat() <= financing.terms["funding_date"],
        "terms are accepted no later than their funding date",
    )
    note = existing_note(call, financing.note)
    require(not note.frozen, "the note is not frozen")
    root = credential(call, note.root_id)
    active = evolve(note, status=NoteStatus.ACTIVE, financing=None)
    children, _ = spend_into(call, active, root, [(financing.bank, note.amount)], financed=True)
    save(call, evolve(financing, status=FinancingStatus.ACCEPTED, bank_note=children[0].id))
    call.emit({"type": "financed", "financing": financing.id, "note": note.id,
               "bank_note": children[0].id, "net_proceeds": financing.terms["net_proceeds"],
               "parties": [financing.seller, financing.bank, note.issuer]})


def cancel_financing(call: Call) -> None:
    """Either side withdraws from a request not yet accepted; the note is free again."""
    exact_args(call, {"financing"})
    financing = _financing(call)
    signer = call.signers[0]
    rule = "the seller or the bank cancels a financing request"
    require(signer in (financing.seller, financing.bank), rule)
    call.authorise(signer, rule)
    require(
        financing.status in (FinancingStatus.REQUESTED, FinancingStatus.OFFERED),
        "only an open financing request is cancelled",
    )
    note = existing_note(call, financing.note)
    save(call, evolve(note, status=NoteStatus.ACTIVE, financing=None))
    save(call, evolve(financing, status=FinancingStatus.CANCELLED))
    call.emit({"type": "financing_cancelled", "financing": financing.id,
               "parties": [financing.seller, financing.bank]})


def confirm_disbursement(call: Call) -> None:
    """The bank confirms it paid the seller, with its payment reference."""
    exact_args(call, {"financing", "payment_ref"})
    financing = _financing(call)
    call.authorise(financing.bank, "the financing bank confirms the disbursement")
    require(financing.status is FinancingStatus.ACCEPTED, "the seller has accepted the terms")
    reference = base.text(call.args["payment_ref"], "payment_ref", max_length=64)
    save(call, evolve(financing, status=FinancingStatus.DISBURSED, payment_ref=reference))
    call.emit({"type": "disbursed", "financing": financing.id, "payment_ref": reference,
               "parties": [financing.seller, financing.bank]})
