"""Notes, credentials (split trees), lineage and other records, as each caller may see them.

The need-to-know rules are node/pipeline/holdings.py's; a record the caller
may not see answers 404 exactly as an unknown id does.
"""

from __future__ import annotations

from fastapi import APIRouter, Query

from node.api import lists
from node.api.deps import (
    Caller,
    MaturityFrom,
    MaturityTo,
    NoteId,
    NoteStatusFilter,
    Reads,
    RecordId,
    RecordKind,
    Register,
    RootId,
    UsccFilter,
    found,
)
from node.api.responses import JSONBody

router = APIRouter(prefix="/v1", tags=["holdings"])


@router.get("/notes/{note_id}")
def get_note(note_id: NoteId, register: Register, caller: Caller) -> JSONBody:
    """Return one note if the caller holds, held, issued or financed it."""
    return JSONBody(found(register.note(caller, note_id), f"note {note_id}"))


@router.get("/notes")
def list_notes(
    register: Register, caller: Caller, holder: UsccFilter = None, issuer: UsccFilter = None,
    status: NoteStatusFilter = None, maturity_from: MaturityFrom = None,
    maturity_to: MaturityTo = None, limit: int = Query(1000, ge=1, le=10_000),
) -> JSONBody:
    """List notes by holder or issuer (the caller itself, unless it is an auditor).

    `maturity_from` and `maturity_to` bound the maturity date, inclusive.
    """
    lists.check_dates(maturity_from, maturity_to)
    notes = register.notes(caller, holder=holder, issuer=issuer,
                           status=None if status is None else status.value, limit=limit,
                           maturity_from=maturity_from, maturity_to=maturity_to)
    return JSONBody({"notes": notes})


@router.get("/notes/{note_id}/lineage")
def lineage(note_id: NoteId, register: Register, caller: Caller) -> JSONBody:
    """Return the note and its ancestors up to the issued credential (provenance)."""
    return JSONBody({"lineage": found(register.lineage(caller, note_id), f"note {note_id}")})


@router.get("/receivables/{root_id}")
def receivable(root_id: RootId, register: Register, caller: Caller) -> JSONBody:
    """Return a credential and the part of its split tree the caller may see.

    The issuer and auditors get the whole record and tree; a participant
    holding (or asked to finance) a note of it gets the branch that leads to
    its notes and the record without `live`, `paid` and (unless it is the
    first holder, whose sales they are) `trade`.
    """
    return JSONBody(found(register.receivable(caller, root_id), f"receivable {root_id}"))


@router.get("/records/{kind}/{record_id}")
def record(kind: RecordKind, record_id: RecordId, register: Register, caller: Caller
           ) -> JSONBody:
    """Return a credit line, financing, clearing or issuer book record, if visible.

    Credentials are served with their split tree by /v1/receivables/{id}.
    """
    return JSONBody(found(register.record(caller, kind.value, record_id),
                          f"{kind.value} {record_id}"))


@router.get("/members")
def members(reads: Reads, _caller: Caller) -> JSONBody:
    """List the consortium's members (every member may see who is in it)."""
    return JSONBody({"members": reads.members()})

