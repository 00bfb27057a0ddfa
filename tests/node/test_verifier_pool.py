"""The node's signature-verifying worker processes: right answers, and no orphans."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledger.crypto import PrivateKey
from node.pipeline.signature_pool import VerifierPool

ROOT = Path(__file__).resolve().parents[2]
NODE_LIKE = """
import asyncio, sys, time
from node.pipeline.signature_pool import VerifierPool
pool = VerifierPool(1)
asyncio.run(pool.verify([(bytes(32), b"m", bytes(64))]))  # the worker is running now
print(*pool._pool._processes, flush=True)
time.sleep(600)
"""


def _gone(pid: int) -> bool:
    """Whether `pid` has exited (a zombie waiting for its reaper counts as exited)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return True
    return fields[0] == "Z"


def test_the_pool_says_which_signatures_verify() -> None:
    key = PrivateKey(bytes(range(32)))
    good = (key.public_key.raw, b"message", key.sign_unframed(b"message"))
    bad = (key.public_key.raw, b"messagf", key.sign_unframed(b"message"))
    pool = VerifierPool(1)
    try:
        flags = asyncio.run(pool.verify([good, bad] * 100))
    finally:
        pool.close()
    assert flags == [True, False] * 100


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_workers_exit_when_their_node_is_killed_outright() -> None:
    node = subprocess.Popen([sys.executable, "-c", NODE_LIKE], stdout=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert node.stdout is not None
    workers = [int(pid) for pid in node.stdout.readline().split()]
    assert workers and not any(_gone(pid) for pid in workers)
    node.send_signal(signal.SIGKILL)
    node.wait()
    deadline = time.monotonic() + 20
    while not all(_gone(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid in workers if not _gone(pid)]
    for pid in left:  # do not leave them behind if the test fails
        os.kill(pid, signal.SIGKILL)
    assert not left, "a verifier worker outlived its killed node"
