"""The raw export for auditors: the node's stored rows as chain-file lines (node/export.py).

`GET /v1/export` streams the whole chain file from one read transaction (a
consistent snapshot of a running node); `/v1/export/blocks` and
`/v1/export/rows/{table}` serve the same lines in pages, each page ending
with a `{"type": "page", ...}` line that says where the next one starts.
Nothing stored is parsed on the way out, so a corrupt row is served as it
is (and found by the audit) rather than failing the request.  Only auditors
may read it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import chain

import orjson
from fastapi import APIRouter, Path, Query
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import StreamingResponse

from ledger.chainfile import ROW_PAGE
from node.api.deps import MAX_INT, Caller, Service, is_auditor, not_found
from node.api.errors import ApiError
from node.export import chain_lines, read_snapshot
from node.service import NodeService

router = APIRouter(prefix="/v1/export", tags=["export"])
NDJSON = "application/x-ndjson"
MAX_EXPORT_BLOCKS = 200


def _auditor_only(caller: Caller) -> None:
    if not is_auditor(caller):
        raise ApiError("forbidden", "the raw export is for auditors")


def _source(service: NodeService) -> str:
    return f"node {service.config.node_id}"


def _unreadable(exc: SQLAlchemyError) -> ApiError:
    return ApiError("storage_unreadable", f"the node's database cannot be read: "
                                          f"{type(exc).__name__}")


def _started(lines: Iterator[bytes]) -> StreamingResponse:
    """Stream `lines`, reading the first one now so an unreadable database is a clean error."""
    try:
        first = next(lines)
    except SQLAlchemyError as exc:
        raise _unreadable(exc) from exc
    return StreamingResponse(chain([first], lines), media_type=NDJSON)


@router.get("")
def export_all(service: Service, caller: Caller) -> StreamingResponse:
    """Stream the whole chain file (meta, blocks, tables, orphans, end) from one snapshot."""
    _auditor_only(caller)

    def lines() -> Iterator[bytes]:
        with read_snapshot(service.store.engine) as reader:
            yield from chain_lines(reader, source=_source(service), now=_now(service))

    return _started(lines())


@router.get("/meta")
def export_meta(service: Service, caller: Caller) -> StreamingResponse:
    """Return the chain file's first line: format, head height, log size, row counts."""
    _auditor_only(caller)

    def lines() -> Iterator[bytes]:
        with read_snapshot(service.store.engine) as reader:
            yield orjson.dumps(reader.meta(_source(service), _now(service))) + b"\n"

    return _started(lines())


@router.get("/blocks")
def export_blocks(
    service: Service, caller: Caller,
    start: int = Query(0, alias="from", ge=0, le=MAX_INT),
    limit: int = Query(20, ge=1, le=MAX_EXPORT_BLOCKS),
) -> StreamingResponse:
    """Return block lines from height `from`, then a page line naming the next height."""
    _auditor_only(caller)

    def lines() -> Iterator[bytes]:
        with read_snapshot(service.store.engine) as reader:
            last = None
            for block in reader.blocks(start, limit=limit):
                last = block["block"]["height"]
                yield orjson.dumps(block) + b"\n"
            following = last + 1 if isinstance(last, int) else None
            yield orjson.dumps({"type": "page", "next": following}) + b"\n"

    return _started(lines())


@router.get("/rows/{table}")
def export_rows(
    service: Service, caller: Caller,
    table: str = Path(pattern="^[a-z_]{1,64}$", description="a stored table's name"),
    offset: int = Query(0, ge=0, le=MAX_INT), limit: int = Query(ROW_PAGE, ge=1, le=10 * ROW_PAGE),
) -> StreamingResponse:
    """Return one `rows` line of `table` (in key order from `offset`), then a page line."""
    _auditor_only(caller)

    def lines() -> Iterator[bytes]:
        with read_snapshot(service.store.engine) as reader:
            if table not in reader.other_tables():
                raise not_found(f"exported table {table!r}")
            rows = list(reader.table_rows(table, offset, limit))
            yield orjson.dumps({"type": "rows", "table": table, "rows": rows}) + b"\n"
            following = offset + len(rows) if len(rows) == limit else None
            yield orjson.dumps({"type": "page", "next_offset": following}) + b"\n"

    return _started(lines())


def _now(service: NodeService) -> datetime:
    return service.clock.now().astimezone(UTC)
