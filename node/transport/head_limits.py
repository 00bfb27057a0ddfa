"""Caps on request heads, enforced in uvicorn's HTTP protocol while the bytes arrive.

Bodies are capped in ASGI (`node/api/limits.py`), but by the time ASGI sees a
request its head is already in memory: httptools keeps a header line until
it ends, so one unending line grows the node without bound.  This protocol,
a small subclass of uvicorn's `HttpToolsProtocol`, counts each request's
field section as it is parsed and refuses it at `max_header_bytes` or
`max_header_count` with 431 and a JSON error, then closes the connection
without reading the rest.  Trailer fields of a chunked body count with the
head of their request: they take the same path into memory.

Two measures, either of which refuses:
- what the parser reports: the request target, and each field as its name
  and value plus 4 bytes for `: ` and CRLF (this sees a head that arrives
  whole, in one read);
- bytes received while the parser makes no progress (no body, no finished
  head or message): the unfinished line it is holding.  A read in which it
  did progress is not counted, so the node reads at most the limit plus
  about one socket read (256 KiB) before it refuses.

Earlier pipelined requests on the connection are answered first; the 431
follows them.  uvicorn logs its generic "Invalid HTTP request received."
when the parser is stopped; the 431 is what the client gets.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from node.config import NodeConfig

STATUS_LINE = b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
FIELD_LINE_OVERHEAD = len(b": \r\n")


class HeadTooLarge(Exception):
    """Raised in a parser callback to stop parsing a head over the limits."""


class HeadLimitedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing request heads over the class's limits."""

    max_header_bytes = NodeConfig.max_header_bytes
    max_header_count = NodeConfig.max_header_count

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._field_bytes = 0  # this request's target and fields, as parsed
        self._field_count = 0
        self._stalled_bytes = 0  # bytes received since the parser last progressed
        self._progressed = False
        self._in_body = False  # head done, message not: fields now are trailers
        self._refusal: str | None = None  # why this connection is refused, once it is

    # The parser's callbacks: count, and stop the parser over a limit.  They run for
    # every request and field, so they call the base methods directly: cheaper than
    # super() (scripts/bench_head_limits.py: +2.5-3.5 us a request, against +5-6).
    def on_message_begin(self) -> None:
        self._field_bytes = self._field_count = 0
        HttpToolsProtocol.on_message_begin(self)

    def on_url(self, url: bytes) -> None:
        self._field_bytes += len(url)
        if self._field_bytes > self.max_header_bytes:
            self._stop()
        HttpToolsProtocol.on_url(self, url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._field_count += 1
        self._field_bytes += len(name) + len(value) + FIELD_LINE_OVERHEAD
        if self._field_count > self.max_header_count or self._field_bytes > self.max_header_bytes:
            self._stop()
        HttpToolsProtocol.on_header(self, name, value)

    def on_headers_complete(self) -> None:
        self._progressed = self._in_body = True
        HttpToolsProtocol.on_headers_complete(self)

    def on_body(self, body: bytes) -> None:
        self._progressed = True
        HttpToolsProtocol.on_body(self, body)

    def on_message_complete(self) -> None:
        self._progressed, self._in_body = True, False
        HttpToolsProtocol.on_message_complete(self)

    def _stop(self) -> None:
        """Refuse the request over a limit, and stop the parser (raises HeadTooLarge)."""
        if self._field_count > self.max_header_count:
            self._refuse(f"more than {self.max_header_count} header fields (max_header_count)")
        else:
            self._refuse(self._too_many_bytes())
        raise HeadTooLarge

    def _too_many_bytes(self) -> str:
        return f"request header fields exceed {self.max_header_bytes} bytes (max_header_bytes)"

    # uvicorn's protocol methods
    def data_received(self, data: bytes) -> None:
        """Parse `data` as uvicorn does; refuse once an unfinished head passes the limit."""
        if self._refusal is not None:
            return  # refused: nothing more from this client is parsed
        self._progressed = False
        super().data_received(data)
        self._stalled_bytes = 0 if self._progressed else self._stalled_bytes + len(data)
        if self._refusal is None and self._stalled_bytes > self.max_header_bytes:
            self._refuse(self._too_many_bytes())

    def send_400_response(self, msg: str) -> None:
        """Answer a malformed request with 400, unless the parser stopped for a refusal."""
        if self._refusal is None:
            super().send_400_response(msg)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._refusal is not None and not self.transport.is_closing():
            self.transport.pause_reading()  # uvicorn resumed it for the next request
            if not self._owes_answers():
                self._answer_and_close()

    # Refusing
    def _refuse(self, reason: str) -> None:
        """Stop reading; answer 431 now, or once earlier pipelined requests are answered."""
        self._refusal = reason
        self.transport.pause_reading()
        if self._in_body and self._cut_off_current_request():
            self.transport.close()  # its answer has begun, or others wait: no room for a 431
        elif not self._owes_answers():
            self._answer_and_close()

    def _cut_off_current_request(self) -> bool:
        """Tell the app its request (whose trailers are refused) is gone.

        Return whether no 431 can be sent: the app has begun its answer, or
        the request still waits behind others in the pipeline.
        """
        cycle = self.cycle
        cycle.disconnected = True
        cycle.message_event.set()
        return cycle.response_started or bool(self.pipeline)

    def _owes_answers(self) -> bool:
        """Return whether requests before the refused one still await their answers."""
        cycle = self.cycle
        busy = cycle is not None and not cycle.response_complete and not cycle.disconnected
        return busy or bool(self.pipeline)

    def _answer_and_close(self) -> None:
        body = orjson.dumps({"error": "header_fields_too_large", "detail": self._refusal})
        head = [STATUS_LINE]
        head += [name + b": " + value + b"\r\n"
                 for name, value in self.server_state.default_headers]
        head += [b"content-type: application/json\r\n",
                 b"content-length: %d\r\n" % len(body), b"connection: close\r\n\r\n"]
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def protocol_class(config: NodeConfig) -> type[asyncio.Protocol]:
    """Return the protocol uvicorn should serve `config`'s node with (one per connection).

    Raises ValueError if a limit is not positive.
    """
    limits = {"max_header_bytes": config.max_header_bytes,
              "max_header_count": config.max_header_count}
    wrong = [f"{name} ({value})" for name, value in limits.items() if value < 1]
    if wrong:
        raise ValueError(f"{' and '.join(wrong)} must be positive")

    class ConfiguredProtocol(HeadLimitedProtocol):
        max_header_bytes = config.max_header_bytes
        max_header_count = config.max_header_count

    return ConfiguredProtocol
