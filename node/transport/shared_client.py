"""An HTTP client several threads share, closed only once none of them is using it.

`httpx.Client.close()` closes every pooled socket at once, also one that
another thread is still reading or writing.  The descriptor number is then
free, the next file this process opens gets it, and the TLS library of the
thread still at work goes on with that number: a fatal TLS alert (a 24-byte
record) was seen written into a fresh SQLite database that way, which then
read as "file is not a database".  A node closes its etcd client while the
ordering log's watch thread streams, and its peers' client while the
committer may be catching up, so this matters on every node stop.

So `close()` refuses new requests, shuts open streams down at the socket
level (a reader blocked on one wakes and sees the end, while its descriptor
stays taken), waits for every request and stream under way to finish, and
only then closes the client.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

log = logging.getLogger(__name__)
CLOSE_WAIT_S = 30.0  # longer than any read timeout a user of this client sets


class ClientClosed(RuntimeError):
    """A request was asked of a client that is closing or closed (nothing was sent)."""


class SharedClient:
    """An `httpx.Client` for several threads; see the module docstring for why."""

    def __init__(self, **settings: Any) -> None:
        """Make the client; `settings` are `httpx.Client` arguments (timeout, verify...)."""
        self._http = httpx.Client(**settings)
        self._cond = threading.Condition()
        self._busy = 0  # requests and streams under way
        self._sockets: set[socket.socket] = set()  # those of the open streams
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether `close()` was called."""
        return self._closed

    @contextmanager
    def _in_use(self) -> Iterator[None]:
        with self._cond:
            if self._closed:
                raise ClientClosed("the HTTP client is closed")
            self._busy += 1
        try:
            yield
        finally:
            with self._cond:
                self._busy -= 1
                self._cond.notify_all()

    def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        """Send one request and read its whole response (httpx `request` options)."""
        with self._in_use():
            return self._http.request(method, url, **options)

    @contextmanager
    def stream(self, method: str, url: str, **options: Any) -> Iterator[httpx.Response]:
        """Send a request and stream its response; `close()` cuts the stream short.

        A stream cut short raises an `httpx` transport error in its reader.
        """
        with self._in_use(), self._http.stream(method, url, **options) as response:
            sock = _socket_of(response)
            with self._cond:
                if sock is not None:
                    self._sockets.add(sock)
                if self._closed:  # closing began while the request was sent
                    _shut(sock)
            try:
                yield response
            finally:
                if sock is not None:
                    with self._cond:
                        self._sockets.discard(sock)

    def close(self, wait_s: float = CLOSE_WAIT_S) -> None:
        """Refuse new requests, cut open streams, wait for those under way, then close.

        If some request is still under way after `wait_s`, the connections
        are left open (to be freed with the process) rather than closed
        under it.
        """
        with self._cond:
            self._closed = True
            for sock in self._sockets:
                _shut(sock)
            idle = self._cond.wait_for(lambda: self._busy == 0, timeout=wait_s)
        if idle:
            self._http.close()
        else:
            log.warning("an HTTP request was still under way %.0f s after closing began; "
                        "its connections are left open", wait_s)


def _socket_of(response: httpx.Response) -> socket.socket | None:
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    return sock if isinstance(sock, socket.socket) else None


def _shut(sock: socket.socket | None) -> None:
    """Shut `sock` down both ways, keeping its descriptor (the reader's thread closes it).

    The plain socket method is called even on a TLS socket: the TLS one
    would also drop the TLS state that the reading thread is using.
    """
    if sock is None:
        return
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:  # already shut, or never connected
        pass
