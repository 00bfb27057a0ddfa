"""The global transaction log: signed checkpoints and RFC 9162 inclusion/consistency proofs."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query

from node.api.deps import MAX_INT, Caller, Service, TxId, is_auditor, not_found
from node.api.errors import ApiError
from node.api.responses import JSONBody

router = APIRouter(prefix="/v1/log", tags=["log"])


@router.get("/checkpoint")
def checkpoint(
    service: Service, _caller: Caller, height: int | None = Query(None, ge=0, le=MAX_INT),
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
    final = service.final_height
    if height is not None and height > final:
        raise ApiError("not_found", f"block {height} is not final on this node (final height "
                                    f"{final}), so it has no checkpoint yet")
    header = service.checkpoints.header(final if height is None else height)
    if header is None:
        raise RuntimeError(f"final block {height} is not stored (a bug)")
    served = service.checkpoints.signed(header)
    return JSONBody(served.to_json(service.chain.chain_id))


def _size(service: Service, size: int | None) -> int:
    current = service.chain.log.size
    if size is None:
        return current
    if not 0 < size <= current:
        raise ApiError("bad_request", f"size must be between 1 and the log size {current}")
    return size


@router.get("/inclusion/{tx_id}")
def inclusion(
    tx_id: TxId, service: Service, caller: Caller, size: int | None = Query(None, ge=1, le=MAX_INT)
) -> JSONBody:
    """Prove that transaction `tx_id` is in the log of the given size (default: current)."""
    row = service.store.tx(tx_id)
    if row is None or not (is_auditor(caller) or caller.uscc in service.store.parties(tx_id)):
        raise not_found(f"transaction {tx_id}")
    with service.chain.lock:
        tree_size = _size(service, size)
        if row.log_index >= tree_size:
            raise ApiError("bad_request", f"transaction is at index {row.log_index}, "
                                          f"outside a log of size {tree_size}")
        proof = service.chain.log.inclusion_proof(row.log_index, tree_size)
        root = service.chain.log.root(tree_size)
    return JSONBody({
        "tx_id": tx_id, "leaf_index": row.log_index, "tree_size": tree_size,
        "leaf_hash": row.leaf_hash.hex(), "proof": [p.hex() for p in proof], "root": root.hex(),
    })


@router.get("/consistency")
def consistency(
    service: Service, _caller: Caller, first: int = Query(..., ge=1, le=MAX_INT),
    second: int | None = Query(None, ge=1, le=MAX_INT),
) -> JSONBody:
    """Prove that the log of size `first` is a prefix of the log of size `second`."""
    with service.chain.lock:
        second_size = _size(service, second)
        if first > second_size:
            raise ApiError("bad_request", "first must not exceed second")
        proof = service.chain.log.consistency_proof(first, second_size)
        roots = (service.chain.log.root(first), service.chain.log.root(second_size))
    return JSONBody({
        "first": first, "second": second_size, "first_root": roots[0].hex(),
        "second_root": roots[1].hex(), "proof": [p.hex() for p in proof],
    })


@router.get("/leaf/{index}")
def leaf(service: Service, caller: Caller, index: int = Path(ge=0, le=MAX_INT)) -> JSONBody:
    """Return the transaction at log position `index`, if the caller may see it."""
    row = service.store.tx_at_log_index(index)
    if row is None or not (is_auditor(caller) or caller.uscc in service.store.parties(row.id)):
        raise not_found(f"log entry {index}")
    return JSONBody({"tx_id": row.id, "leaf_index": index, "leaf_hash": row.leaf_hash.hex()})
