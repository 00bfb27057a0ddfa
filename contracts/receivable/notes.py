"""Note mechanics shared by every action: lookup with the holder rules, spend, create.

Value moves only here: a note is spent and children are created whose amounts
add up to the parent's, and the credential's list of live leaves follows.

Need to know, on writes too: an action that names a note or a credential
first checks that the party entitled to act on it signed, and a record that
does not exist fails with that same rule.  So a member learns nothing from a
refusal about notes or credentials of others (whether they exist, their
status), only that it may not act on them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NoReturn

from contracts.base import fail, require, unknown_or_not
from contracts.receivable.explain import credential_state, note_state
from contracts.records import (
    Note,
    NoteStatus,
    Receivable,
    ReceivableStatus,
    derived_id,
    evolve,
    load,
    save,
)
from ledger.execution import Call


def existing_note(call: Call, note_id: str) -> Note:
    """Return the note `note_id` (an id the ledger recorded), failing if there is none."""
    note = load(call, Note, note_id)
    require(note is not None, "the note exists", "note {:id} not found", note_id)
    assert note is not None
    return note


def credential(call: Call, root_id: str) -> Receivable:
    """Return the credential `root_id` (an id the ledger recorded), failing if absent."""
    root = load(call, Receivable, root_id)
    require(root is not None, "the credential exists", "credential {:id} not found", root_id)
    assert root is not None
    return root


Parties = Callable[[Receivable], Iterable[str]]


def signed_credential(
    call: Call, root_id: str, parties: Parties, rule: str, relation: str
) -> Receivable:
    """Return credential `root_id` if one of its `parties` signed; else fail with `rule`.

    Every party of `parties(root)` that signed is authorised.  A credential
    that does not exist fails alike: "credential … is unknown, or not
    <relation> <signers>".
    """
    root = load(call, Receivable, root_id)
    signing = [] if root is None else [p for p in parties(root) if p in call.signers]
    if not signing:
        fail(rule, unknown_or_not("credential", root_id, relation, call))
    for party in signing:
        call.authorise(party, rule)
    assert root is not None  # for the type checker; fail() has raised otherwise
    return root


def held_note(call: Call, note_id: str, signing_rule: str) -> Note:
    """Return note `note_id` if its holder signed; else (or if absent) fail with `signing_rule`."""
    note = load(call, Note, note_id)
    if note is None or note.holder not in call.signers:
        fail(signing_rule, unknown_or_not("note", note_id, "held by", call))
    call.authorise(note.holder, signing_rule)
    return note


def holder_note(call: Call, note_id: str, signing_rule: str) -> tuple[Note, Receivable]:
    """Return a note its holder may act on now, with its credential.

    Enforces: only the current holder (who must sign, per `signing_rule`) acts,
    and only while the note is active: not pending acceptance, not under a
    financing request, not spent or settled, not frozen, not matured, and its
    credential not overdue.
    """
    note = held_note(call, note_id, signing_rule)
    if note.status is not NoteStatus.ACTIVE:
        _fail_inactive(note)
    require(not note.frozen, "the note is not frozen", "note {:id} is frozen", note.id)
    require(call.block.date.isoformat() < note.maturity_date, "the note has not matured",
            "note {:id} reached maturity on {}", note.id, note.maturity_date)
    root = credential(call, note.root_id)
    if root.status is ReceivableStatus.OVERDUE:
        fail("the credential is not overdue", credential_state(root))
    return note, root


def _fail_inactive(note: Note) -> NoReturn:
    """Fail with the rule an inactive note breaks, saying what state it is in."""
    if note.status is NoteStatus.PENDING:
        fail("the note is not pending acceptance", note_state(note))
    if note.status is NoteStatus.FINANCING:
        fail("the note is not under a financing request", note_state(note))
    fail("the note is active (not spent, settled or void)", note_state(note))


def spend_into(
    call: Call, parent: Note, root: Receivable, outputs: list[tuple[str, int]], *,
    financed: bool | None = None, status: NoteStatus = NoteStatus.ACTIVE,
) -> tuple[list[Note], Receivable]:
    """Spend `parent` and create one child per (holder, amount) output, in order.

    Requires the outputs to add up to the parent's amount (conservation).
    Children keep payer, currency, maturity and root, and record their parent.
    Returns the children and the updated credential (already saved).
    """
    total = sum(a for _, a in outputs)
    require(total == parent.amount,
            "the pieces add up to the note's amount (nothing created or destroyed)",
            "the pieces add up to {:yuan}, note {:id} is {:yuan}", total, parent.id,
            parent.amount)
    children = [
        Note(
            id=derived_id(call.tx_id, index),
            root_id=parent.root_id,
            parent_id=parent.id,
            holder=holder,
            amount=piece,
            currency=parent.currency,
            issuer=parent.issuer,
            maturity_date=parent.maturity_date,
            depth=parent.depth + 1,
            status=status,
            financed=parent.financed if financed is None else financed,
            created_tx=call.tx_id,
        )
        for index, (holder, piece) in enumerate(outputs)
    ]
    save(call, evolve(parent, status=NoteStatus.SPENT))
    for child in children:
        save(call, child)
    live = [n for n in root.live if n != parent.id] + [c.id for c in children]
    updated = evolve(root, live=tuple(live))
    save(call, updated)
    return children, updated
