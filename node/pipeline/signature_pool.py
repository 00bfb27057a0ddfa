"""Signature verification in separate processes.

PyNaCl releases the GIL around each verification, so in a threaded server
every verify waits to get the GIL back from whichever thread holds it: each
one costs several times its 40 us.  The node therefore verifies a
submission's signatures in a small pool of worker processes (using the other
cores), records them in the signature cache, and the simulation and commit
that follow find them there.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from ledger.crypto import verify_raw_ed25519
from node.observability.metrics import NodeMetrics

Item = tuple[bytes, bytes, bytes]  # public key, signed message (with domain tag), signature
MIN_CHUNK = 64


def verify_chunk(items: Sequence[Item]) -> list[bool]:
    """Return, for each (key, message, signature), whether it verifies."""
    return [verify_raw_ed25519(key, message, sig) for key, message, sig in items]


def leave_with_parent() -> None:
    """In a worker: exit as soon as the node process that started it is gone.

    A worker waits for work on a pipe whose writing end it holds itself
    (multiprocessing hands a queue's both ends to the child), so a node
    killed outright (SIGKILL, a crash) left its workers waiting for ever.
    """
    parent = multiprocessing.parent_process()
    if parent is None:  # not a multiprocessing child
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def default_workers() -> int:
    """Return how many verifier processes to run: one per core beyond the first, at least one."""
    return max(1, (os.cpu_count() or 2) - 1)


class VerifierPool:
    """A pool of processes that verify Ed25519 signatures in chunks."""

    def __init__(self, workers: int | None = None, *, metrics: NodeMetrics | None = None) -> None:
        self.workers = workers or default_workers()
        self._metrics = metrics
        if metrics is not None:
            metrics.verifier_workers.set(self.workers)
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=leave_with_parent,
        )

    async def verify(self, items: Sequence[Item]) -> list[bool]:
        """Verify `items` across the pool; return one flag per item, in order."""
        if not items:
            return []
        loop = asyncio.get_running_loop()
        size = max(MIN_CHUNK, -(-len(items) // self.workers))
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        if self._metrics is not None:
            self._metrics.verifier_chunks.inc(len(chunks))
        try:
            answers = await asyncio.gather(
                *(loop.run_in_executor(self._pool, verify_chunk, chunk) for chunk in chunks)
            )
        finally:
            if self._metrics is not None:
                self._metrics.verifier_chunks.dec(len(chunks))
                self._metrics.verified.inc(len(items))
        return [flag for answer in answers for flag in answer]

    def close(self) -> None:
        """Stop the worker processes."""
        self._pool.shutdown(wait=True, cancel_futures=True)
