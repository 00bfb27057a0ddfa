"""FastAPI dependencies: the node's parts routes may call, the signed caller, typed parameters.

Routes get the pipeline parts they call (`Reads`, `Register`, `Submissions`,
`Exported`, and the `Service` for its commands), never the store or the
chain.  Every id and filter a route takes is declared here with its exact shape
(a pattern or a set of values), so a malformed one is refused with a 400
naming the parameter before anything is looked up, identically on SQLite
and PostgreSQL, and the OpenAPI document says what each one must look like.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, TypeVar, get_args

from fastapi import Depends, Path, Query, Request
from pydantic import AfterValidator

from contracts.records import NoteStatus, ReceivableStatus
from ledger.membership import Member
from node.api.auth import RecentNonces, authenticate
from node.api.errors import ApiError
from node.pipeline.admission import Admission
from node.pipeline.exports import Exports
from node.pipeline.holdings import Holdings
from node.pipeline.inbox import Inbox
from node.pipeline.listings import Listings
from node.pipeline.queries import Queries
from node.service import NodeService

T = TypeVar("T")


def get_service(request: Request) -> NodeService:
    """Return the node service bound to this app."""
    service: NodeService = request.app.state.service
    return service


async def get_caller(request: Request) -> Member:
    """Return the member who signed this request (401 if none did).

    Raises ApiError (400) for a query parameter given twice (`single_query_values`)
    or an integer not written in plain digits (`plain_integers`).
    """
    service = get_service(request)
    nonces: RecentNonces = request.app.state.request_nonces
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    member = authenticate(service, nonces, method=request.method, path=signed_target(request),
                          headers=headers, body=body)
    single_query_values(request)
    plain_integers(request)
    return member


def signed_target(request: Request) -> str:
    """Return the request target exactly as sent (path and query, still percent-encoded).

    This is what a member signs: the bytes on the wire, so no decoding step
    can make two different requests share a signature.
    """
    raw_path = request.scope.get("raw_path") or request.url.path.encode("utf-8")
    query = request.scope.get("query_string") or b""
    target = raw_path.decode("latin-1")
    return target + "?" + query.decode("latin-1") if query else target


REPEATABLE = frozenset({"kind"})  # the query parameters declared as lists (/v1/ids)


def single_query_values(request: Request) -> None:
    """Refuse a query parameter given more than once, unless it is a list, with a 400 naming it.

    Starlette keeps every value and FastAPI reads the last, so
    `?limit=x&limit=5` would pass as 5: an invalid request accepted.
    """
    seen: set[str] = set()
    for key, _ in request.query_params.multi_items():
        if key in seen and key not in REPEATABLE:
            raise ApiError("bad_request", f"query.{key}: given more than once")
        seen.add(key)


PLAIN_INTEGER = re.compile(r"-?[0-9]{1,19}")


def plain_integers(request: Request) -> None:
    """Refuse an integer parameter not written in plain decimal digits, with a 400 naming it.

    pydantic reads '+0.0', '5.0', '1_0' and ' 0' as integers, so a request
    the OpenAPI document calls invalid would be answered.  The integer
    parameters are read from the matched route's own declarations, so every
    route, present or future, is held to what it publishes.
    """
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    for name, where in integer_parameters(dependant):
        raw = (request.path_params if where == "path" else request.query_params).get(name)
        if raw is not None and not PLAIN_INTEGER.fullmatch(str(raw)):
            raise ApiError("bad_request", f"{where}.{name}: an integer is written in decimal "
                           f"digits, not {str(raw)[:40]!r}")


def integer_parameters(dependant: Any) -> Iterator[tuple[str, str]]:
    """Yield (name as sent, "path" or "query") for each integer parameter a route declares."""
    for where, fields in (("path", dependant.path_params), ("query", dependant.query_params)):
        for field in fields:
            annotation = field.field_info.annotation
            if annotation is int or int in get_args(annotation):
                yield field.alias, where
    for sub in dependant.dependencies:
        yield from integer_parameters(sub)


def get_queries(request: Request) -> Queries:
    """Return the node's reads of its chain, log and blocks."""
    return get_service(request).queries


def get_holdings(request: Request) -> Holdings:
    """Return the node's need-to-know reads of the register."""
    return get_service(request).holdings


def get_admission(request: Request) -> Admission:
    """Return the node's admission of submissions."""
    return get_service(request).admission


def get_exports(request: Request) -> Exports:
    """Return the node's raw export for auditors."""
    return get_service(request).exports


def get_listings(request: Request) -> Listings:
    """Return the node's lists of credentials and records, and its id resolution."""
    return get_service(request).listings


def get_inbox(request: Request) -> Inbox:
    """Return the node's inbox of what awaits each member."""
    return get_service(request).inbox


Service = Annotated[NodeService, Depends(get_service)]
Caller = Annotated[Member, Depends(get_caller)]
Reads = Annotated[Queries, Depends(get_queries)]
Register = Annotated[Holdings, Depends(get_holdings)]
Submissions = Annotated[Admission, Depends(get_admission)]
Exported = Annotated[Exports, Depends(get_exports)]
Lists = Annotated[Listings, Depends(get_listings)]
Awaiting = Annotated[Inbox, Depends(get_inbox)]


# The largest value every integer column holds on both backends: PostgreSQL's INTEGER is
# 32-bit (a height or log index beyond it was a 500 there, found by schemathesis), and a
# query for a larger one can match nothing anyway.
MAX_INT = 2**31 - 1


def found(value: T | None, what: str) -> T:
    """Return `value`, or raise the not-found error for `what` if it is None."""
    if value is None:
        raise not_found(what)
    return value


def not_found(what: str) -> ApiError:
    """Return the error for an unknown (or invisible) id; the two are indistinguishable."""
    return ApiError("not_found", f"{what} not found")


HEX_ID = "^[0-9a-f]{64}$"
USCC = "^[0-9A-HJ-NPQRTUWXY]{18}$"
HEX_ID_TEXT = "64 lower-case hex digits"

TxId = Annotated[str, Path(pattern=HEX_ID, description=f"a transaction id: {HEX_ID_TEXT}")]
NoteId = Annotated[str, Path(pattern=HEX_ID, description=f"a note id: {HEX_ID_TEXT}")]
RootId = Annotated[str, Path(
    pattern=HEX_ID, description=f"a credential's id (its root note's): {HEX_ID_TEXT}")]
RecordId = Annotated[str, Path(
    pattern=f"^({HEX_ID[1:-1]}|{USCC[1:-1]})$",
    description="a record id: 64 lower-case hex digits (an issuer book: the issuer's USCC)")]
UsccFilter = Annotated[str | None, Query(pattern=USCC, description="an organisation's USCC")]
Height = Annotated[int, Path(ge=0, le=MAX_INT, description="a block height")]


class RecordKind(StrEnum):
    """The kinds of record `/v1/records/{kind}/{id}` serves."""

    CREDIT_LINE = "credit_line"
    FINANCING = "financing"
    CLEARING = "clearing"
    ISSUER = "issuer"


NoteStatusFilter = Annotated[NoteStatus | None, Query(description="a note status")]
ReceivableStatusFilter = Annotated[ReceivableStatus | None,
                                   Query(description="a credential status")]


def real_date(value: str | None) -> str | None:
    """Return an ISO date parameter unchanged; raise ValueError if it names no real day."""
    if value is not None:
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a real date (YYYY-MM-DD)") from None
    return value


DATE = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
MaturityFrom = Annotated[str | None, Query(
    pattern=DATE, description="the earliest maturity (or a credit line's expiry), YYYY-MM-DD, "
                              "inclusive"), AfterValidator(real_date)]
MaturityTo = Annotated[str | None, Query(
    pattern=DATE, description="the latest maturity (or a credit line's expiry), YYYY-MM-DD, "
                              "inclusive"), AfterValidator(real_date)]
ListLimit = Annotated[int, Query(ge=1, le=10_000, description="at most this many items")]


class ListRole(StrEnum):
    """Which credentials a member lists: those it issued, or those it holds or held."""

    ISSUED = "issued"
    HELD = "held"


RoleFilter = Annotated[ListRole | None, Query(
    description="issued: by the caller; held: the caller holds or held a note of it; "
                "default both")]


class ListedKind(StrEnum):
    """The kinds of record `/v1/records/{kind}` lists."""

    CREDIT_LINE = "credit_line"
    FINANCING = "financing"


class RecordStatus(StrEnum):
    """A financing's status (FinancingStatus), or a credit line's: open or expired today."""

    REQUESTED = "requested"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DISBURSED = "disbursed"
    CANCELLED = "cancelled"
    OPEN = "open"
    EXPIRED = "expired"


RecordStatusFilter = Annotated[RecordStatus | None, Query(
    description="a financing's status; a credit line's: open or expired as of today")]


class IdKind(StrEnum):
    """The kinds of id a prefix resolves to."""

    NOTE = "note"
    RECEIVABLE = "receivable"
    FINANCING = "financing"
    CREDIT_LINE = "credit_line"
    TX = "tx"


IdPrefix = Annotated[str, Path(
    pattern="^[0-9a-fA-F]{8,64}$",
    description="the first 8 to 64 hex digits of an id (upper case is read as lower case)")]
IdKinds = Annotated[list[IdKind] | None, Query(description="only these kinds (repeatable)")]
