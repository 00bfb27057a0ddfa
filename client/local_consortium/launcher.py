"""Starting and stopping a node process from the client side.

The client never imports the node: it runs `python -m node serve` as a child
process, waits until the node answers, and stops it by PID.

With `tls` (the node's certificate, key and the consortium CA) the node
serves mutual TLS, and the health wait connects with that same node
certificate: the launcher is run by the node's operator, who already holds
the node's key (it hands its path to the node), so this needs no member
password and reads no member key.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx

from client.sdk.tls import TlsFiles, client_context

START_TIMEOUT_S = 30.0


def free_port() -> int:
    """Return a TCP port free on loopback right now."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """Return `count` distinct TCP ports free on loopback right now.

    All are held until all are chosen: asked for one at a time, a port just
    released can be handed out again, and two servers of one cluster would
    then race for the same port.
    """
    with ExitStack() as held:
        ports = []
        for _ in range(count):
            sock = held.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


@dataclass
class NodeProcess:
    """A node running as a child process."""

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    tls: TlsFiles | None = None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the node gracefully (SIGTERM), killing it if it does not exit in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """Kill the node at once (SIGKILL), as a crash would."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def node_command(*args: str) -> list[str]:
    """Return the command line that runs `python -m node` with `args`."""
    return [sys.executable, "-m", "node", *args]


def start_node(
    *, genesis: Path, database_url: str, log_path: Path, orderer: Path | None = None,
    etcd: str = "", port: int | None = None, manual_clock: str | None = None,
    clock_controllers: tuple[str, ...] = (), node_id: str = "node-1",
    extra: tuple[str, ...] = (), detach: bool = False, tls: TlsFiles | None = None,
    log_level: str | None = None, metrics_port: int | None = None,
) -> NodeProcess:
    """Start a node process on loopback and wait until it answers /v1/health.

    The node orders through the embedded log at `orderer`, or through the
    etcd cluster at `etcd` (comma-separated client URLs).  With `detach`,
    the node gets its own session and outlives this process.  With `tls`
    the node serves https and requires client certificates from the CA.
    With `manual_clock` it runs on a simulated clock that the organisations
    `clock_controllers` (USCCs) may move.  The node's stderr, where it logs
    (at `log_level`, info by default), goes to `log_path`; with
    `metrics_port` it serves Prometheus metrics there, on loopback.
    """
    port = port or free_port()
    args = ["serve", "--genesis", str(genesis), "--database", database_url,
            "--port", str(port), "--node-id", node_id, *extra]
    if log_level is not None:
        args += ["--log-level", log_level]
    if metrics_port is not None:
        args += ["--metrics-port", str(metrics_port)]
    if orderer is not None:
        args += ["--orderer", str(orderer)]
    if etcd:
        args += ["--etcd", etcd]
    if manual_clock:
        args += ["--manual-clock", manual_clock]
    for uscc in clock_controllers:
        args += ["--clock-controller", uscc]
    if tls is not None:
        args += ["--tls-cert", str(tls.cert), "--tls-key", str(tls.key), "--tls-ca", str(tls.ca)]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(node_command(*args), stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                   start_new_session=detach)
    scheme = "http" if tls is None else "https"
    node = NodeProcess(process, f"{scheme}://127.0.0.1:{port}", log_path, tls)
    _wait_until_up(node)
    return node


def _wait_until_up(node: NodeProcess) -> None:
    verify = True if node.tls is None else client_context(node.tls)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if node.process.poll() is not None:
            tail = node.log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise RuntimeError(f"the node exited during start-up:\n{tail}")
        try:
            if httpx.get(node.url + "/v1/health", timeout=1.0,
                         verify=verify).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    node.kill()
    raise RuntimeError(f"the node did not answer within {START_TIMEOUT_S:.0f} s")
