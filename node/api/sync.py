"""Block sync between nodes: certified blocks for a node that fell behind the log.

Only registered nodes may call this (a request signed with a node key); a
node that was away past the compaction of the ordering log fetches each
missing block with its transactions, the signed batch it was made from
(base64; null where none is kept) and its finality certificate, checks the
certificate and the batch, and re-executes the block itself
(node/finality/catch_up.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from ledger.attestation import NodeInfo
from node.api.auth import RecentNonces, authenticate_node
from node.api.deps import (
    MAX_INT,
    Reads,
    get_service,
    plain_integers,
    signed_target,
    single_query_values,
)
from node.api.responses import JSONBody

router = APIRouter(prefix="/v1/sync", tags=["sync"])
MAX_SYNC_BLOCKS = 100


async def get_node_caller(request: Request) -> NodeInfo:
    """Return the registered node that signed this request (401 otherwise)."""
    nonces: RecentNonces = request.app.state.request_nonces
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    node = authenticate_node(get_service(request), nonces, method=request.method,
                             path=signed_target(request), headers=headers, body=body)
    single_query_values(request)
    plain_integers(request)
    return node


NodeCaller = Annotated[NodeInfo, Depends(get_node_caller)]


@router.get("/blocks")
def certified_blocks(
    reads: Reads, _node: NodeCaller,
    start: int = Query(1, alias="from", ge=1, le=MAX_INT),
    limit: int = Query(20, ge=1, le=MAX_SYNC_BLOCKS),
) -> JSONBody:
    """Return final blocks from height `from`: header, transactions and certificate.

    Only blocks this node counts as final are served, so a peer never
    re-executes a block a quorum has not signed.
    """
    return JSONBody(reads.certified_blocks(start, limit))
