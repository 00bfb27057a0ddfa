"""Request ids: every answer says which request it was, and the log says the same.

A client may send `X-Request-Id` (1 to 64 letters, digits, `.`, `_`, `:` or
`-`); otherwise, or when what it sent is not that, the node makes one.  The
id is echoed in the answer's `X-Request-Id` header and stamped on every log
line written while the request is handled (node/observability/logs.py).
Each finished request is logged at debug level, and at info when the answer
is an error, so the hot path writes nothing at the default level.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any
from urllib.parse import quote

from node.observability.logs import REQUEST_ID

log = logging.getLogger(__name__)
HEADER = b"x-request-id"
VALID_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    """Return the request's own id if it sent a well-formed one, else a new one."""
    for name, value in headers:
        if name == HEADER and VALID_ID.fullmatch(value):
            return value.decode("ascii")
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    """Return the id of the request being handled in this context, if any."""
    return REQUEST_ID.get()


class RequestIds:
    """ASGI middleware: gives each HTTP request an id, echoes it, logs the outcome."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope.get("headers") or [])
        # Each request runs in its own asyncio task, so the id set here is seen by
        # this request only; it is left set after an exception, for the 500 handler.
        REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", []), (HEADER, request_id.encode("ascii"))]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)
        level = logging.INFO if status >= 400 else logging.DEBUG
        if log.isEnabledFor(level):
            # the path as sent (percent-encoded): a decoded one could break the log's lines
            raw = scope.get("raw_path")
            path = raw.decode("ascii", "replace") if raw else quote(scope["path"])
            log.log(level, "%s %s answered %d in %.1f ms", scope["method"], path, status,
                    (time.perf_counter() - started) * 1000,
                    extra={"status": status, "method": scope["method"], "path": path})
