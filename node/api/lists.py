"""The inbox, lists of credentials and records with filters, and ids from a prefix.

Every item is what the caller
may see (node/pipeline/listings.py, node/pipeline/inbox.py); a bad filter is
a 400 naming the parameter.  Amounts are integer fen, dates YYYY-MM-DD.
"""

from __future__ import annotations

from fastapi import APIRouter, Query

from node.api.deps import (
    Awaiting,
    Caller,
    IdKinds,
    IdPrefix,
    ListedKind,
    ListLimit,
    Lists,
    MaturityFrom,
    MaturityTo,
    ReceivableStatusFilter,
    RecordStatusFilter,
    RoleFilter,
    UsccFilter,
)
from node.api.errors import ApiError
from node.api.responses import JSONBody
from node.pipeline.listings import Bounds

router = APIRouter(prefix="/v1", tags=["lists"])


def check_dates(maturity_from: str | None, maturity_to: str | None) -> None:
    """Raise ApiError (400) if `maturity_from` is after `maturity_to`."""
    if maturity_from is not None and maturity_to is not None and maturity_from > maturity_to:
        raise ApiError("bad_request", f"maturity_from {maturity_from} is after maturity_to "
                                      f"{maturity_to}")


def _bounds(status: str | None, counterparty: str | None, maturity_from: str | None,
            maturity_to: str | None, limit: int) -> Bounds:
    check_dates(maturity_from, maturity_to)
    return Bounds(status, counterparty, maturity_from, maturity_to, limit)


@router.get("/inbox")
def inbox(awaiting: Awaiting, caller: Caller,
          within_days: int = Query(30, ge=1, le=366, description="how far ahead payments "
                                                                  "count as due, in days")
          ) -> JSONBody:
    """Return what awaits the caller as of the node's date, and what it waits for from others.

    Kinds: credential_to_accept, financing_request, offer_to_accept,
    disbursement_to_confirm, payment_due (maturing within `within_days`),
    overdue, and awaiting_acceptance, awaiting_offer, awaiting_disbursement
    (waiting on others).  Each item: kind, id, counterparty (or null),
    amount (fen), currency, date (or null) and the record as the caller may
    see it; sorted by date, kind, id.  `truncated` says some kind had more
    than 1000 items (the earliest are kept).
    """
    return JSONBody(awaiting.answer(caller, within_days))


@router.get("/receivables")
def receivables(
    lists: Lists, caller: Caller, role: RoleFilter = None,
    status: ReceivableStatusFilter = None, counterparty: UsccFilter = None,
    maturity_from: MaturityFrom = None, maturity_to: MaturityTo = None, limit: ListLimit = 1000,
) -> JSONBody:
    """List the caller's credentials by maturity, then id (auditors: every credential).

    `counterparty` is the first holder of what the caller issued, the issuer
    of what it holds.  Issuers and auditors get whole records, holders the
    view of their branch (as GET /v1/receivables/{root_id}).
    """
    bounds = _bounds(None if status is None else status.value, counterparty, maturity_from,
                     maturity_to, limit)
    found = lists.receivables(caller, None if role is None else role.value, bounds)
    return JSONBody({"receivables": found})


@router.get("/records/{kind}")
def records(
    kind: ListedKind, lists: Lists, caller: Caller,
    status: RecordStatusFilter = None,
    counterparty: UsccFilter = None, maturity_from: MaturityFrom = None,
    maturity_to: MaturityTo = None, limit: ListLimit = 1000,
) -> JSONBody:
    """List the financings or credit lines the caller is a party to (auditors: all).

    Ordered by date (a financing's note maturity, a credit line's expiry),
    then id; `counterparty` is the other party.  Each financing carries its
    `note` (amount, maturity).
    """
    bounds = _bounds(None if status is None else status.value, counterparty, maturity_from,
                     maturity_to, limit)
    return JSONBody({"records": lists.records(caller, kind.value, bounds)})


@router.get("/ids/{prefix}")
def resolve_ids(
    prefix: IdPrefix, lists: Lists, caller: Caller,
    kind: IdKinds = None,
) -> JSONBody:
    """Return the full ids starting with `prefix` that the caller may read, up to 20 per kind.

    An id the caller may not read is never listed, so a prefix does not
    tell whether it exists.
    """
    kinds = sorted({k.value for k in kind or ()})
    return JSONBody({"matches": lists.resolve(caller, prefix.lower(), kinds)})
