"""Simulation-only routes, mounted only when the node runs on a manual clock.

The demo compresses ninety days into seconds by moving the node's clock
forward.  A production node (system clock) has no such route: it answers 404.
Only the organisations named in the node's `clock_controllers` setting may
move it (the launcher names the simulation's auditor), and never past
`LATEST_SIMULATED`: whoever moves time moves every deadline of the ledger.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request

from node.api.deps import Caller, Service
from node.api.errors import ApiError
from node.api.responses import JSONBody

router = APIRouter(prefix="/v1/admin", tags=["simulation"])
MAX_ADVANCE_DAYS = 3660


CLOCK_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "additionalProperties": False,
    "properties": {"days": {"type": "integer", "minimum": 0, "maximum": MAX_ADVANCE_DAYS},
                   "seconds": {"type": "integer", "minimum": 0,
                               "maximum": MAX_ADVANCE_DAYS * 86_400}}}}}}}


@router.post("/clock", openapi_extra=CLOCK_BODY)
async def advance_clock(request: Request, service: Service, caller: Caller) -> JSONBody:
    """Move the manual clock forward by {"days": d, "seconds": s} (clock controllers only)."""
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise ApiError("bad_encoding", f"request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict) or not set(body) <= {"days", "seconds"}:
        raise ApiError("bad_schema", 'send {"days": d, "seconds": s}')
    days, seconds = body.get("days", 0), body.get("seconds", 0)
    valid = all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (days, seconds))
    if not valid or days > MAX_ADVANCE_DAYS or seconds > MAX_ADVANCE_DAYS * 86_400:
        raise ApiError("bad_schema", f"days and seconds must be non-negative integers "
                                     f"(at most {MAX_ADVANCE_DAYS} days)")
    return JSONBody({"time": service.advance_clock(caller, days=days, seconds=seconds)})
