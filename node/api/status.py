"""Liveness, chain status and the per-participant event feed."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Query, Request

from node.api.deps import Caller, Service
from node.api.responses import JSONBody
from node.clock import timestamp

router = APIRouter(prefix="/v1", tags=["status"])


@router.get("/health")
def health(request: Request) -> JSONBody:
    """Answer whether the process is up and which chain it serves (unauthenticated)."""
    return JSONBody({"ok": True, "chain_id": request.app.state.service.chain.chain_id})


@router.get("/status")
def status(service: Service, _caller: Caller) -> JSONBody:
    """Return the chain id, head, log size, node time and pending count."""
    head = service.chain.head
    return JSONBody({
        "chain_id": service.chain.chain_id, "node_id": service.config.node_id,
        "height": head.height, "head_hash": head.hash(), "log_size": head.log_size,
        "time": timestamp(service.clock), "pending": len(service.mempool.pending),
    })


@router.get("/events")
def events(
    service: Service, caller: Caller, after: int = Query(-1, ge=-1),
    limit: int = Query(100, ge=1, le=1000),
) -> JSONBody:
    """Return committed transactions after block `after` that the caller is party to.

    Poll with `after` set to the last height received to follow the feed.
    """
    feed = []
    for tx_id in service.store.tx_ids_for_party(caller.uscc, after, limit):
        row = service.store.tx(tx_id)
        if row is not None:
            feed.append({
                "tx_id": row.id, "height": row.height, "contract": row.contract,
                "action": row.action, "valid": row.valid, "reason": row.reason,
                "events": orjson.loads(row.events),
            })
    return JSONBody({"events": feed})
