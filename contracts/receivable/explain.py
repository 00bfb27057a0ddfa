"""How a refusal describes the records it found, in the words a user reads.

A rule that fails on a record's state says which record and what state it
is in ("credential 602c4e1a… is already accepted (on 2026-01-05)"), so the
user sees at once what went wrong.  These phrases are used only once the
signer has shown it may act on the record: a refusal before that says the
same whether the record exists or not (`contracts.base.unknown_or_not`).
"""

from __future__ import annotations

from collections.abc import Mapping

from contracts.records import (
    Financing,
    FinancingStatus,
    Note,
    NoteStatus,
    Receivable,
    ReceivableStatus,
)
from ledger.errors import short_id

_CREDENTIAL: Mapping[ReceivableStatus, tuple[str, str]] = {
    ReceivableStatus.PENDING: ("is pending acceptance", "since"),
    ReceivableStatus.ACTIVE: ("is already accepted", "on"),
    ReceivableStatus.REJECTED: ("is rejected", "on"),
    ReceivableStatus.WITHDRAWN: ("is withdrawn", "on"),
    ReceivableStatus.EXPIRED: ("is expired", "on"),
    ReceivableStatus.PAID: ("is paid", "on"),
    ReceivableStatus.OVERDUE: ("is overdue", "since"),
}

_NOTE: Mapping[NoteStatus, str] = {
    NoteStatus.PENDING: "is pending acceptance",
    NoteStatus.ACTIVE: "is active",
    NoteStatus.FINANCING: "is under a financing request",
    NoteStatus.SPENT: "is spent",
    NoteStatus.SETTLED: "is settled",
    NoteStatus.VOID: "is void",
}

_FINANCING: Mapping[FinancingStatus, str] = {
    FinancingStatus.REQUESTED: "awaits the bank's terms",
    FinancingStatus.OFFERED: "has terms on offer, not yet accepted",
    FinancingStatus.ACCEPTED: "is already accepted",
    FinancingStatus.DISBURSED: "is already disbursed",
    FinancingStatus.CANCELLED: "is cancelled",
}


def credential_state(root: Receivable) -> str:
    """Return "credential 602c4e1a… is already accepted (on 2026-01-05)" and the like."""
    phrase, preposition = _CREDENTIAL[root.status]
    when = "" if root.status_date is None else f" ({preposition} {root.status_date})"
    return f"credential {short_id(root.id)} {phrase}{when}"


def note_state(note: Note) -> str:
    """Return "note 1a2b3c4d… is spent" and the like (naming its financing request, if any)."""
    phrase = _NOTE[note.status]
    if note.status is NoteStatus.FINANCING and note.financing is not None:
        phrase = f"is under financing request {short_id(note.financing)}"
    return f"note {short_id(note.id)} {phrase}"


def financing_state(financing: Financing) -> str:
    """Return "financing request 1a2b3c4d… is cancelled" and the like."""
    return f"financing request {short_id(financing.id)} {_FINANCING[financing.status]}"
