"""Liveness, chain status, the registered nodes, the policies in force and the event feed."""

from __future__ import annotations

from fastapi import APIRouter, Query

from node.api.deps import MAX_INT, Caller, Reads
from node.api.responses import JSONBody

router = APIRouter(prefix="/v1", tags=["status"])


@router.get("/health")
def health(reads: Reads) -> JSONBody:
    """Answer whether the process is up, which chain it serves and its node id (unauthenticated).

    A member signs every other request for this chain and this node id.
    """
    return JSONBody(reads.health())


@router.get("/status")
def status(reads: Reads, _caller: Caller) -> JSONBody:
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
    return JSONBody(reads.status())


@router.get("/nodes")
def nodes(reads: Reads, _caller: Caller) -> JSONBody:
    """Return the registered nodes (id, organisation, key) and the quorum of organisations.

    These are the keys that cosign checkpoints; a light client that is not
    given them fetches them here once and pins them (the SDK's light client).
    """
    return JSONBody(reads.nodes())


@router.get("/policies")
def policies(reads: Reads, _caller: Caller) -> JSONBody:
    """Return the policy parameters in force now, and the block height they are as of.

    `policies` maps each name to the version in force at `height` (the
    node's head): its `value` and the `from_height` it applies from (a
    policy's version).  `scheduled` lists versions governance set for a
    later height, in the order they take effect; a transaction runs at the
    height of the block it lands in (at least `height` + 1).  Every member
    may read them.
    """
    return JSONBody(reads.policies())


@router.get("/events")
def events(
    reads: Reads, caller: Caller, after: int = Query(-1, ge=-1, le=MAX_INT),
    limit: int = Query(100, ge=1, le=1000),
) -> JSONBody:
    """Return, in log order, committed transactions the caller is party to after log index
    `after`.

    Follow the feed by passing the `log_index` of the last entry received.
    """
    return JSONBody({"events": reads.events(caller, after, limit)})
