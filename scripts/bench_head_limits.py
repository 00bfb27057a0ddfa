"""Benchmark what the head limits cost: server CPU per request, with and without them.

    python scripts/bench_head_limits.py [--rounds 1000] [--repeat 3]

Serves a trivial ASGI app twice, in two processes: with uvicorn's own
httptools protocol, and with the node's HeadLimitedProtocol
(node/transport/head_limits.py).  One connection to each pipelines batches of 100 GETs
with a head like a signed SDK request's (9 fields, about 400 bytes), and
the server process's CPU time (user + system, from /proc/PID/stat) is
divided by the requests.  CPU time, not wall time: these machines are
shared, and other work inflates wall time far more than CPU time.  The app
does nothing, so the difference is the protocol's own cost; a node request
costs 100 us or more besides.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from client.local_consortium.launcher import free_port

HEAD = (b"GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1:8600\r\nAccept: */*\r\n"
        b"Accept-Encoding: gzip, deflate\r\nUser-Agent: python-httpx/0.28.1\r\n"
        b"X-Ledger-Member: 91310000MA1FL0000X\r\nX-Ledger-Time: 2026-01-05T00:00:00Z\r\n"
        b"X-Ledger-Nonce: 0123456789abcdef0123456789abcdef\r\n"
        b"X-Ledger-Signature: " + b"A" * 88 + b"\r\n\r\n")
BATCH = 100


async def trivial_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer every HTTP request 200 "ok"."""
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


def serve(port: int, kind: str) -> None:
    """Serve the trivial app on `port` with uvicorn's protocol or the limited one."""
    import uvicorn

    from node.transport.head_limits import HeadLimitedProtocol

    http: Any = HeadLimitedProtocol if kind == "limited" else "httptools"
    uvicorn.run(trivial_app, port=port, http=http, log_level="warning", access_log=False)


def cpu_seconds(pid: int) -> float:
    """Return the process's user + system CPU time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drive(sock: socket.socket, rounds: int) -> None:
    """Send `rounds` batches of pipelined requests, reading every answer."""
    for _ in range(rounds):
        sock.sendall(HEAD * BATCH)
        answers = b""
        while answers.count(b"HTTP/1.1 200") < BATCH:
            answers += sock.recv(1 << 20)


def cost_per_request(port: int, pid: int, rounds: int) -> float:
    """Return the server's CPU microseconds per request over `rounds` batches."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        drive(sock, 20)  # warm up
        before = cpu_seconds(pid)
        drive(sock, rounds)
        return (cpu_seconds(pid) - before) / (rounds * BATCH) * 1e6


def start(kind: str) -> tuple[subprocess.Popen[bytes], int]:
    """Start a server of `kind` in a child process; return it and its port once it answers."""
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(port), kind])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the {kind} server did not start")


def main() -> int:
    """Measure both protocols `--repeat` times, alternating; print each figure."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=1000, help="batches of 100 requests")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "KIND"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1])
        return 0
    servers = {kind: start(kind) for kind in ("httptools", "limited")}
    try:
        for _ in range(args.repeat):
            for kind, (process, port) in servers.items():
                cost = cost_per_request(port, process.pid, args.rounds)
                print(f"{kind:>10}: {cost:5.1f} us server CPU per request")
    finally:
        for process, _port in servers.values():
            process.terminate()
            process.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
