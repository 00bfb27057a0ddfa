"""Notes, credentials (split trees), lineage and other records, as each caller may see them.

Need to know (DOMAIN): a participant sees the notes it holds, held, issued
or financed, and the provenance (ancestors) of a note it can see; of a
credential it sees only the branch that leads to its own notes, so not the
other holders' leaves (`live`), what has been paid (`paid`), nor another
tier's invoices (`trade`, which only the first holder, whose sales they are,
sees).  The issuer and auditors see everything; anything else answers 404
exactly as an unknown id does.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from ledger.canonical import JSONValue
from ledger.membership import Member
from node.api.deps import (
    Caller,
    NoteId,
    NoteStatusFilter,
    RecordId,
    RecordKind,
    RootId,
    Service,
    UsccFilter,
    is_auditor,
    not_found,
)
from node.api.errors import ApiError
from node.api.responses import JSONBody

router = APIRouter(prefix="/v1", tags=["holdings"])

RECORD_VIEWERS: dict[str, tuple[str, ...]] = {
    "credit_line": ("bank", "core"),
    "financing": ("seller", "bank"),
    "clearing": ("holder",),
    "issuer": ("id",),
}


def _visible_note(caller: Member, note: dict[str, Any], service: Service) -> bool:
    """Holder, issuer and auditors see a note; so does the bank asked to finance it."""
    if is_auditor(caller) or caller.uscc in (note["holder"], note["issuer"]):
        return True
    if note.get("financing"):
        with service.chain.lock:
            financing = service.chain.state.get(f"financing/{note['financing']}")
        return isinstance(financing, dict) and financing.get("bank") == caller.uscc
    return False


def _note(service: Service, note_id: str) -> dict[str, Any] | None:
    with service.chain.lock:
        value = service.chain.state.get(f"note/{note_id}")
    return value if isinstance(value, dict) else None


@router.get("/notes/{note_id}")
def get_note(note_id: NoteId, service: Service, caller: Caller) -> JSONBody:
    """Return one note if the caller holds, held, issued or financed it."""
    note = _note(service, note_id)
    if note is None or not _visible_note(caller, note, service):
        raise not_found(f"note {note_id}")
    return JSONBody(note)


@router.get("/notes")
def list_notes(
    service: Service, caller: Caller, holder: UsccFilter = None, issuer: UsccFilter = None,
    status: NoteStatusFilter = None, limit: int = Query(1000, ge=1, le=10_000),
) -> JSONBody:
    """List notes by holder or issuer (the caller itself, unless it is an auditor)."""
    if holder is None and issuer is None:
        holder = caller.uscc
    if not is_auditor(caller) and caller.uscc not in (holder, issuer):
        raise ApiError("forbidden", "you may list only your own holdings or issuance")
    rows = service.store.notes_where(holder=holder, issuer=issuer,
                                     status=None if status is None else status.value, limit=limit)
    notes = [_note(service, row.id) for row in rows]
    return JSONBody({"notes": [n for n in notes if n is not None]})


@router.get("/notes/{note_id}/lineage")
def lineage(note_id: NoteId, service: Service, caller: Caller) -> JSONBody:
    """Return the note and its ancestors up to the issued credential (provenance)."""
    note = _note(service, note_id)
    if note is None or not _visible_note(caller, note, service):
        raise not_found(f"note {note_id}")
    chain: list[JSONValue] = [note]
    while note is not None and note["parent_id"] is not None:
        note = _note(service, note["parent_id"])
        if note is not None:
            chain.append(note)
    return JSONBody({"lineage": chain})


BRANCH_HIDDEN = ("live", "paid", "trade")  # what a holder of one branch does not see


@router.get("/receivables/{root_id}")
def receivable(root_id: RootId, service: Service, caller: Caller) -> JSONBody:
    """Return a credential and the part of its split tree the caller may see.

    The issuer and auditors get the whole record and tree; a participant
    holding (or asked to finance) a note of it gets the branch that leads to
    its notes and the record without `live`, `paid` and (unless it is the
    first holder, whose sales they are) `trade`.
    """
    with service.chain.lock:
        record = service.chain.state.get(f"receivable/{root_id}")
    if not isinstance(record, dict):
        raise not_found(f"receivable {root_id}")
    rows = service.store.notes_where(root_id=root_id, limit=100_000)
    notes = [n for n in (_note(service, r.id) for r in rows) if n is not None]
    if is_auditor(caller) or caller.uscc == record["issuer"]:
        return JSONBody({"receivable": record, "notes": notes})
    own = [n for n in notes if _visible_note(caller, n, service)]
    if not own:
        raise not_found(f"receivable {root_id}")
    return JSONBody({"receivable": branch_view(record, caller.uscc),
                     "notes": _with_ancestors(own, {n["id"]: n for n in notes})})


def branch_view(record: dict[str, Any], viewer: str) -> dict[str, Any]:
    """Return a credential record as a holder of one of its branches may see it."""
    hidden = BRANCH_HIDDEN if viewer != record["first_holder"] else ("live", "paid")
    return {k: v for k, v in record.items() if k not in hidden}


def _with_ancestors(own: list[dict[str, Any]], by_id: dict[str, dict[str, Any]]) -> list[Any]:
    keep: dict[str, dict[str, Any]] = {}
    for note in own:
        current: dict[str, Any] | None = note
        while current is not None and current["id"] not in keep:
            keep[current["id"]] = current
            parent = current["parent_id"]
            current = by_id.get(parent) if parent else None
    return sorted(keep.values(), key=lambda n: (n["depth"], n["id"]))


@router.get("/records/{kind}/{record_id}")
def record(kind: RecordKind, record_id: RecordId, service: Service, caller: Caller) -> JSONBody:
    """Return a credit line, financing, clearing or issuer book record, if visible.

    Credentials are served with their split tree by /v1/receivables/{id}.
    """
    viewers = RECORD_VIEWERS[kind.value]
    with service.chain.lock:
        value = service.chain.state.get(f"{kind.value}/{record_id}")
    if not isinstance(value, dict):
        raise not_found(f"{kind.value} {record_id}")
    if not is_auditor(caller) and caller.uscc not in {value.get(f) for f in viewers}:
        raise not_found(f"{kind.value} {record_id}")
    return JSONBody(value)


@router.get("/members")
def members(service: Service, _caller: Caller) -> JSONBody:
    """List the consortium's members (every member may see who is in it)."""
    with service.chain.lock:
        keys = service.chain.state.keys_with_prefix("member/")
        values = [service.chain.state.get(k) for k in sorted(keys)]
    return JSONBody({"members": values})
