"""Simulation-only routes, mounted only when the node runs on a manual clock.

The demo compresses ninety days into seconds by moving the node's clock
forward.  A production node (system clock) has no such route: it answers 404.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request

from node.api.deps import Caller, Service
from node.api.errors import ApiError
from node.api.responses import JSONBody
from node.clock import ManualClock, timestamp

router = APIRouter(prefix="/v1/admin", tags=["simulation"])
MAX_ADVANCE_DAYS = 3660


@router.post("/clock")
async def advance_clock(request: Request, service: Service, _caller: Caller) -> JSONBody:
    """Move the manual clock forward by {"days": d, "seconds": s}."""
    if not isinstance(service.clock, ManualClock):
        raise ApiError("not_found", "this node runs on the system clock")
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
    service.clock.advance(days=days, seconds=seconds)
    return JSONBody({"time": timestamp(service.clock)})
