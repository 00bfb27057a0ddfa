"""Split and transfer (拆分/流转): a holder pays its own suppliers with its note.

One transaction may pay several recipients; whatever is left stays with the
holder as a new note.  Every piece respects the policy minimum, and the split
tree's depth and fan-out stay within policy.  Frozen notes cannot move.
"""

from __future__ import annotations

from typing import NoReturn

from contracts.base import fail, require, who
from contracts.receivable.commands import Freeze, Payment, Transfer
from contracts.receivable.notes import existing_note, holder_note, spend_into
from contracts.records import Note, evolve, save
from contracts.registry import lacks, policy
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
            "note {:id} is financed and its holder {} is not a bank", note.id, note.holder,
        )
    payments = _payments(call, note, command.payments)
    paid = sum(a for _, a in payments)
    require(paid <= note.amount, "the payments do not exceed the note's amount",
            "the payments add up to {:yuan}, more than the {:yuan} of note {:id}", paid,
            note.amount, note.id)
    outputs = payments + ([(note.holder, note.amount - paid)] if paid < note.amount else [])
    _check_split_policy(call, note, outputs, kept=paid < note.amount)
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
        require(payment.to != note.holder, "a holder does not pay itself",
                "the holder {} of note {:id} is among the recipients", note.holder, note.id)
        _check_recipient(call, note, payment.to)
    return [(p.to, p.amount) for p in payments]


def _check_recipient(call: Call, note: Note, to: str) -> None:
    member = member_of(call.state, to)
    eligible = member is not None and member.is_active and (
        member.has_role(Role.SUPPLIER) or (note.financed and member.has_role(Role.BANK))
    )
    if not eligible:
        fail("each recipient is an active member with the supplier role",
             f"recipient {to} {lacks(member, Role.SUPPLIER)}")


def _check_split_policy(
    call: Call, note: Note, outputs: list[tuple[str, int]], *, kept: bool
) -> None:
    """Check the pieces against policy; `kept` says the last output is the holder's remainder."""
    minimum = policy(call, "min_split_amount")
    if len(outputs) > 1 and min(piece for _, piece in outputs) < minimum:
        _fail_small_piece(outputs, minimum, kept=kept)
    limit = policy(call, "max_children")
    require(
        len(outputs) <= limit,
        "a note splits into no more pieces than policy allows",
        "{} pieces (the remainder included) are more than the {} allowed", len(outputs), limit,
    )
    depth_limit = policy(call, "max_split_depth")
    require(
        note.depth + 1 <= depth_limit,
        "the split tree is no deeper than policy allows",
        "the pieces of note {:id} would be at depth {}, deeper than the {} allowed", note.id,
        note.depth + 1, depth_limit,
    )


def _fail_small_piece(outputs: list[tuple[str, int]], minimum: int, *, kept: bool) -> NoReturn:
    """Fail naming the first piece below `minimum` (the remainder is called so)."""
    index, piece = next((i, p) for i, (_, p) in enumerate(outputs) if p < minimum)
    what = "the remainder" if kept and index == len(outputs) - 1 else "piece"
    fail("each split piece is at least the minimum amount",
         "{} {:yuan} is below the minimum {:yuan}", what, piece, minimum)


def _freeze_authority(call: Call) -> str:
    rule = "only a designated freeze authority freezes or unfreezes a note"
    authorities = policy(call, "freeze_authorities")
    signing = [s for s in call.signers if s in authorities]
    require(signing, rule, "{:who} is not one of the freeze authorities ({})", call.signers,
            who(authorities) if authorities else "none is designated")
    for signer in signing:
        call.authorise(signer, rule)
    return signing[0]


def freeze(call: Call) -> None:
    """A designated authority (e.g. on a court order) freezes a note where it stands."""
    command = Freeze.parse(call)
    authority = _freeze_authority(call)
    note = existing_note(call, command.note)
    require(not note.frozen, "the note is not already frozen", "note {:id} is already frozen",
            note.id)
    save(call, evolve(note, frozen=True))
    call.emit({"type": "frozen", "note": note.id, "reason": command.reason,
               "parties": [authority, note.holder, note.issuer]})


def unfreeze(call: Call) -> None:
    """The designated authority lifts a freeze."""
    command = Freeze.parse(call)
    authority = _freeze_authority(call)
    note = existing_note(call, command.note)
    require(note.frozen, "the note is frozen", "note {:id} is not frozen", note.id)
    save(call, evolve(note, frozen=False))
    call.emit({"type": "unfrozen", "note": note.id, "reason": command.reason,
               "parties": [authority, note.holder, note.issuer]})
