"""Blocks: headers for every member; full contents for auditors; finality certificates."""

from __future__ import annotations

from fastapi import APIRouter, Query

from node.api.deps import MAX_INT, Caller, Height, Reads, found
from node.api.responses import JSONBody

router = APIRouter(prefix="/v1/blocks", tags=["blocks"])


@router.get("")
def list_blocks(
    reads: Reads, _caller: Caller,
    start: int = Query(0, alias="from", ge=0, le=MAX_INT), limit: int = Query(100, ge=1, le=1000),
) -> JSONBody:
    """Return up to `limit` block headers from height `from`."""
    return JSONBody({"blocks": reads.blocks(start, limit)})


@router.get("/{height}")
def get_block(reads: Reads, caller: Caller, height: Height) -> JSONBody:
    """Return one block: header and hash; auditors also get every transaction."""
    return JSONBody(found(reads.block(caller, height), f"block {height}"))


@router.get("/{height}/certificate")
def get_certificate(reads: Reads, _caller: Caller, height: Height) -> JSONBody:
    """Return the finality certificate of block `height`: the node attestations kept for it.

    The block is final when nodes of a quorum of organisations signed its
    header hash (`quorum` organisations; `final` says whether this node counts it so).
    """
    return JSONBody(found(reads.certificate(height), f"block {height}"))
