"""Submitting transactions and asking what became of them."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from node.api.deps import Caller, Reads, Submissions, TxId, found
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
    request: Request, submissions: Submissions, _caller: Caller,
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
    answer = await submissions.accept(await request.body(), wait=wait, timeout=timeout)
    return JSONBody(answer, status_code=200 if wait else 202)


@router.get("/{tx_id}")
def status(tx_id: TxId, reads: Reads, caller: Caller) -> JSONBody:
    """Return a transaction's status (pending, committed, invalid with reason) and envelope."""
    return JSONBody(found(reads.transaction(caller, tx_id), f"transaction {tx_id}"))
