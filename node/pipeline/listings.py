"""Lists of credentials, financings and credit lines, and ids resolved from a prefix.

What a member works through is its own: credentials it issued or holds
(held), the financings and credit lines it is a party to; auditors list
everything.  The lists come from the records index (node/storage/
records_index.py) and every item is served as the single-record reads
serve it (node/pipeline/holdings.py).  A short id is resolved only to ids
the caller could read, so a prefix tells nobody that an id it may not see
exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from contracts.records import FinancingStatus
from ledger.membership import Member
from node.clock import Clock
from node.pipeline.holdings import Holdings, Record, Refused, credential_as_seen, is_auditor
from node.storage.records_index import Parties, RecordFilter
from node.storage.store import Store

ID_KINDS = ("note", "receivable", "financing", "credit_line", "tx")
MATCHES_PER_KIND = 20
SCANNED_PER_KIND = 200  # ids read per kind before the invisible ones are dropped
OPEN, EXPIRED = "open", "expired"  # a credit line's status, by its expiry and today
RECORD_STATUSES = {"financing": tuple(s.value for s in FinancingStatus),
                   "credit_line": (OPEN, EXPIRED)}


@dataclass(frozen=True)
class Bounds:
    """What a list is narrowed to besides its parties (dates inclusive, ISO)."""

    status: str | None = None
    counterparty: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    limit: int = 1000


class Listings:
    """Lists and id resolution, as one member may see them."""

    def __init__(self, holdings: Holdings, store: Store, clock: Clock) -> None:
        self._holdings = holdings
        self._store = store
        self._clock = clock

    def receivables(self, viewer: Member, role: str | None, bounds: Bounds) -> list[Record]:
        """List credentials by maturity then id: issued by the viewer and/or held by it.

        `role` is issued, held or None (both).  A counterparty is the first
        holder of what the viewer issued, the issuer of what it holds.  An
        auditor lists every credential; with a counterparty, those it issued
        (role issued), holds or held (role held), or either issued or first
        received (no role).
        """
        flt = RecordFilter("receivable", _receivable_parties(viewer, role, bounds.counterparty),
                           _statuses(bounds.status), bounds.date_from, bounds.date_to,
                           bounds.limit)
        found = [self._holdings.stored("receivable", row.id)
                 for row in self._store.records_where(flt)]
        return [credential_as_seen(viewer, r) for r in found if r is not None]

    def records(self, viewer: Member, kind: str, bounds: Bounds) -> list[Record]:
        """List the financings or credit lines the viewer is a party to (auditors: all).

        Ordered by date (a financing's note maturity, a credit line's
        expiry), then id.  A credit line's status is `open` or `expired`
        as of the node's date; each financing carries its `note`.
        """
        date_from, date_to, statuses = bounds.date_from, bounds.date_to, _statuses(bounds.status)
        if bounds.status is not None and bounds.status not in RECORD_STATUSES[kind]:
            raise Refused("bad_request", f"status: a {kind} is never {bounds.status!r} "
                                         f"(one of {', '.join(RECORD_STATUSES[kind])})")
        if kind == "credit_line" and bounds.status is not None:
            date_from, date_to = _expiry_bounds(bounds.status, self._today(), date_from, date_to)
            statuses = ()
        flt = RecordFilter(kind, _either_party(viewer, bounds.counterparty), statuses,
                           date_from, date_to, bounds.limit)
        found = [self._holdings.stored(kind, row.id) for row in self._store.records_where(flt)]
        records = [r for r in found if r is not None]
        return [self.with_note(viewer, r) for r in records] if kind == "financing" else records

    def with_note(self, viewer: Member, financing: Record) -> Record:
        """Return a financing with its `note` record, or None where `viewer` may not see it.

        The seller held the note and the bank asked sees it (the single
        note read); once the bank bought it, the note is its own note's
        parent, which that note's lineage shows it too.
        """
        note = self._holdings.note(viewer, financing["note"])
        if note is None and financing.get("bank_note") and viewer.uscc == financing["bank"]:
            note = self._holdings.stored("note", financing["note"])
        return {**financing, "note": note}

    def _today(self) -> date:
        return self._clock.now().date()

    def resolve(self, viewer: Member, prefix: str, kinds: Sequence[str]) -> list[dict[str, str]]:
        """Return the ids of `kinds` (all when empty) starting with `prefix` that `viewer` sees.

        At most MATCHES_PER_KIND per kind, by kind then id; `prefix` is
        lower-case hex.
        """
        matches = []
        for kind in (k for k in ID_KINDS if not kinds or k in kinds):
            seen = [i for i in self._store.ids_with_prefix(kind, prefix, SCANNED_PER_KIND)
                    if self._visible(viewer, kind, i)]
            matches += [{"kind": kind, "id": i} for i in seen[:MATCHES_PER_KIND]]
        return matches

    def _visible(self, viewer: Member, kind: str, record_id: str) -> bool:
        """Return whether the single-record read of `kind` would show `record_id` to `viewer`."""
        if kind == "note":
            return self._holdings.note(viewer, record_id) is not None
        if kind == "receivable":
            return self._holdings.sees_receivable(viewer, record_id)
        if kind == "tx":
            return is_auditor(viewer) or viewer.uscc in self._store.parties(record_id)
        return self._holdings.record(viewer, kind, record_id) is not None


def _statuses(status: str | None) -> tuple[str, ...]:
    return () if status is None else (status,)


def _receivable_parties(viewer: Member, role: str | None,
                        counterparty: str | None) -> tuple[Parties, ...]:
    """Return the party alternatives of a credential list (see Listings.receivables)."""
    if is_auditor(viewer):
        if counterparty is None:
            return ()
        issued, held = Parties(party_a=counterparty), Parties(held_by=counterparty)
        first = Parties(party_b=counterparty)
        return {"issued": (issued,), "held": (held,)}.get(role or "", (issued, first))
    me = viewer.uscc
    issued = Parties(party_a=me, party_b=counterparty)
    held = Parties(party_a=counterparty, held_by=me)
    return {"issued": (issued,), "held": (held,)}.get(role or "", (issued, held))


def _either_party(viewer: Member, counterparty: str | None) -> tuple[Parties, ...]:
    """Return the alternatives for a record of two parties: the viewer on either side."""
    if is_auditor(viewer):
        return () if counterparty is None else (Parties(party_a=counterparty),
                                                Parties(party_b=counterparty))
    me = viewer.uscc
    return (Parties(party_a=me, party_b=counterparty), Parties(party_a=counterparty, party_b=me))


def _expiry_bounds(status: str, today: date, date_from: str | None,
                   date_to: str | None) -> tuple[str | None, str | None]:
    """Narrow expiry bounds to credit lines open today (expiry on or after) or expired."""
    if status == OPEN:
        return max(date_from or "", today.isoformat()), date_to
    yesterday = (today - timedelta(days=1)).isoformat()
    return date_from, min(date_to or yesterday, yesterday)
