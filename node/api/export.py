"""The raw export for auditors: stored rows as chain-file lines (node/storage/chain_lines.py).

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
from itertools import chain

from fastapi import APIRouter, Path, Query
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import StreamingResponse

from ledger.chainfile import ROW_PAGE
from node.api.deps import MAX_INT, Caller, Exported
from node.api.errors import ApiError

router = APIRouter(prefix="/v1/export", tags=["export"])
NDJSON = "application/x-ndjson"
MAX_EXPORT_BLOCKS = 200


def _started(lines: Iterator[bytes]) -> StreamingResponse:
    """Stream `lines`, reading the first one now so a refusal or an unreadable database is a
    clean error rather than a broken stream."""
    try:
        first = next(lines)
    except SQLAlchemyError as exc:
        raise ApiError("storage_unreadable", f"the node's database cannot be read: "
                                             f"{type(exc).__name__}") from exc
    return StreamingResponse(chain([first], lines), media_type=NDJSON)


@router.get("")
def export_all(exported: Exported, caller: Caller) -> StreamingResponse:
    """Stream the whole chain file (meta, blocks, tables, orphans, end) from one snapshot."""
    return _started(exported.whole(caller))


@router.get("/meta")
def export_meta(exported: Exported, caller: Caller) -> StreamingResponse:
    """Return the chain file's first line: format, head height, log size, row counts."""
    return _started(exported.meta(caller))


@router.get("/blocks")
def export_blocks(
    exported: Exported, caller: Caller,
    start: int = Query(0, alias="from", ge=0, le=MAX_INT),
    limit: int = Query(20, ge=1, le=MAX_EXPORT_BLOCKS),
) -> StreamingResponse:
    """Return block lines from height `from`, then a page line naming the next height."""
    return _started(exported.blocks(caller, start, limit))


@router.get("/rows/{table}")
def export_rows(
    exported: Exported, caller: Caller,
    table: str = Path(pattern="^[a-z_]{1,64}$", description="a stored table's name"),
    offset: int = Query(0, ge=0, le=MAX_INT), limit: int = Query(ROW_PAGE, ge=1, le=10 * ROW_PAGE),
) -> StreamingResponse:
    """Return one `rows` line of `table` (in key order from `offset`), then a page line."""
    return _started(exported.rows(caller, table, offset, limit))
