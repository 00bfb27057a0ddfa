"""A pure ASGI middleware that refuses request bodies over the configured size.

It checks Content-Length up front and counts streamed bytes as they arrive,
so an oversized body is answered with 413 before it is ever parsed.
"""

from __future__ import annotations

from typing import Any

import orjson

Scope = dict[str, Any]


class BodyTooLarge(Exception):
    """Raised inside the stream when the body passes the limit."""


class BodySizeLimit:
    """Wraps an ASGI app; bodies over `max_bytes` get a 413 JSON error."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        started = False

        async def limited_receive() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Any) -> None:
        body = orjson.dumps({
            "error": "payload_too_large",
            "detail": f"request body exceeds {self.max_bytes} bytes",
        })
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
