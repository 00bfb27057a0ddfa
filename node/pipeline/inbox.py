"""The inbox: what awaits a member now, and what it waits for from others.

A supplier must accept credentials issued to it and answer a bank's offer; a
bank must answer financing requests and confirm disbursements; a core
enterprise must pay what falls due; anyone holding an unpaid note past
maturity, or having issued one, has it overdue.  Each item names its kind,
the record's id, the other party, the amount in fen, the date it turns on
and the record as the member may see it.  "Today" is the node's clock (a
simulation node's manual clock), never the machine's.  Every kind is capped
at KIND_CAP items, and the answer says when one was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ledger.membership import Member
from node.clock import Clock
from node.pipeline.holdings import Holdings, Record, credential_as_seen
from node.pipeline.listings import Listings
from node.storage.records_index import Parties, RecordFilter
from node.storage.store import Store

KIND_CAP = 1000
UNDATED = "9999-12-31"  # where an item without a date sorts
Item = dict[str, Any]


@dataclass(frozen=True)
class FinancingKind:
    """One inbox kind over financings: the viewer's side, the status, who the other is."""

    kind: str
    side: str  # the viewer's side of the financing: seller or bank
    status: str
    amount: Callable[[Record], int]


def _note_amount(financing: Record) -> int:
    return int(financing["note"]["amount"]) if financing.get("note") else 0


def _net_proceeds(financing: Record) -> int:
    return int((financing.get("terms") or {}).get("net_proceeds", 0))


FINANCING_KINDS = (
    FinancingKind("financing_request", "bank", "requested", _note_amount),
    FinancingKind("offer_to_accept", "seller", "offered", _net_proceeds),
    FinancingKind("disbursement_to_confirm", "bank", "accepted", _net_proceeds),
    FinancingKind("awaiting_offer", "seller", "requested", _note_amount),
    FinancingKind("awaiting_disbursement", "seller", "accepted", _net_proceeds),
)
OTHER_SIDE = {"seller": "bank", "bank": "seller"}


def item(kind: str, record_id: str, counterparty: str | None, amount: int,
         when: str | None, record: Record) -> Item:
    """Return one inbox item (amount in fen, CNY; the date ISO or None)."""
    currency = record.get("currency") or (record.get("note") or {}).get("currency") or "CNY"
    return {"kind": kind, "id": record_id, "counterparty": counterparty, "amount": amount,
            "currency": currency, "date": when, "record": record}


class Inbox:
    """What awaits each member, computed from the records and note indexes."""

    def __init__(self, holdings: Holdings, listings: Listings, store: Store,
                 clock: Clock) -> None:
        self._holdings = holdings
        self._listings = listings
        self._store = store
        self._clock = clock

    def answer(self, viewer: Member, within_days: int) -> dict[str, Any]:
        """Return {as_of, within_days, items, truncated} for `viewer`.

        Items are sorted by date (undated last), kind and id; a kind with
        more than KIND_CAP items keeps its earliest and sets `truncated`.
        """
        today = self._clock.now().date()
        kinds: dict[str, list[Item]] = {}
        for found in self._items(viewer, today, within_days):
            kinds.setdefault(found["kind"], []).append(found)
        items, truncated = [], False
        for listed in kinds.values():
            listed.sort(key=_order)
            truncated |= len(listed) > KIND_CAP
            items += listed[:KIND_CAP]
        items.sort(key=_order)
        return {"as_of": today.isoformat(), "within_days": within_days, "items": _unique(items),
                "truncated": truncated}

    def _items(self, viewer: Member, today: date, within_days: int) -> Iterator[Item]:
        yield from self._to_accept(viewer)
        for kind in FINANCING_KINDS:
            yield from self._financings(viewer, kind)
        yield from self._issued(viewer, today, within_days)
        yield from self._overdue_notes(viewer, today)

    def _credential(self, viewer: Member, root_id: str) -> Record | None:
        record = self._holdings.stored("receivable", root_id)
        return None if record is None else credential_as_seen(viewer, record)

    def _to_accept(self, viewer: Member) -> Iterator[Item]:
        """Credentials issued to the viewer that wait for its acceptance."""
        for row in self._store.notes_where(holder=viewer.uscc, status="pending",
                                           limit=KIND_CAP + 1):
            note, credential = self._holdings.stored("note", row.id), self._credential(
                viewer, row.root_id)
            if note is not None and credential is not None:
                yield item("credential_to_accept", row.id, row.issuer, row.amount,
                           credential["accept_by"], {**credential, "note": note})

    def _financings(self, viewer: Member, kind: FinancingKind) -> Iterator[Item]:
        """Financings where the viewer is on `kind.side` in `kind.status`."""
        mine = Parties(**{"party_a" if kind.side == "seller" else "party_b": viewer.uscc})
        flt = RecordFilter("financing", (mine,), (kind.status,), limit=KIND_CAP + 1)
        for row in self._store.records_where(flt):
            stored = self._holdings.stored("financing", row.id)
            if stored is not None:
                financing = self._listings.with_note(viewer, stored)
                yield item(kind.kind, row.id, financing[OTHER_SIDE[kind.side]],
                           kind.amount(financing), row.date, financing)

    def _issued(self, viewer: Member, today: date, within_days: int) -> Iterator[Item]:
        """The issuer's side: payments due, overdue credentials, credentials not yet accepted."""
        horizon = (today + timedelta(days=within_days)).isoformat()
        yesterday = (today - timedelta(days=1)).isoformat()
        issued = (Parties(party_a=viewer.uscc),)
        asks = (("payment_due", ("active",), today.isoformat(), horizon),
                ("overdue", ("overdue",), None, None),
                ("overdue", ("active",), None, yesterday),
                ("awaiting_acceptance", ("pending",), None, None))
        for kind, statuses, start, end in asks:
            flt = RecordFilter("receivable", issued, statuses, start, end, KIND_CAP + 1)
            for row in self._store.records_where(flt):
                record = self._holdings.stored("receivable", row.id)
                if record is not None:
                    yield _issuer_item(kind, record)

    def _overdue_notes(self, viewer: Member, today: date) -> Iterator[Item]:
        """Notes the viewer holds past maturity whose credential is not paid."""
        yesterday = (today - timedelta(days=1)).isoformat()
        for status in ("active", "financing"):
            for row in self._store.notes_where(holder=viewer.uscc, status=status,
                                               maturity_to=yesterday, limit=KIND_CAP + 1):
                note, credential = self._holdings.stored("note", row.id), self._credential(
                    viewer, row.root_id)
                if note is None or credential is None or credential["status"] not in (
                        "active", "overdue"):
                    continue
                yield item("overdue", row.id, row.issuer, row.amount, row.maturity_date,
                           {**credential, "note": note})


def _issuer_item(kind: str, record: Record) -> Item:
    """Return an issuer's item about its credential `record` (seen whole)."""
    if kind == "awaiting_acceptance":
        return item(kind, record["id"], record["first_holder"], record["face"],
                    record["accept_by"], record)
    return item(kind, record["id"], None, record["face"] - record["paid"],
                record["maturity_date"], record)


def _order(found: Item) -> tuple[str, str, str]:
    return (found["date"] or UNDATED, found["kind"], found["id"])


def _unique(items: list[Item]) -> list[Item]:
    """Drop repeats of a (kind, id) (an issuer holding its own note), keeping the first."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for found in items:
        key = (found["kind"], found["id"])
        if key not in seen:
            seen.add(key)
            kept.append(found)
    return kept
