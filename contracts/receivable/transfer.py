"""Split and transfer (拆分/流转): a holder pays its own suppliers with its note.

One transaction may pay several recipients; whatever is left stays with the
holder as a new note.  Every piece respects the policy minimum, and the split
tree's depth and fan-out stay within policy.  Frozen notes cannot move.
"""

from __future__ import annotations

from contracts.base import require
from contracts.receivable.commands import Freeze, Payment, Transfer
from contracts.receivable.notes import existing_note, holder_note, spend_into
from contracts.records import Note, evolve, save
from contracts.registry import policy
from ledger.execution import Call, member_of
from ledger.membership import Role


def transfer(call: Call) -> None:
    """The holder pays one or more recipients from a note, keeping the remainder."""
    command = Transfer.parse(call)
    note, root = holder_note(call, command.note, "the holder signs the transfer")
    if note.financed:
        holder = member_of(call.state, note.holder)
        require(
            holder is not None and holder.has_role(Role.BANK),
            "a financed note moves only by the bank that holds it",
        )
    payments = _payments(call, note, command.payments)
    paid = sum(a for _, a in payments)
    require(paid <= note.amount, "the payments do not exceed the note's amount")
    outputs = payments + ([(note.holder, note.amount - paid)] if paid < note.amount else [])
    _check_split_policy(call, note, outputs)
    children, _ = spend_into(call, note, root, outputs)
    call.emit({
        "type": "transferred",
        "note": note.id,
        "receivable": note.root_id,
        "from": note.holder,
        "outputs": [{"note": c.id, "holder": c.holder, "amount": c.amount} for c in children],
        "parties": sorted({note.holder, note.issuer, *(c.holder for c in children)}),
    })


def _payments(
    call: Call, note: Note, payments: tuple[Payment, ...]
) -> list[tuple[str, int]]:
    for payment in payments:
        require(payment.to != note.holder, "a holder does not pay itself")
        _check_recipient(call, note, payment.to)
    return [(p.to, p.amount) for p in payments]


def _check_recipient(call: Call, note: Note, to: str) -> None:
    member = member_of(call.state, to)
    eligible = member is not None and member.is_active and (
        member.has_role(Role.SUPPLIER) or (note.financed and member.has_role(Role.BANK))
    )
    require(eligible, "each recipient is an active member with the supplier role")


def _check_split_policy(call: Call, note: Note, outputs: list[tuple[str, int]]) -> None:
    minimum = policy(call, "min_split_amount")
    if len(outputs) > 1:
        require(
            all(piece >= minimum for _, piece in outputs),
            "each split piece is at least the minimum amount",
        )
    require(
        len(outputs) <= policy(call, "max_children"),
        "a note splits into no more pieces than policy allows",
    )
    require(
        note.depth + 1 <= policy(call, "max_split_depth"),
        "the split tree is no deeper than policy allows",
    )


def _freeze_authority(call: Call) -> str:
    rule = "only a designated freeze authority freezes or unfreezes a note"
    authorities = policy(call, "freeze_authorities")
    signing = [s for s in call.signers if s in authorities]
    require(signing, rule)
    for signer in signing:
        call.authorise(signer, rule)
    return signing[0]


def freeze(call: Call) -> None:
    """A designated authority (e.g. on a court order) freezes a note where it stands."""
    command = Freeze.parse(call)
    authority = _freeze_authority(call)
    note = existing_note(call, command.note)
    require(not note.frozen, "the note is not already frozen")
    save(call, evolve(note, frozen=True))
    call.emit({"type": "frozen", "note": note.id, "reason": command.reason,
               "parties": [authority, note.holder, note.issuer]})


def unfreeze(call: Call) -> None:
    """The designated authority lifts a freeze."""
    command = Freeze.parse(call)
    authority = _freeze_authority(call)
    note = existing_note(call, command.note)
    require(note.frozen, "the note is frozen")
    save(call, evolve(note, frozen=False))
    call.emit({"type": "unfrozen", "note": note.id, "reason": command.reason,
               "parties": [authority, note.holder, note.issuer]})
