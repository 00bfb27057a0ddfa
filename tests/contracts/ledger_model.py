"""A plain in-memory model of credentials, notes and financings for the stateful test.

The model knows the policy in force and predicts, for each action, the rule
text the contracts must refuse it with (checked in the contracts' order), or
None when the action must succeed.  Organisations are named as in
`tests.builders.make_orgs` ("core", "s1", "b1", ...).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TypeVar

from tests.contracts.support import AUDITOR

T = TypeVar("T")
Check = tuple[Callable[[], bool], str]

SUPPLIERS = ("s1", "s2", "s3", "s4")
BANKS = ("b1", "b2")
MIN_PIECE, MAX_CHILDREN, MAX_DEPTH, GRACE, ACCEPT_DAYS, REVIEW_DAYS = 10_000, 3, 4, 3, 7, 183
POLICIES = {
    "min_split_amount": MIN_PIECE, "max_children": MAX_CHILDREN, "max_split_depth": MAX_DEPTH,
    "grace_days": GRACE, "acceptance_days": ACCEPT_DAYS, "review_tenor_days": REVIEW_DAYS,
    "block_issuance_when_overdue": True, "freeze_authorities": [AUDITOR],
}
LIMIT = 1_000_000_000
LINE_EXPIRY = date(2027, 6, 30)
INVOICE_AMOUNT = 150_000_000
OPEN = ("pending", "active", "overdue")  # draw on the credit line, open in the issuer's book
LIVE = ("pending", "active", "financing")
OVERDUE_RULE = "a core enterprise with overdue credentials issues no new ones until they are paid"
INVOICE_RULES = ("an invoice's amount is the same in every use",
                 "an invoice is never used beyond its amount (no double financing)")


def first_failure(checks: Sequence[Check]) -> str | None:
    """Return the rule of the first check that fails, in contract order, or None."""
    return next((rule for holds, rule in checks if not holds()), None)


def choose(items: Sequence[T], pick: int, preferred: Sequence[T] = (), focus: bool = False) -> T:
    """Pick an item from a drawn integer, from `preferred` when focused and there are any."""
    pool = preferred if focus and preferred else items
    return pool[pick % len(pool)]


def pro_rata(payment: int, amounts: list[int]) -> list[int]:
    """The documented clearing rule: floor shares, leftover fen to the earliest leaves."""
    total = sum(amounts)
    shares = [payment * a // total for a in amounts]
    for i in range(payment - sum(shares)):
        shares[i] += 1
    return shares


@dataclass
class MNote:
    """A note as the model sees it."""

    id: str
    root: str
    holder: str
    amount: int
    status: str
    depth: int
    financed: bool = False
    financing: str | None = None
    frozen: bool = False


@dataclass
class MRoot:
    """A credential as the model sees it; `invoice` is (receiver, invoice index)."""

    id: str
    receiver: str
    face: int
    maturity: date
    accept_by: date
    long_tenor: bool
    live: list[str]
    invoice: tuple[str, int]
    status: str = "pending"
    paid: int = 0


@dataclass
class MFin:
    """A financing request as the model sees it."""

    id: str
    note: str
    seller: str
    bank: str
    status: str = "requested"
    funding: date | None = None


@dataclass
class Model:
    """Everything the chain should hold, and the rules predicting what it accepts."""

    roots: dict[str, MRoot] = field(default_factory=dict)
    notes: dict[str, MNote] = field(default_factory=dict)
    fins: dict[str, MFin] = field(default_factory=dict)
    invoices: dict[tuple[str, int], list[int]] = field(default_factory=dict)  # [amount, alloc]

    def used(self) -> int:
        """Credit drawn: the outstanding amount of every open credential."""
        return sum(r.face - r.paid for r in self.roots.values() if r.status in OPEN)

    def spend(self, parent: MNote, children: list[MNote]) -> None:
        """Spend `parent` into `children`; the children join the end of the live list."""
        parent.status = "spent"
        root = self.roots[parent.root]
        root.live = [n for n in root.live if n != parent.id] + [c.id for c in children]
        self.notes.update((c.id, c) for c in children)

    def overdue_past_grace(self, today: date, statuses: tuple[str, ...]) -> bool:
        """Whether some credential in `statuses` is past maturity plus grace."""
        return any(r.status in statuses and r.maturity + timedelta(days=GRACE) < today
                   for r in self.roots.values())

    def holder_failure(self, note: MNote, signer: str, signing_rule: str,
                       today: date) -> str | None:
        """The rules for a holder acting on its note (contracts/receivable/notes.py)."""
        root = self.roots[note.root]
        return first_failure([
            (lambda: signer == note.holder, signing_rule),
            (lambda: note.status != "pending", "the note is not pending acceptance"),
            (lambda: note.status != "financing", "the note is not under a financing request"),
            (lambda: note.status == "active", "the note is active (not spent, settled or void)"),
            (lambda: not note.frozen, "the note is not frozen"),
            (lambda: today < root.maturity, "the note has not matured"),
            (lambda: root.status != "overdue", "the credential is not overdue"),
        ])

    @staticmethod
    def payments_failure(note: MNote, pays: list[tuple[str, int]]) -> str | None:
        """The rules on who may be paid, and how much, from `note`."""
        if note.financed and note.holder not in BANKS:
            return "a financed note moves only by the bank that holds it"
        for to, _ in pays:
            if to == note.holder:
                return "a holder does not pay itself"
            if not (to in SUPPLIERS or (note.financed and to in BANKS)):
                return "each recipient is an active member with the supplier role"
        if sum(a for _, a in pays) > note.amount:
            return "the payments do not exceed the note's amount"
        return None

    @staticmethod
    def split_failure(note: MNote, pays: list[tuple[str, int]]) -> str | None:
        """The split policy: minimum piece, number of pieces, depth."""
        left = note.amount - sum(a for _, a in pays)
        pieces = [a for _, a in pays] + ([left] if left else [])
        return first_failure([
            (lambda: len(pieces) == 1 or min(pieces) >= MIN_PIECE,
             "each split piece is at least the minimum amount"),
            (lambda: len(pieces) <= MAX_CHILDREN,
             "a note splits into no more pieces than policy allows"),
            (lambda: note.depth + 1 <= MAX_DEPTH, "the split tree is no deeper than policy allows"),
        ])
