"""What each member may read of the register: the need-to-know rules, over the node's state.

DOMAIN's rule: a participant sees the notes it holds, held, issued or
financed (and a note while a bank is asked to finance it), the provenance
(ancestors) of a note it can see, and of a credential only the branch that
leads to its notes: the record without `live`, `paid` and, unless it is the
first holder whose sales they are, `trade`.  The issuer sees all it issued,
auditors everything.  Every method answers None (or raises `Refused`) where
the viewer may not look, exactly as for a record that does not exist, so
the API cannot tell the two apart either.
"""

from __future__ import annotations

from typing import Any

from ledger.errors import LedgerError
from ledger.membership import Member, Role
from ledger.snapshot import ARCHIVED_CODE
from node.pipeline.chain import Chain
from node.storage.models import TxRow
from node.storage.store import Store

RECORD_VIEWERS: dict[str, tuple[str, ...]] = {  # the fields naming who may see each record kind
    "credit_line": ("bank", "core"),
    "financing": ("seller", "bank"),
    "clearing": ("holder",),
    "issuer": ("id",),
}
BRANCH_HIDDEN = ("live", "paid", "trade")  # what a holder of one branch does not see
MAX_TREE_NOTES = 100_000
Record = dict[str, Any]


class Refused(LedgerError):
    """Raised when a read is refused outright (`code` forbidden), not merely empty."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


def is_archived(row: TxRow) -> bool:
    """Return whether `row` is only the log entry of a transaction below a snapshot."""
    return row.code == ARCHIVED_CODE and not row.envelope


def refuse_archived(row: TxRow) -> None:
    """Raise Refused (`archived`) if `row` is a transaction archived below a snapshot."""
    if is_archived(row):
        raise Refused("archived", f"transaction {row.id} is {row.reason} (this node started "
                                  "from a snapshot; ask a node with the whole chain, or the "
                                  "archive)")


def is_auditor(member: Member) -> bool:
    """Return whether `member` may read everything."""
    return member.has_role(Role.AUDITOR)


class Holdings:
    """Notes, credentials and records as one member may see them."""

    def __init__(self, chain: Chain, store: Store) -> None:
        self._chain = chain
        self._store = store

    def _get(self, key: str) -> Record | None:
        with self._chain.lock:
            value = self._chain.state.get(key)
        return value if isinstance(value, dict) else None

    def stored(self, kind: str, record_id: str) -> Record | None:
        """Return the record `kind/record_id` as stored, whoever asks (callers check sight)."""
        return self._get(f"{kind}/{record_id}")

    def sees_note(self, viewer: Member, note: Record) -> bool:
        """Return whether `viewer` sees `note`: holder, issuer, auditor, bank asked to fund it."""
        if is_auditor(viewer) or viewer.uscc in (note["holder"], note["issuer"]):
            return True
        financing = self._get(f"financing/{note['financing']}") if note.get("financing") else None
        return financing is not None and financing.get("bank") == viewer.uscc

    def note(self, viewer: Member, note_id: str) -> Record | None:
        """Return note `note_id` if `viewer` may see it."""
        note = self._get(f"note/{note_id}")
        return note if note is not None and self.sees_note(viewer, note) else None

    def notes(self, viewer: Member, *, holder: str | None, issuer: str | None,
              status: str | None, limit: int, maturity_from: str | None = None,
              maturity_to: str | None = None) -> list[Record]:
        """List notes by holder and/or issuer; a member lists only its own holdings or issuance.

        With neither filter, the viewer's own holdings.  Maturity bounds
        are inclusive ISO dates.  Raises Refused (forbidden) when a
        non-auditor names another holder and issuer.
        """
        if holder is None and issuer is None:
            holder = viewer.uscc
        if not is_auditor(viewer) and viewer.uscc not in (holder, issuer):
            raise Refused("forbidden", "you may list only your own holdings or issuance")
        rows = self._store.notes_where(holder=holder, issuer=issuer, status=status,
                                       maturity_from=maturity_from, maturity_to=maturity_to,
                                       limit=limit)
        return [n for n in (self._get(f"note/{row.id}") for row in rows) if n is not None]

    def lineage(self, viewer: Member, note_id: str) -> list[Record] | None:
        """Return a visible note and its ancestors up to the issued credential."""
        note = self.note(viewer, note_id)
        if note is None:
            return None
        line = [note]
        while note is not None and note["parent_id"] is not None:
            note = self._get(f"note/{note['parent_id']}")
            if note is not None:
                line.append(note)
        return line

    def sees_receivable(self, viewer: Member, root_id: str) -> bool:
        """Return whether `viewer` may see credential `root_id` (as `receivable` would answer)."""
        record = self._get(f"receivable/{root_id}")
        if record is None:
            return False
        if is_auditor(viewer) or viewer.uscc == record["issuer"]:
            return True
        rows = self._store.notes_where(root_id=root_id, limit=MAX_TREE_NOTES)
        return any(n is not None and self.sees_note(viewer, n)
                   for n in (self._get(f"note/{r.id}") for r in rows))

    def receivable(self, viewer: Member, root_id: str) -> dict[str, Any] | None:
        """Return a credential and the part of its split tree `viewer` may see."""
        record = self._get(f"receivable/{root_id}")
        if record is None:
            return None
        rows = self._store.notes_where(root_id=root_id, limit=MAX_TREE_NOTES)
        notes = [n for n in (self._get(f"note/{r.id}") for r in rows) if n is not None]
        if is_auditor(viewer) or viewer.uscc == record["issuer"]:
            return {"receivable": record, "notes": notes}
        own = [n for n in notes if self.sees_note(viewer, n)]
        if not own:
            return None
        return {"receivable": branch_view(record, viewer.uscc),
                "notes": with_ancestors(own, {n["id"]: n for n in notes})}

    def record(self, viewer: Member, kind: str, record_id: str) -> Record | None:
        """Return a credit line, financing, clearing or issuer book record, if visible."""
        value = self._get(f"{kind}/{record_id}")
        if value is None:
            return None
        if is_auditor(viewer) or viewer.uscc in {value.get(f) for f in RECORD_VIEWERS[kind]}:
            return value
        return None


def credential_as_seen(viewer: Member, record: Record) -> Record:
    """Return a credential record as `viewer` sees it, given it may see it at all.

    Its issuer and auditors see the whole record, anyone else its branch view.
    """
    if is_auditor(viewer) or viewer.uscc == record["issuer"]:
        return record
    return branch_view(record, viewer.uscc)


def branch_view(record: Record, viewer: str) -> Record:
    """Return a credential record as a holder of one of its branches may see it."""
    hidden = BRANCH_HIDDEN if viewer != record["first_holder"] else ("live", "paid")
    return {k: v for k, v in record.items() if k not in hidden}


def with_ancestors(own: list[Record], by_id: dict[str, Record]) -> list[Record]:
    """Return `own` notes and every ancestor of theirs, by depth then id."""
    keep: dict[str, Record] = {}
    for note in own:
        current: Record | None = note
        while current is not None and current["id"] not in keep:
            keep[current["id"]] = current
            parent = current["parent_id"]
            current = by_id.get(parent) if parent else None
    return sorted(keep.values(), key=lambda n: (n["depth"], n["id"]))
