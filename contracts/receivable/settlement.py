"""Maturity payment and clearing (到期兑付/清分), partial payment and overdue (逾期).

On or after maturity the core enterprise records a payment for a credential.
Every unsettled leaf gets a clearing record naming its holder and share, and
is settled; a partial payment is shared pro rata (the leftover fen to the
earliest leaves), the unpaid rest stays as new notes, and the credential is
overdue.  Paid amounts go back to the credit line.
"""

from __future__ import annotations

from datetime import timedelta

from contracts.base import fail, require
from contracts.receivable.commands import OnCredential, Pay
from contracts.receivable.credit import release
from contracts.receivable.explain import credential_state
from contracts.receivable.issuance import close_in_book
from contracts.receivable.notes import existing_note, signed_credential
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
    with_status,
)
from contracts.registry import policy
from ledger.execution import Call
from ledger.money import allocate_pro_rata
from ledger.timefmt import parse_date

PAYABLE = (ReceivableStatus.ACTIVE, ReceivableStatus.OVERDUE)


def pay(call: Call) -> None:
    """The core enterprise records a (full or partial) maturity payment for a credential."""
    command = Pay.parse(call)
    root = signed_credential(call, command.receivable, lambda r: (r.issuer,),
                             "the issuing core enterprise records the payment", "issued by")
    if root.status not in PAYABLE:
        fail("the credential is effective and not yet paid", credential_state(root))
    require(
        call.block.date.isoformat() >= root.maturity_date,
        "payment is recorded on or after maturity",
        "credential {:id} matures on {}", root.id, root.maturity_date,
    )
    paid, reference = command.amount, command.payment_ref
    outstanding = root.face - root.paid
    require(paid <= outstanding, "a payment does not exceed the amount outstanding",
            "payment {:yuan} is more than the {:yuan} outstanding on credential {:id}", paid,
            outstanding, root.id)
    leaves = [existing_note(call, note_id) for note_id in root.live]
    shares = allocate_pro_rata(paid, [leaf.amount for leaf in leaves])
    live: list[str] = []
    holders: set[str] = set()
    for index, (leaf, share) in enumerate(zip(leaves, shares, strict=True)):
        live.extend(_clear_leaf(call, root, leaf, share, index, reference))
        holders.add(leaf.holder)
    fully_paid = paid == outstanding
    status = ReceivableStatus.PAID if fully_paid else ReceivableStatus.OVERDUE
    save(call, with_status(call, root, status, paid=root.paid + paid, live=tuple(live)))
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
    command = OnCredential.parse(call)
    holders = _live_holders(call, command.receivable)
    root = signed_credential(call, command.receivable, lambda r: (r.issuer, *sorted(holders)),
                             "the issuer or a holder of the credential records it overdue",
                             "issued by or held by")
    if root.status is not ReceivableStatus.ACTIVE:
        fail("only an effective unpaid credential goes overdue", credential_state(root))
    grace_days = policy(call, "grace_days")
    grace_ends = parse_date(root.maturity_date, what="maturity_date") + timedelta(days=grace_days)
    require(
        call.block.date > grace_ends,
        "a credential is overdue only after maturity plus the grace period",
        "the grace period of credential {:id} runs until {} (maturity {}, {} days' grace)",
        root.id, grace_ends, root.maturity_date, grace_days,
    )
    save(call, with_status(call, root, ReceivableStatus.OVERDUE))
    call.emit({"type": "overdue", "receivable": root.id,
               "parties": sorted({root.issuer, *holders})})



def _live_holders(call: Call, root_id: str) -> set[str]:
    """Return the holders of credential `root_id`'s live notes (none if it does not exist)."""
    root = load(call, Receivable, root_id)
    return set() if root is None else {existing_note(call, n).holder for n in root.live}
