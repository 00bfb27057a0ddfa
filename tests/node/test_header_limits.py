"""Request heads are capped while they arrive: 431 long before a huge head is read.

A real node (plain HTTP, and mutual TLS) on a loopback port, spoken to over
raw sockets, since no HTTP client sends what these tests send.  Each test
streams or packs an over-limit head and checks the answer: 431 with the JSON
error, `Connection: close`, and the connection closed after the node read a
bounded part of what the client meant to send.  The defaults are used
(`max_header_bytes` 32 KiB, `max_header_count` 100), and one test sets its own.
"""

from __future__ import annotations

import os
import select
import socket
import ssl
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from client.local_consortium.launcher import free_port, node_command
from tests.builders import make_orgs
from tests.node.support import signed_headers
from tests.nodes import RunningNode, node_tls, running_node, write_genesis
from tests.pki import shared_pki

HEAD_LIMIT = 32 * 1024  # NodeConfig.max_header_bytes by default
FIELD_LIMIT = 100  # NodeConfig.max_header_count by default
HUGE = 8 * 1024 * 1024  # what a client tries to send as one header line
PIECE = b"a" * (64 * 1024)
# The node stops reading at the limit plus about one socket read; what the client
# still gets into the kernel's buffers before it sees the answer is at most a few
# hundred KiB on loopback.  A node that reads the whole line reads all of HUGE.
READ_BOUND = HUGE // 4


@dataclass(frozen=True)
class Answer:
    """One HTTP response as read off the socket."""

    status: int
    headers: dict[str, str]
    body: bytes

    def error(self) -> dict[str, str]:
        """Return the JSON error body {error, detail}."""
        assert self.headers["content-type"].startswith("application/json"), self.headers
        answer = orjson.loads(self.body)
        assert set(answer) == {"error", "detail"}, answer
        return dict(answer)


@pytest.fixture(scope="module", params=["http", "https"])
def node(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    """A node serving plain HTTP, then one serving mutual TLS, with the default limits."""
    tmp = tmp_path_factory.mktemp(f"headers-{request.param}")
    settings = {}
    if request.param == "https":
        files = node_tls(1, make_orgs()["core"])
        settings = {"tls_cert_path": files.cert, "tls_key_path": files.key,
                    "tls_ca_path": files.ca}
    with running_node(tmp, **settings) as n:
        yield n


def connect(n: RunningNode) -> socket.socket:
    """Open a connection to `n` (presenting s1's member certificate on a TLS node).

    The send buffer is kept small, so what the client has sent is close to
    what has reached the node.
    """
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    sock.settimeout(20)
    sock.connect(("127.0.0.1", int(n.url.rsplit(":", 1)[1])))
    if n.url.startswith("https:"):
        context = shared_pki().member_context(n.orgs["s1"])
        return context.wrap_socket(sock, server_hostname="127.0.0.1")
    return sock


def answered(sock: socket.socket, buffer: bytearray) -> bool:
    """Read what the node has sent so far into `buffer`; return whether it answered or hung up.

    On TLS, a readable socket may carry only the server's session tickets.
    """
    if not (isinstance(sock, ssl.SSLSocket) and sock.pending()):
        if not select.select([sock], [], [], 0)[0]:
            return False
    sock.setblocking(False)
    try:
        buffer += sock.recv(65536)  # nothing at all: the node hung up
    except (ssl.SSLWantReadError, BlockingIOError):
        return False
    except OSError:  # reset
        pass
    finally:
        sock.settimeout(20)
    return True


def stream_line(sock: socket.socket, start: bytes, buffer: bytearray, size: int = HUGE,
                end: bytes = b"\r\n\r\n") -> int:
    """Send `start`, then `size` bytes of one line in pieces, then `end` (the head's end).

    Stops early once the node answers (kept in `buffer`) or hangs up; returns
    the bytes of the line sent.
    """
    sent = 0
    try:
        sock.sendall(start)
        while sent < size and not answered(sock, buffer):
            sock.sendall(PIECE)
            sent += len(PIECE)
        if sent >= size:
            sock.sendall(end)
    except OSError:  # reset or broken pipe: the node closed while we were sending
        pass
    return sent


def read_answer(sock: socket.socket, buffer: bytearray) -> Answer:
    """Read one response from `sock` (bytes left over stay in `buffer`)."""
    while b"\r\n\r\n" not in buffer:
        buffer += receive(sock)
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    length = int(headers["content-length"])
    buffer[:] = rest
    while len(buffer) < length:
        buffer += receive(sock)
    body = bytes(buffer[:length])
    del buffer[:length]
    return Answer(int(status_line.split()[1]), headers, body)


def receive(sock: socket.socket) -> bytes:
    """Return the next bytes from `sock`; raise AssertionError if it closed first."""
    data = sock.recv(65536)
    assert data, "the node closed the connection without (the rest of) an answer"
    return data


def closed(sock: socket.socket) -> bool:
    """Return whether the node closed `sock` (EOF or reset) with nothing more to say."""
    try:
        return sock.recv(65536) == b""
    except (ConnectionResetError, ssl.SSLError):
        return True


def request_head(path: str, extra: Sequence[tuple[str, str]] = (), method: str = "GET") -> bytes:
    """Return a request head (without the final empty line) with `extra` header fields."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in extra]
    return ("\r\n".join(lines) + "\r\n").encode()


def signed_get(n: RunningNode, path: str, padding: int = 0) -> bytes:
    """Return a complete GET of `path` signed by s1, with a padding header of `padding` bytes."""
    fields = list(signed_headers(n, n.orgs["s1"], "GET", path).items())
    if padding:
        fields.append(("X-Padding", "p" * padding))
    return request_head(path, fields) + b"\r\n"


def refused_for(answer: Answer, setting: str, limit: int) -> None:
    """Assert `answer` is the 431 that names `setting` and its value, closing the connection."""
    assert answer.status == 431, (answer.status, answer.body[:200])
    error = answer.error()
    assert error["error"] == "header_fields_too_large", error
    assert setting in error["detail"] and str(limit) in error["detail"], error
    assert answer.headers["connection"] == "close", answer.headers


def test_one_huge_header_line_is_refused_after_a_bounded_read(node: RunningNode) -> None:
    with connect(node) as sock:
        buffer = bytearray()
        sent = stream_line(sock, request_head("/v1/health") + b"X-Big: ", buffer)
        answer = read_answer(sock, buffer)
        print(f"{node.url}: answered {answer.status} after the client sent {sent} of {HUGE} "
              f"bytes of the header line")
        refused_for(answer, "max_header_bytes", HEAD_LIMIT)
        assert closed(sock)
    assert sent < READ_BOUND, sent


def test_a_huge_request_target_is_refused(node: RunningNode) -> None:
    with connect(node) as sock:
        buffer = bytearray()
        sent = stream_line(sock, b"GET /v1/health?q=", buffer,
                           end=b" HTTP/1.1\r\nHost: a\r\n\r\n")
        answer = read_answer(sock, buffer)
        refused_for(answer, "max_header_bytes", HEAD_LIMIT)
    assert sent < READ_BOUND, sent


def test_too_many_header_fields_are_refused(node: RunningNode) -> None:
    fields = [(f"X-Field-{i}", "v") for i in range(500)]
    with connect(node) as sock:
        sock.sendall(request_head("/v1/health", fields) + b"\r\n")
        refused_for(read_answer(sock, bytearray()), "max_header_count", FIELD_LIMIT)
        assert closed(sock)


def test_fields_up_to_the_count_pass_and_one_more_is_refused(node: RunningNode) -> None:
    with connect(node) as sock:  # Host plus 99 more: exactly the limit
        fields = [(f"X-Field-{i}", "v") for i in range(FIELD_LIMIT - 1)]
        sock.sendall(request_head("/v1/health", fields) + b"\r\n")
        assert read_answer(sock, bytearray()).status == 200
    with connect(node) as sock:
        fields = [(f"X-Field-{i}", "v") for i in range(FIELD_LIMIT)]
        sock.sendall(request_head("/v1/health", fields) + b"\r\n")
        refused_for(read_answer(sock, bytearray()), "max_header_count", FIELD_LIMIT)


def test_signed_requests_under_the_limit_still_work_then_an_oversized_one_is_refused(
    node: RunningNode,
) -> None:
    participant = node.participant("s1")
    try:
        assert participant.status()["height"] >= 0
    finally:
        participant.close()
    with connect(node) as sock:  # one keep-alive connection
        buffer = bytearray()
        sock.sendall(signed_get(node, "/v1/status", padding=HEAD_LIMIT - 2048))
        first = read_answer(sock, buffer)
        assert first.status == 200, first.body[:300]
        assert orjson.loads(first.body)["height"] >= 0
        sock.sendall(signed_get(node, "/v1/status"))
        assert read_answer(sock, buffer).status == 200
        sent = stream_line(sock, request_head("/v1/status") + b"X-Big: ", buffer)
        refused_for(read_answer(sock, buffer), "max_header_bytes", HEAD_LIMIT)
        assert closed(sock)
    assert sent < READ_BOUND, sent


def test_a_head_packed_in_one_write_is_measured_too(node: RunningNode) -> None:
    with connect(node) as sock:  # 40 KiB arrive, and end, in one read
        sock.sendall(request_head("/v1/health", [("X-Big", "b" * 40 * 1024)]) + b"\r\n")
        refused_for(read_answer(sock, bytearray()), "max_header_bytes", HEAD_LIMIT)


def test_pipelined_requests_are_answered_in_order_before_the_refusal(node: RunningNode) -> None:
    too_many = [(f"X-Field-{i}", "v") for i in range(500)]
    pipelined = (signed_get(node, "/v1/status") + request_head("/v1/health") + b"\r\n"
                 + request_head("/v1/health", too_many) + b"\r\n")
    with connect(node) as sock:
        sock.sendall(pipelined)
        buffer = bytearray()
        assert read_answer(sock, buffer).status == 200
        assert read_answer(sock, buffer).status == 200
        refused_for(read_answer(sock, buffer), "max_header_count", FIELD_LIMIT)
        assert not buffer and closed(sock)


def test_a_huge_head_right_behind_a_request_is_refused(node: RunningNode) -> None:
    with connect(node) as sock:  # the oversized head starts in the same write
        sock.sendall(request_head("/v1/health") + b"\r\n"
                     + request_head("/v1/health") + b"X-Big: ")
        buffer = bytearray()
        assert read_answer(sock, buffer).status == 200
        sent = stream_line(sock, b"", buffer)
        refused_for(read_answer(sock, buffer), "max_header_bytes", HEAD_LIMIT)
    assert sent < READ_BOUND, sent


def test_huge_trailer_fields_are_refused(node: RunningNode) -> None:
    body = b"[]"
    fields = [*signed_headers(node, node.orgs["s1"], "POST", "/v1/transactions", body).items(),
              ("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]
    start = (request_head("/v1/transactions", fields, method="POST") + b"\r\n"
             + b"%x\r\n%s\r\n0\r\nX-Trailer: " % (len(body), body))
    with connect(node) as sock:
        buffer = bytearray()
        sent = stream_line(sock, start, buffer)
        refused_for(read_answer(sock, buffer), "max_header_bytes", HEAD_LIMIT)
    assert sent < READ_BOUND, sent


def test_the_limits_are_node_settings(tmp_path: Path) -> None:
    with running_node(tmp_path, max_header_bytes=4096, max_header_count=10) as n:
        with connect(n) as sock:
            sock.sendall(request_head("/v1/health", [("X-Big", "b" * 5000)]) + b"\r\n")
            refused_for(read_answer(sock, bytearray()), "max_header_bytes", 4096)
        with connect(n) as sock:
            fields = [(f"X-Field-{i}", "v") for i in range(10)]
            sock.sendall(request_head("/v1/health", fields) + b"\r\n")
            refused_for(read_answer(sock, bytearray()), "max_header_count", 10)


@pytest.mark.parametrize("setting", ["MAX_HEADER_BYTES", "MAX_HEADER_COUNT"])
def test_a_limit_that_is_not_positive_stops_the_node_at_start(tmp_path: Path,
                                                              setting: str) -> None:
    write_genesis(tmp_path / "genesis.json", make_orgs())
    done = subprocess.run(
        node_command("serve", "--genesis", str(tmp_path / "genesis.json"), "--database",
                     f"sqlite:///{tmp_path / 'node.db'}", "--port", str(free_port())),
        env={**os.environ, f"LEDGER_{setting}": "0"}, capture_output=True, text=True,
        timeout=30)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "error: the node cannot start" in done.stderr
    assert f"{setting.lower()} (0) must be positive" in done.stderr, done.stderr
