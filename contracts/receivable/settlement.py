"""Maturity payment and clearing (到期兑付/清分), partial payment and overdue (逾期).

On or after maturity the core enterprise records a payment for a credential.
Every unsettled leaf gets a clearing record naming its holder and share, and
is settled; a partial payment is shared pro rata (the leftover fen to the
earliest leaves), the unpaid rest stays as new notes, and the credential is
overdue.  Paid amounts go back to the credit line.
"""

from __future__ import annotations

from datetime import timedelta

from contracts import base
from contracts.base import exact_args, require
from contracts.receivable.credit import release
from contracts.receivable.issuance import close_in_book
from contracts.receivable.notes import credential, existing_note
from contracts.records import (
    Clearing,
    Financing,
    FinancingStatus,
    Note,
    NoteStatus,
    Receivable,
    ReceivableStatus,
    derived_id,
    evolve,
    load,
    save,
)
from contracts.registry import policy
from ledger.execution import Call
from ledger.money import allocate_pro_rata

PAYABLE = (ReceivableStatus.ACTIVE, ReceivableStatus.OVERDUE)


def pay(call: Call) -> None:
    """The core enterprise records a (full or partial) maturity payment for a credential."""
    exact_args(call, {"receivable", "amount", "payment_ref"})
    root = credential(call, base.hex_id(call.args["receivable"], "receivable"))
    call.authorise(root.issuer, "the issuing core enterprise records the payment")
    require(root.status in PAYABLE, "the credential is effective and not yet paid")
    require(
        call.block.date.isoformat() >= root.maturity_date,
        "payment is recorded on or after maturity",
    )
    paid = base.amount(call.args["amount"], "amount")
    outstanding = root.face - root.paid
    require(paid <= outstanding, "a payment does not exceed the amount outstanding")
    reference = base.text(call.args["payment_ref"], "payment_ref", max_length=64)
    leaves = [existing_note(call, note_id) for note_id in root.live]
    shares = allocate_pro_rata(paid, [leaf.amount for leaf in leaves])
    live: list[str] = []
    holders: set[str] = set()
    for index, (leaf, share) in enumerate(zip(leaves, shares, strict=True)):
        live.extend(_clear_leaf(call, root, leaf, share, index, reference))
        holders.add(leaf.holder)
    fully_paid = paid == outstanding
    status = ReceivableStatus.PAID if fully_paid else ReceivableStatus.OVERDUE
    save(call, evolve(root, paid=root.paid + paid, live=tuple(live), status=status))
    release(call, root.credit_line, paid)
    if fully_paid:
        close_in_book(call, root.issuer, root.maturity_date)
    call.emit({"type": "paid", "receivable": root.id, "amount": paid, "payment_ref": reference,
               "fully_paid": fully_paid, "parties": sorted({root.issuer, *holders})})


def _clear_leaf(
    call: Call, root: Receivable, leaf: Note, share: int, index: int, reference: str
) -> list[str]:
    """Settle `share` of one leaf; return the id of the leaf that stays live, if any."""
    if leaf.status is NoteStatus.FINANCING and leaf.financing is not None:
        _cancel_open_financing(call, leaf.financing)
        leaf = evolve(leaf, status=NoteStatus.ACTIVE, financing=None)
        if share == 0:
            save(call, leaf)
    if share == 0:
        return [leaf.id]
    clearing = Clearing(
        id=derived_id(call.tx_id, index, "clearing"), root_id=root.id, note=leaf.id,
        holder=leaf.holder, amount=share, payment_ref=reference,
        date=call.block.date.isoformat(),
    )
    save(call, clearing)
    if share == leaf.amount:
        save(call, evolve(leaf, status=NoteStatus.SETTLED, financing=None))
        return []
    rest = evolve(
        leaf, id=derived_id(call.tx_id, index), parent_id=leaf.id, amount=leaf.amount - share,
        depth=leaf.depth + 1, status=NoteStatus.ACTIVE, financing=None, created_tx=call.tx_id,
    )
    save(call, evolve(leaf, status=NoteStatus.SETTLED, financing=None))
    save(call, rest)
    return [rest.id]


def _cancel_open_financing(call: Call, financing_id: str) -> None:
    financing = load(call, Financing, financing_id)
    if financing is not None:
        save(call, evolve(financing, status=FinancingStatus.CANCELLED))


def mark_overdue(call: Call) -> None:
    """A holder, the issuer or a bank records that a credential is unpaid past grace."""
    exact_args(call, {"receivable"})
    root = credential(call, base.hex_id(call.args["receivable"], "receivable"))
    signer = call.signers[0]
    holders = {existing_note(call, n).holder for n in root.live}
    rule = "the issuer or a holder of the credential records it overdue"
    require(signer == root.issuer or signer in holders, rule)
    call.authorise(signer, rule)
    require(
        root.status is ReceivableStatus.ACTIVE, "only an effective unpaid credential goes overdue"
    )
    grace = timedelta(days=policy(call, "grace_days"))
    require(
        call.block.date > base.day(root.maturity_date, "maturity_date") + grace,
        "a credential is overdue only after maturity plus the grace period",
    )
    save(call, evolve(root, status=ReceivableStatus.OVERDUE))
    call.emit({"type": "overdue", "receivable": root.id,
               "parties": sorted({root.issuer, *holders})})
