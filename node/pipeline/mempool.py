"""Accepted transactions waiting to be ordered, and the batches they go out in.

Submissions are checked in full before they are accepted (signatures, replay,
validity window, a simulation of the contract), then wait here until the
batcher sends them to the orderer: when a batch is full or the oldest has
waited `batch_max_wait_ms`.  A transaction stays 'pending' until its block
commits, so a duplicate submitted meanwhile is refused as a replay.

What waits here is also recorded in the node's database (the service does
that before it answers), so a crash loses nothing that was acknowledged.
The batcher retries a failed append until it succeeds; meanwhile
`ordering_problem` says why it failed, and the service refuses new
submissions rather than pile up transactions it cannot order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

import orjson

from ledger.batch import sign_batch
from ledger.crypto import PrivateKey
from ledger.tx import Envelope
from node.clock import Clock, timestamp
from node.observability.metrics import NodeMetrics
from node.ordering import Orderer

log = logging.getLogger(__name__)
RETRY_DELAY_S = 0.5


class Mempool:
    """Pending transactions and the batcher thread that orders them."""

    def __init__(
        self, orderer: Orderer, clock: Clock, *, chain_id: str, proposer: str,
        max_txs: int, max_wait_ms: int, node_key: PrivateKey | None = None,
        metrics: NodeMetrics | None = None,
    ) -> None:
        self._orderer = orderer
        self._clock = clock
        self._chain_id = chain_id
        self._proposer = proposer
        self._node_key = node_key
        self._max_txs = max_txs
        self._max_wait = max_wait_ms / 1000
        self._lock = threading.Condition()
        self._queue: list[Envelope] = []
        self._oldest = 0.0
        self._batch_oldest = 0.0  # when the oldest transaction of the batch being sent came
        self._metrics = metrics
        self.pending: dict[str, Envelope] = {}
        self.pending_nonces: set[tuple[str, str]] = set()
        self._problem: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="batcher", daemon=True)

    def start(self) -> None:
        """Start the batcher thread."""
        self._thread.start()

    def stop(self) -> None:
        """Flush what is queued and stop the batcher."""
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        self._thread.join(timeout=5)

    @property
    def ordering_problem(self) -> str | None:
        """Return why the last append to the orderer failed, if none succeeded since; else None."""
        return self._problem

    def add(self, envelopes: Iterable[Envelope]) -> None:
        """Queue checked envelopes for ordering."""
        with self._lock:
            for envelope in envelopes:
                if not self._queue:
                    self._oldest = time.monotonic()
                self._queue.append(envelope)
                self.pending[envelope.tx_id] = envelope
                self.pending_nonces.update((s, envelope.body.nonce) for s in envelope.body.signers)
            self._lock.notify_all()

    def committed(self, tx_ids: Iterable[str]) -> None:
        """Forget transactions whose block has committed."""
        with self._lock:
            for tx_id in tx_ids:
                envelope = self.pending.pop(tx_id, None)
                if envelope is not None:
                    for signer in envelope.body.signers:
                        self.pending_nonces.discard((signer, envelope.body.nonce))

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = self._take_batch()
            if batch and not self._try_send(batch):
                self._requeue(batch)
                self._stop.wait(RETRY_DELAY_S)
        leftover = self._take_batch(force=True)
        if leftover and not self._try_send(leftover):
            log.warning("stopping with %d transactions not ordered; they stay recorded and are "
                        "offered again when the node starts", len(leftover))

    def _take_batch(self, force: bool = False) -> list[Envelope]:
        with self._lock:
            while not force and not self._stop.is_set():
                if len(self._queue) >= self._max_txs:
                    break
                if self._queue and time.monotonic() - self._oldest >= self._max_wait:
                    break
                wait = self._max_wait - (time.monotonic() - self._oldest) if self._queue else 0.5
                self._lock.wait(timeout=max(wait, 0.001))
            batch, self._queue = self._queue[: self._max_txs], self._queue[self._max_txs :]
            self._batch_oldest = self._oldest
            self._oldest = time.monotonic()
            return batch

    def _try_send(self, envelopes: list[Envelope]) -> bool:
        try:
            self._send(envelopes)
        except Exception as exc:  # the orderer is unreachable: keep the batch and retry
            log.exception("ordering a batch of %d transactions failed; will retry", len(envelopes))
            self._problem = f"{type(exc).__name__}: {exc}"
            if self._metrics is not None:
                self._metrics.batch_failures.inc()
            return False
        self._problem = None
        if self._metrics is not None:
            self._metrics.batch_seconds.observe(time.monotonic() - self._batch_oldest)
        return True

    def _requeue(self, envelopes: list[Envelope]) -> None:
        with self._lock:
            self._queue = envelopes + self._queue
            self._oldest = min(self._batch_oldest, time.monotonic() - self._max_wait)

    def _send(self, envelopes: list[Envelope]) -> None:
        """Order `envelopes` as one batch (signed with the node key, if any), split if too big."""
        data = orjson.dumps({
            "chain_id": self._chain_id,
            "proposer": self._proposer,
            "time": timestamp(self._clock),
            "txs": [e.to_json() for e in envelopes],
        })
        if self._node_key is not None:
            data = sign_batch(data, self._proposer, self._node_key).encode()
        limit = self._orderer.max_batch_bytes
        if limit is not None and len(data) > limit and len(envelopes) > 1:
            half = len(envelopes) // 2
            self._send(envelopes[:half])
            self._send(envelopes[half:])
            return
        self._orderer.append(data)
