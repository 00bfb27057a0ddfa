"""Financing (融资: discount 贴现 / factoring 保理): a bank buys a holder's note.

The holder asks a bank; the bank answers with terms priced ACT/360 from the
funding date (inclusive) to maturity (exclusive), half-up to the fen, at a
yearly rate in percent no higher than the policy allows; on the holder's
agreement the note passes to the bank, which later confirms the disbursement
with its payment reference.  A note is financed only once, and a credential
with a long tenor needs the bank's explicit review flag.

The seller agrees to exact terms: every offer is recorded with the SHA-256 of
its canonical terms, and the acceptance names that hash.  A bank that revises
its terms (even in the same block, just before the acceptance) makes every
acceptance of the earlier terms fail.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from decimal import Decimal
from typing import Any

from contracts.base import fail, require, unknown_or_not
from contracts.receivable.commands import (
    AcceptTerms,
    ConfirmDisbursement,
    OfferTerms,
    OnFinancing,
    RequestFinancing,
)
from contracts.receivable.explain import financing_state
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
from contracts.registry import active_member, policy
from ledger.canonical import canonical_bytes
from ledger.crypto import sha256_hex
from ledger.execution import Call
from ledger.membership import Role
from ledger.money import parse_percent, percent_in_basis_points, price_financing
from ledger.timefmt import parse_date

OPEN = (FinancingStatus.REQUESTED, FinancingStatus.OFFERED)


def request_financing(call: Call) -> None:
    """The holder asks a bank to finance one note; the note is held for the request."""
    command = RequestFinancing.parse(call)
    note, _ = holder_note(call, command.note, "the holder signs the financing request")
    require(not note.financed, "a note is financed only once", "note {:id} is already financed",
            note.id)
    active_member(call, command.bank, Role.BANK, "the financier has the bank role",
                  "the financier")
    financing = Financing(
        id=derived_id(call.tx_id, 0, "financing"),
        note=note.id,
        seller=note.holder,
        bank=command.bank,
        status=FinancingStatus.REQUESTED,
    )
    save(call, financing)
    save(call, evolve(note, status=NoteStatus.FINANCING, financing=financing.id))
    call.emit({"type": "financing_requested", "financing": financing.id, "note": note.id,
               "parties": [note.holder, command.bank]})


_RELATION = {("bank",): "addressed to", ("seller",): "requested by",
             ("seller", "bank"): "requested by or addressed to"}


def _signed_financing(call: Call, financing_id: str, parties: tuple[str, ...],
                      rule: str) -> Financing:
    """Return the financing request if its `parties` ('seller', 'bank') include a signer.

    A request that does not exist fails with the same `rule` and words.
    """
    record = load(call, Financing, financing_id)
    signing = [] if record is None else [
        who for who in (getattr(record, p) for p in parties) if who in call.signers]
    if not signing:
        fail(rule, unknown_or_not("financing request", financing_id, _RELATION[parties], call))
    for who in signing:
        call.authorise(who, rule)
    assert record is not None  # for the type checker; fail() has raised otherwise
    return record


def _require_status(financing: Financing, allowed: tuple[FinancingStatus, ...],
                    rule: str) -> None:
    """Fail with `rule`, saying what state the request is in, unless it is in `allowed`."""
    if financing.status not in allowed:
        fail(rule, financing_state(financing))


def offer_terms(call: Call) -> None:
    """The bank answers a request with priced terms (it may revise them until accepted)."""
    command = OfferTerms.parse(call)
    financing = _signed_financing(call, command.financing, ("bank",),
                                  "the bank asked signs the terms")
    _require_status(financing, OPEN, "terms are offered only on an open request")
    note = existing_note(call, financing.note)
    require(not note.frozen, "the note is not frozen", "note {:id} is frozen", note.id)
    root = credential(call, note.root_id)
    require(
        not root.long_tenor or command.tenor_reviewed,
        "a long-tenor credential needs the bank's review flag before financing",
        "credential {:id} runs from {} to {} and the terms lack tenor_reviewed", root.id,
        root.issue_date, root.maturity_date,
    )
    maturity = parse_date(note.maturity_date, what="maturity_date")
    funding = "funding falls between today and maturity"
    require(call.block.date <= command.funding_date, funding,
            "funding date {} is before today, {}", command.funding_date, call.block.date)
    require(command.funding_date < maturity, funding,
            "funding date {} is not before maturity, {}", command.funding_date, maturity)
    _check_rate(call, command.annual_rate_percent)
    terms = priced_terms(command, face=note.amount, maturity=maturity)
    require(terms["net_proceeds"] > 0, "the seller receives a positive net amount",
            "net proceeds would be {:yuan}: face {:yuan} less interest {:yuan} and fees "
            "{:yuan}", terms["net_proceeds"], terms["face"], terms["interest"],
            terms["seller_fees"])
    digest = terms_hash(terms)
    save(call, evolve(financing, status=FinancingStatus.OFFERED, terms=terms, terms_hash=digest))
    call.emit({"type": "financing_offered", "financing": financing.id, "terms": terms,
               "terms_hash": digest, "parties": [financing.seller, financing.bank]})


def _check_rate(call: Call, annual_rate_percent: str) -> None:
    ceiling = policy(call, "max_annual_rate_bp")
    rate_bp = percent_in_basis_points(parse_percent(annual_rate_percent))
    if rate_bp > ceiling:
        fail(f"the annual rate is at most {Decimal(ceiling) / 100:.2f} % (policy)",
             "the terms offer {} % a year", annual_rate_percent)


def priced_terms(offer: OfferTerms, *, face: int, maturity: date) -> dict[str, Any]:
    """Return the terms `offer` records for a note of `face` fen maturing on `maturity`.

    Pure, so a party that knows the note can compute the terms (and their
    hash) it is about to offer or accept without asking a node.
    """
    pricing = price_financing(
        face=face, annual_rate_percent=offer.annual_rate_percent, funding=offer.funding_date,
        maturity=maturity, fees=offer.fees, fee_payer=offer.fee_payer,
    )
    return {
        **asdict(pricing),
        "funding_date": offer.funding_date.isoformat(),
        "recourse": offer.recourse,
        "registry_no": offer.registry_no,
        "tenor_reviewed": offer.tenor_reviewed,
    }


def terms_hash(terms: dict[str, Any]) -> str:
    """Return the SHA-256 (hex) of offered terms' canonical JSON: what an acceptance names."""
    return sha256_hex(canonical_bytes(terms))


def accept_terms(call: Call) -> None:
    """The seller agrees to the exact terms it names; its note passes to the bank."""
    command = AcceptTerms.parse(call)
    financing = _signed_financing(call, command.financing, ("seller",),
                                  "the seller signs its acceptance of the terms")
    _require_status(financing, (FinancingStatus.OFFERED,), "the bank has offered terms")
    assert financing.terms is not None
    require(command.terms_hash == financing.terms_hash,
            "the seller accepts exactly the terms on offer (the bank has changed them)",
            "terms_hash {:id} is not that of the terms on offer, {:id}", command.terms_hash,
            financing.terms_hash)
    require(
        call.block.date.isoformat() <= financing.terms["funding_date"],
        "terms are accepted no later than their funding date",
        "the terms' funding date {} has passed (today is {})", financing.terms["funding_date"],
        call.block.date,
    )
    note = existing_note(call, financing.note)
    require(not note.frozen, "the note is not frozen", "note {:id} is frozen", note.id)
    root = credential(call, note.root_id)
    active = evolve(note, status=NoteStatus.ACTIVE, financing=None)
    children, _ = spend_into(call, active, root, [(financing.bank, note.amount)], financed=True)
    save(call, evolve(financing, status=FinancingStatus.ACCEPTED, bank_note=children[0].id))
    call.emit({"type": "financed", "financing": financing.id, "note": note.id,
               "bank_note": children[0].id, "net_proceeds": financing.terms["net_proceeds"],
               "terms_hash": command.terms_hash,
               "parties": [financing.seller, financing.bank, note.issuer]})


def cancel_financing(call: Call) -> None:
    """Either side withdraws from a request not yet accepted; the note is free again."""
    command = OnFinancing.parse(call)
    financing = _signed_financing(call, command.financing, ("seller", "bank"),
                                  "the seller or the bank cancels a financing request")
    _require_status(financing, OPEN, "only an open financing request is cancelled")
    note = existing_note(call, financing.note)
    save(call, evolve(note, status=NoteStatus.ACTIVE, financing=None))
    save(call, evolve(financing, status=FinancingStatus.CANCELLED))
    call.emit({"type": "financing_cancelled", "financing": financing.id,
               "parties": [financing.seller, financing.bank]})


def confirm_disbursement(call: Call) -> None:
    """The bank confirms it paid the seller, with its payment reference."""
    command = ConfirmDisbursement.parse(call)
    financing = _signed_financing(call, command.financing, ("bank",),
                                  "the financing bank confirms the disbursement")
    _require_status(financing, (FinancingStatus.ACCEPTED,), "the seller has accepted the terms")
    save(call, evolve(financing, status=FinancingStatus.DISBURSED,
                      payment_ref=command.payment_ref))
    call.emit({"type": "disbursed", "financing": financing.id,
               "payment_ref": command.payment_ref,
               "parties": [financing.seller, financing.bank]})
