"""The world state as one value: its digest after a final block (ledger/state_digest.py)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from node.api.deps import MAX_INT, Caller, Reads
from node.api.responses import JSONBody

router = APIRouter(prefix="/v1/state", tags=["state"])


@router.get("/digest")
def digest(
    reads: Reads, _caller: Caller, height: int | None = Query(None, ge=0, le=MAX_INT),
) -> JSONBody:
    """Return the state digest after the final block, or after final block `height`.

    Fields: height, block_hash (the block it follows), algorithm
    (`muhash3072-sha256/v1`) and digest (64 hex digits): MuHash3072 over
    every (key, value) of the world state (docs/FORMATS.md, "The state
    digest"), cosigners and state_note: the block's state note signed by
    the nodes whose signatures verify against this node's digest (null if
    none; ledger/state_note.py).  Any member may ask; an auditor's replay
    computes the same.
    """
    return JSONBody(reads.state_digest(height))
