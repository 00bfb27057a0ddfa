"""A client several threads share is closed only once none of them is using it.

Closing an httpx client under a thread still reading let that thread's TLS
library write into whatever file next took the socket's descriptor number
(a node's fresh SQLite database, in CI).  These run a real TLS server on
loopback: a request under way when closing begins finishes, a stream being
read is cut short at once, and nothing starts after.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from node.transport.shared_client import ClientClosed, SharedClient
from tests.pki import shared_pki

SLOW_S = 0.5  # how long /slow takes to answer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(SLOW_S)
            self._send(b"done")
        elif self.path == "/endless":  # a line every 50 ms, like a watch that never ends
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b"6\r\nevent\n\r\n")
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                return
        else:
            self._send(b"ok")

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        """Quiet."""


@contextmanager
def _tls_server() -> Iterator[str]:
    files = shared_pki().node_files("shared-http-server")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files.cert, files.key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _client() -> SharedClient:
    return SharedClient(verify=shared_pki().node_context("shared-http-client"),
                        timeout=httpx.Timeout(5.0, read=30.0))


def test_a_request_under_way_when_closing_begins_finishes_and_none_starts_after() -> None:
    with _tls_server() as url:
        client = _client()
        assert client.request("GET", url + "/").text == "ok"
        answers: list[object] = []
        started = threading.Event()

        def ask() -> None:
            started.set()
            try:
                answers.append(client.request("GET", url + "/slow").text)
            except Exception as exc:  # a plain httpx.Client fails here: socket closed under it
                answers.append(exc)
        asker = threading.Thread(target=ask)
        asker.start()
        started.wait()
        time.sleep(SLOW_S / 5)  # the request is on the wire
        client.close()
        asker.join(timeout=10)
        assert answers == ["done"]
        assert client.closed
        with pytest.raises(ClientClosed, match="closed"):
            client.request("GET", url + "/")


def test_closing_cuts_a_stream_being_read_short_and_waits_for_its_reader() -> None:
    with _tls_server() as url:
        client = _client()
        lines: list[str] = []
        ended: list[BaseException] = []
        reading, left = threading.Event(), threading.Event()

        def read() -> None:
            try:
                with client.stream("GET", url + "/endless") as response:
                    try:
                        for line in response.iter_lines():
                            lines.append(line)
                            reading.set()
                    finally:
                        left.set()  # the stream's socket is still open here
            except httpx.HTTPError as exc:
                ended.append(exc)
        reader = threading.Thread(target=read)
        reader.start()
        assert reading.wait(timeout=10)
        began = time.monotonic()
        client.close()
        took = time.monotonic() - began
        assert left.is_set(), "the client was closed while its reader was still at work"
        reader.join(timeout=10)
        assert not reader.is_alive()
        assert len(ended) == 1 and lines and set(lines) == {"event"}
        assert took < 10, "closing waited out the stream's read timeout instead of cutting it"


def test_a_stream_asked_for_after_closing_is_refused() -> None:
    client = _client()
    client.close()
    with pytest.raises(ClientClosed), client.stream("GET", "https://127.0.0.1:9/"):
        pass
