"""Liveness, chain status and the per-participant event feed."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from ledger.attestation import quorum_size
from node.api.deps import MAX_INT, Caller, Service, served_events
from node.api.responses import JSONBody
from node.clock import timestamp

router = APIRouter(prefix="/v1", tags=["status"])


@router.get("/health")
def health(request: Request) -> JSONBody:
    """Answer whether the process is up, which chain it serves and its node id (unauthenticated).

    A member signs every other request for this chain and this node id.
    """
    service = request.app.state.service
    return JSONBody({"ok": True, "chain_id": service.chain.chain_id,
                     "node_id": service.config.node_id})


@router.get("/status")
def status(service: Service, _caller: Caller) -> JSONBody:
    """Return the chain id, head, final height, log size, node time and pending count.

    `final_height`: on a network, blocks up to it are signed by nodes of a
    quorum of organisations; on a single node, every committed block.
    `diverged` holds the evidence if this node computed a block differently
    from a quorum (it then commits nothing more); `contract_code_mismatch`
    says why, if the next block is pinned to contract code other than this
    node's (it then commits nothing more either).  `ordering_available` is
    false while the node's last append to its orderer failed (and none
    succeeded since); `ordering_problem` says why.  Meanwhile it refuses
    submissions with 503, as it does when `pending` reaches `pending_limit`.
    """
    head = service.chain.head
    finality = service.finality
    divergence = finality.divergence if finality is not None else None
    problem = service.mempool.ordering_problem
    return JSONBody({
        "chain_id": service.chain.chain_id, "node_id": service.config.node_id,
        "height": head.height, "head_hash": head.hash(), "log_size": head.log_size,
        "final_height": service.final_height,
        "diverged": divergence.to_json() if divergence is not None else None,
        "contract_code_mismatch": service.code_mismatch,
        "time": timestamp(service.clock), "pending": len(service.mempool.pending),
        "pending_limit": service.config.max_pending_txs,
        "ordering_available": problem is None, "ordering_problem": problem,
    })


@router.get("/nodes")
def nodes(service: Service, _caller: Caller) -> JSONBody:
    """Return the registered nodes (id, organisation, key) and the quorum of organisations.

    These are the keys that cosign checkpoints; a light client that is not
    given them fetches them here once and pins them (client/lightclient.py).
    """
    registered = service.chain.nodes()
    return JSONBody({
        "nodes": [registered[n].to_json() for n in sorted(registered)],
        "quorum": quorum_size(registered.values()) if registered else 0,
    })


@router.get("/events")
def events(
    service: Service, caller: Caller, after: int = Query(-1, ge=-1, le=MAX_INT),
    limit: int = Query(100, ge=1, le=1000),
) -> JSONBody:
    """Return, in log order, committed transactions the caller is party to after log index
    `after`.

    Follow the feed by passing the `log_index` of the last entry received.
    """
    feed = [{
        "tx_id": row.id, "log_index": row.log_index, "height": row.height,
        "contract": row.contract, "action": row.action, "valid": row.valid,
        "reason": row.reason, "events": served_events(caller, row.events),
    } for row in service.store.txs_for_party(caller.uscc, after, limit)]
    return JSONBody({"events": feed})
