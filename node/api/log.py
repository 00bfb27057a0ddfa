"""The global transaction log: signed checkpoints and RFC 9162 inclusion/consistency proofs."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query

from node.api.deps import MAX_INT, Caller, Reads, TxId, found
from node.api.responses import JSONBody

router = APIRouter(prefix="/v1/log", tags=["log"])


@router.get("/checkpoint")
def checkpoint(
    reads: Reads, _caller: Caller, height: int | None = Query(None, ge=0, le=MAX_INT),
) -> JSONBody:
    """Return the signed checkpoint of the final block, or of final block `height`.

    Fields: chain_id, size, root (hex), height, block_hash, and `checkpoint`,
    the C2SP signed note with every cosignature that verifies (`cosigners`
    names them); with none, `checkpoint` is null and `unsigned` says why.
    Only final blocks have checkpoints: a quorum signed them.  `genesis` is
    true for block 0, which is the exception: no node attests the genesis,
    so its checkpoint has fewer cosigners than a quorum, and `genesis_trust`
    says how to trust it instead: derive it from the genesis file.
    """
    return JSONBody(reads.checkpoint(height))


@router.get("/inclusion/{tx_id}")
def inclusion(
    tx_id: TxId, reads: Reads, caller: Caller, size: int | None = Query(None, ge=1, le=MAX_INT)
) -> JSONBody:
    """Prove that transaction `tx_id` is in the log of the given size (default: current)."""
    return JSONBody(found(reads.inclusion(caller, tx_id, size), f"transaction {tx_id}"))


@router.get("/consistency")
def consistency(
    reads: Reads, _caller: Caller, first: int = Query(..., ge=1, le=MAX_INT),
    second: int | None = Query(None, ge=1, le=MAX_INT),
) -> JSONBody:
    """Prove that the log of size `first` is a prefix of the log of size `second`."""
    return JSONBody(reads.consistency(first, second))


@router.get("/leaf/{index}")
def leaf(reads: Reads, caller: Caller, index: int = Path(ge=0, le=MAX_INT)) -> JSONBody:
    """Return the transaction at log position `index`, if the caller may see it."""
    return JSONBody(found(reads.leaf(caller, index), f"log entry {index}"))
