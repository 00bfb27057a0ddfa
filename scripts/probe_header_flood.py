"""Measure a node process's memory while clients send it huge header lines.

    python scripts/probe_header_flood.py [--mib 128] [--clients 2]

Starts a node (`python -m node serve`, plain HTTP on loopback) for a fresh
consortium and reads its memory from /proc/PID/status (VmRSS now, VmHWM the
peak).  Then `--clients` connections at once each send a GET whose one
header line is `--mib` MiB, in 64 KiB pieces, stopping when the node answers
or hangs up.  Prints what each got back, how much of its line it had sent
by then and how long it took, and the node's memory before and after.

This is security finding 3 of issue 13: without the head limits
(node/transport/head_limits.py) the node read both lines whole, answered 200 and grew
by hundreds of MB; with them it answers 431 after a few hundred KiB.
"""

from __future__ import annotations

import argparse
import select
import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from client.local_consortium.consortium import init_consortium
from client.local_consortium.launcher import start_node

PIECE = b"a" * (64 * 1024)


def memory(pid: int) -> str:
    """Return the process's VmRSS and VmHWM lines, in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text()
                  .splitlines() if line.startswith(("VmRSS", "VmHWM")))
    return ", ".join(f"{name} {int(fields[name].split()[0]) / 1024:.0f} MB"
                     for name in ("VmRSS", "VmHWM"))


def flood(port: int, size: int, results: list[str]) -> None:
    """Send one GET with a `size`-byte header line; append what happened to `results`."""
    started = time.monotonic()
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=600) as sock:
        try:
            sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
            while sent < size and not select.select([sock], [], [], 0)[0]:
                sock.sendall(PIECE)
                sent += len(PIECE)
            if sent >= size:
                sock.sendall(b"\r\n\r\n")
        except OSError as exc:
            results.append(f"send stopped: {exc.__class__.__name__}")
        try:
            answer = sock.recv(65536).split(b"\r\n", 1)[0].decode() or "(closed)"
        except OSError as exc:
            answer = exc.__class__.__name__
    results.append(f"answer {answer!r} after sending {sent / 2**20:.2f} of "
                   f"{size / 2**20:.0f} MiB in {time.monotonic() - started:.2f} s")


def main() -> int:
    """Start a node, flood it with huge header lines, print its memory before and after."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=128, help="size of each header line")
    parser.add_argument("--clients", type=int, default=2, help="connections at once")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        consortium = init_consortium(directory / "consortium", password="probe",
                                     chain_id="probe", genesis_time=datetime.now(UTC))
        node = start_node(genesis=consortium.genesis_path,
                          database_url=f"sqlite:///{directory / 'node.db'}",
                          orderer=directory / "orderer.db", log_path=directory / "node.log")
        try:
            pid, port = node.process.pid, int(node.url.rsplit(":", 1)[1])
            print(f"node {node.url} (pid {pid}) before: {memory(pid)}")
            results: list[str] = []
            threads = [threading.Thread(target=flood, args=(port, args.mib * 2**20, results))
                       for _ in range(args.clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            print("\n".join(results))
            print(f"node after: {memory(pid)}")
        finally:
            node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
