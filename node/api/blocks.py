"""Blocks: headers for every member; full contents for auditors."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Query

from ledger.attestation import quorum_size
from ledger.block import BlockHeader
from ledger.canonical import JSONValue, parse_json
from node.api.deps import MAX_INT, Caller, Height, Service, is_auditor, not_found
from node.api.responses import JSONBody
from node.storage.models import TxRow

router = APIRouter(prefix="/v1/blocks", tags=["blocks"])


def header_json(raw: bytes) -> dict[str, JSONValue]:
    """Return a stored header with its hash, as served."""
    header = BlockHeader.from_json(parse_json(raw))
    return {"hash": header.hash(), "header": header.to_json()}


def tx_json(row: TxRow) -> dict[str, JSONValue]:
    """Return a stored transaction as served to auditors."""
    return {
        "tx_id": row.id, "log_index": row.log_index, "valid": row.valid, "code": row.code,
        "reason": row.reason, "envelope": orjson.loads(row.envelope),
        "events": orjson.loads(row.events),
    }


@router.get("")
def list_blocks(
    service: Service, _caller: Caller,
    start: int = Query(0, alias="from", ge=0, le=MAX_INT), limit: int = Query(100, ge=1, le=1000),
) -> JSONBody:
    """Return up to `limit` block headers from height `from`."""
    return JSONBody({"blocks": [header_json(h) for h in service.store.headers(start, limit)]})


@router.get("/{height}")
def get_block(
    service: Service, caller: Caller, height: Height
) -> JSONBody:
    """Return one block: header and hash; auditors also get every transaction."""
    raw = service.store.block_header(height)
    if raw is None:
        raise not_found(f"block {height}")
    body = header_json(raw)
    if is_auditor(caller):
        body["transactions"] = [tx_json(row) for row in service.store.block_txs(height)]
    return JSONBody(body)


@router.get("/{height}/certificate")
def get_certificate(
    service: Service, _caller: Caller, height: Height
) -> JSONBody:
    """Return the finality certificate of block `height`: the node attestations kept for it.

    The block is final when nodes of a quorum of organisations signed its
    header hash (`quorum` organisations; `final` says whether this node counts it so).
    """
    raw = service.store.block_header(height)
    if raw is None:
        raise not_found(f"block {height}")
    finality = service.finality
    if finality is None:
        raise not_found(f"a certificate for block {height} (this node is not on a network)")
    nodes = finality.nodes()
    return JSONBody({
        "height": height, "header_hash": BlockHeader.from_json(parse_json(raw)).hash(),
        "quorum": quorum_size(nodes.values()), "final": height <= finality.final_height,
        "attestations": [a.to_json() for a in finality.certificate(height)],
        "nodes": {n.id: n.org for n in nodes.values()},
    })
