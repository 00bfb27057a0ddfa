"""One mapping from domain errors to HTTP answers: {"error": code, "detail": text}.

Every client mistake is a 4xx naming the problem; an unexpected exception is
a 500 and always a bug.  A 503 says the node cannot serve the request now
(a submission it cannot order or record: nothing was accepted, and a
Retry-After header says when to try again).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from ledger.errors import LedgerError
from node.api.limits import BodyTooLarge
from node.api.responses import JSONBody
from node.observability.request_ids import current_request_id
from node.pipeline.admission import NotAccepting, SubmissionRejected

log = logging.getLogger(__name__)

STATUS_BY_CODE = {
    "bad_encoding": 400,
    "bad_schema": 400,
    "bad_signature": 400,
    "unknown_contract": 400,
    "outside_validity_window": 400,
    "bad_request": 400,
    "bad_proof": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "replay": 409,
    "archived": 410,  # below the snapshot a node started from: ask a node with the whole chain
    "payload_too_large": 413,
    "header_fields_too_large": 431,  # answered by node/transport/head_limits.py, before any route
    "contract_violation": 422,
    "storage_unreadable": 503,  # a damaged database: not the caller's mistake, and not a bug
    # a submission the node cannot take now (nothing of it accepted; retry later)
    "ordering_unavailable": 503,
    "pending_backlog_full": 503,
    "storage_unavailable": 503,
}


class ApiError(LedgerError):
    """Raised by routes for HTTP-level problems (not found, forbidden, bad query)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


def error_response(code: str, detail: str, **extra: Any) -> JSONBody:
    """Return the JSON error body with the status that `code` maps to."""
    status = STATUS_BY_CODE.get(code, 400)
    return JSONBody({"error": code, "detail": detail, **extra}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into JSON errors."""

    @app.exception_handler(SubmissionRejected)
    async def _rejected(_request: Request, exc: SubmissionRejected) -> JSONBody:
        return error_response(exc.code, str(exc), index=exc.index, tx_id=exc.tx_id)

    @app.exception_handler(NotAccepting)
    async def _not_accepting(_request: Request, exc: NotAccepting) -> JSONBody:
        response = error_response(exc.code, str(exc))
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response

    @app.exception_handler(LedgerError)
    async def _ledger(_request: Request, exc: LedgerError) -> JSONBody:
        return error_response(exc.code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONBody:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return error_response("bad_request", problems or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONBody:
        code = {404: "not_found", 405: "bad_request", 413: "payload_too_large"}.get(
            exc.status_code, "bad_request"
        )
        response = error_response(code, str(exc.detail))
        response.status_code = exc.status_code
        response.headers.update(exc.headers or {})  # 405 says which methods are allowed
        return response

    @app.exception_handler(Exception)
    async def _bug(_request: Request, exc: Exception) -> JSONBody:
        if isinstance(exc, BodyTooLarge):
            return error_response("payload_too_large", "request body is too large")
        if isinstance(exc, ClientDisconnect):  # the client left mid-request: no one to answer
            log.info("a client disconnected before its request was read")
            return error_response("bad_request", "the client disconnected")
        log.exception("unhandled error (a bug)", exc_info=exc)
        request_id = current_request_id()  # answered outside the request-id middleware
        return JSONBody(
            {"error": "internal_error", "detail": "internal error; this is a bug"},
            status_code=500, headers={"X-Request-Id": request_id} if request_id else None,
        )
