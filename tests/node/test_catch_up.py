"""Catching up from genesis through peers, against real serving node processes.

A fresh node (empty database, the sample's genesis) catches up from a real
node process serving a sample chain over HTTP (scripts/bench_catch_up.py
starts it, its finality following a one-member etcd), and must end with the
serving node's blocks, state and state digest.  A peer that serves a
tampered block (one envelope byte, a forged attestation) is a real HTTP
server in front of that node that changes its answers: the catching-up node
must refuse its block and take the same heights from the next peer.
"""

from __future__ import annotations

import base64
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from client.local_consortium.launcher import free_port
from node.finality.catch_up import CatchUpFailed, catch_up_from_peers
from scripts.bench_catch_up import (
    PHASE_FUNCTIONS,
    check_same,
    joining_chain,
    peers_of,
    serving_node,
)
from scripts.bench_scale import Built, built_chain
from tests.etcd import need_etcd

pytestmark = [pytest.mark.etcd, pytest.mark.slow]
TAMPERED_HEIGHT = 3
Tamper = Callable[[dict[str, Any]], None]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A small sample chain: signed batches, every block certified by both sample nodes."""
    return built_chain(tmp_path_factory.mktemp("chain"), 400, 20)


@contextmanager
def served(folder: Path, built: Built) -> Iterator[str]:
    """Serve `built` from a real node process; yield its URL."""
    need_etcd()
    with serving_node(folder, built) as url:
        yield url


@contextmanager
def tampering_peer(upstream: str, tamper: Tamper) -> Iterator[str]:
    """Yield the URL of a peer that relays `upstream` but alters each sync page with `tamper`."""

    class Relay(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            headers = {k: v for k, v in self.headers.items() if k.lower().startswith("x-ledger")}
            answer = httpx.get(upstream + self.path, headers=headers, timeout=30)
            body = answer.content
            if self.path.startswith("/v1/sync/blocks") and answer.status_code == 200:
                page = orjson.loads(body)
                tamper(page)
                body = orjson.dumps(page)
            self.send_response(answer.status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Relay)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _at(page: dict[str, Any], height: int) -> dict[str, Any] | None:
    return next((b for b in page["blocks"] if b["header"]["height"] == height), None)


def flip_envelope_byte(page: dict[str, Any]) -> None:
    """Change one byte of the first envelope of block TAMPERED_HEIGHT, in its batch and list."""
    block = _at(page, TAMPERED_HEIGHT)
    if block is None:
        return
    wire = block["transactions"][0]
    signature = wire["signatures"][0]["sig"]
    forged = ("B" if signature[0] == "A" else "A") + signature[1:]
    if block["batch"] is not None:
        batch = base64.b64decode(block["batch"])
        assert batch.count(signature.encode()) == 1
        block["batch"] = base64.b64encode(batch.replace(signature.encode(),
                                                        forged.encode())).decode()
    wire["signatures"][0]["sig"] = forged


def forge_attestation(page: dict[str, Any]) -> None:
    """Change one byte of an attestation's signature of block TAMPERED_HEIGHT."""
    block = _at(page, TAMPERED_HEIGHT)
    if block is None:
        return
    signature = bytearray(base64.b64decode(block["attestations"][0]["sig"]))
    signature[0] ^= 0x01
    block["attestations"][0]["sig"] = base64.b64encode(bytes(signature)).decode()


def test_a_fresh_node_catches_up_from_genesis_to_the_serving_nodes_chain(
    built: Built, tmp_path: Path
) -> None:
    with served(tmp_path / "serving", built) as url:
        chain = joining_chain(tmp_path / "joining.db")
        peers = peers_of(url)
        try:
            catch_up_from_peers(chain, peers, built.height)
            assert chain.head.height == built.height
            check_same(chain, built)  # every header, the state digest, the whole state
        finally:
            peers.close()
            chain.store.close()


@pytest.mark.parametrize("tamper", [flip_envelope_byte, forge_attestation])
def test_a_peer_serving_a_tampered_block_is_refused_and_the_next_peer_asked(
    built: Built, tmp_path: Path, tamper: Tamper
) -> None:
    with served(tmp_path / "serving", built) as url, tampering_peer(url, tamper) as bad:
        chain = joining_chain(tmp_path / "alone.db")
        peers = peers_of([bad])
        try:
            with pytest.raises(CatchUpFailed, match=f"its block {TAMPERED_HEIGHT} failed"):
                catch_up_from_peers(chain, peers, built.height)
            assert chain.head.height == TAMPERED_HEIGHT - 1  # nothing of the bad block written
        finally:
            peers.close()
            chain.store.close()
        chain = joining_chain(tmp_path / "joining.db")
        peers = peers_of([bad, url])
        try:
            catch_up_from_peers(chain, peers, built.height)
            check_same(chain, built)
        finally:
            peers.close()
            chain.store.close()


def test_the_benchmark_runs_end_to_end_and_prints_the_rate_and_every_phase(
    built: Built, tmp_path: Path
) -> None:
    need_etcd()
    folder = built.database.parent  # --keep: the module's chain is reused, not built again
    script = Path(__file__).resolve().parents[2] / "scripts" / "bench_catch_up.py"
    done = subprocess.run([sys.executable, str(script), "--txs", "400", "--lanes", "20",
                           "--keep", str(folder)], capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stdout + done.stderr
    rate = re.search(r"^caught up ([\d,]+) transactions in ([\d,]+) blocks in [\d.]+ s = "
                     r"([\d,]+) tx/s \(every block", done.stdout, re.M)
    assert rate is not None, done.stdout
    assert int(rate.group(2).replace(",", "")) == built.height
    assert re.search(r"^CPU: [\d,]+ µs per transaction in the catching-up process \([\d,]+ tx "
                     r"per CPU-second\), [\d,]+ µs in the serving node$", done.stdout, re.M)
    for phase in PHASE_FUNCTIONS:
        assert re.search(rf"^  {re.escape(phase)} +-?[\d.]+ +-?[\d.]+%$", done.stdout,
                         re.M), (phase, done.stdout)
