"""Submitting transactions and asking what became of them."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request

from ledger.canonical import JSONValue
from node.api.deps import Caller, Service, TxId, is_auditor, not_found, served_events
from node.api.errors import ApiError
from node.api.responses import JSONBody

router = APIRouter(prefix="/v1/transactions", tags=["transactions"])

SUBMIT_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {
            "description": "One envelope {body, signatures}, or {transactions: [envelope, ...]}",
            "type": "object",
        }}},
    }
}


@router.post("", status_code=202, openapi_extra=SUBMIT_SCHEMA)
async def submit(
    request: Request, service: Service, _caller: Caller,
    wait: bool = Query(False, description="hold the answer until every transaction commits"),
    timeout: float = Query(30.0, gt=0, le=120, description="seconds to wait when wait=true"),
) -> JSONBody:
    """Accept one signed envelope or a batch; all are checked and accepted, or none.

    Accepted transactions are recorded in the node's database before the
    answer (202, or 200 with `wait`), so the node orders them even if it
    crashes meanwhile; with `wait`, one not committed in time is reported
    `pending`.  While the node cannot order (or its backlog is full) the
    answer is 503 with a Retry-After header, and nothing was accepted.
    """
    items = _envelopes(await request.body(), service.config.max_batch_txs)
    envelopes = service.parse_submission(items)
    await service.verify_signatures(envelopes)
    futures = [(e.tx_id, service.waiters.register(e.tx_id)) for e in envelopes] if wait else []
    try:
        # in a worker thread: recording the submission waits for the disk (and for a
        # block being written), and the event loop serves other requests meanwhile
        ids = await asyncio.to_thread(service.submit, envelopes)
    except Exception:
        for tx_id, future in futures:
            service.waiters.discard(tx_id, future)
        raise
    if not wait:
        return JSONBody({"accepted": ids}, status_code=202)
    results = await _wait_all(service, futures, timeout)
    return JSONBody({"accepted": ids, "results": results}, status_code=200)


def _envelopes(raw: bytes, limit: int) -> list[Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError("bad_encoding", f"request body is not valid JSON: {exc}") from exc
    if isinstance(value, dict) and set(value) == {"transactions"}:
        items = value["transactions"]
        if not isinstance(items, list) or not items:
            raise ApiError("bad_schema", "'transactions' must be a non-empty list")
        if len(items) > limit:
            raise ApiError("payload_too_large", f"at most {limit} transactions per request")
        return items
    if isinstance(value, dict):
        return [value]
    raise ApiError("bad_schema", "send one envelope object or {\"transactions\": [...]}")


async def _wait_all(
    service: Service, futures: list[tuple[str, asyncio.Future[Any]]], timeout: float
) -> list[JSONValue]:
    done, _ = await asyncio.wait([f for _, f in futures], timeout=timeout)
    results: list[JSONValue] = []
    for tx_id, future in futures:
        if future in done:
            results.append(service.committed_status(future.result()))
        else:
            service.waiters.discard(tx_id, future)
            results.append({"tx_id": tx_id, "status": "pending"})
    return results


@router.get("/{tx_id}")
def status(tx_id: TxId, service: Service, caller: Caller) -> JSONBody:
    """Return a transaction's status (pending, committed, invalid with reason) and envelope."""
    info = service.tx_status(tx_id)
    if info is None:
        raise not_found(f"transaction {tx_id}")
    pending = service.mempool.pending.get(tx_id)
    if pending is not None:
        allowed = caller.uscc in pending.body.signers or is_auditor(caller)
    else:
        allowed = is_auditor(caller) or caller.uscc in service.store.parties(tx_id)
    if not allowed:
        raise not_found(f"transaction {tx_id}")
    row = service.store.tx(tx_id)
    if row is not None:
        info = {**info, "envelope": orjson.loads(row.envelope),
                "events": served_events(caller, row.events)}
    return JSONBody(info)
