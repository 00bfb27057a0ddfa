"""The network's ordering engine: transaction batches in an etcd cluster.

Every node appends the batches it accepted under one key prefix; etcd's Raft
log gives the total order and each batch's position is the revision at
which its key was created.  Appends are idempotent: the key is the batch's
SHA-256, written only if absent, so a retry after a lost reply (a leader
dying mid-write) finds the first write instead of ordering the batch twice.
Every node watches the prefix from the position after its last block and
turns each batch, in order, into its next block.  Positions are increasing
but not contiguous (other keys share the revision counter), which the
`Orderer` interface allows.
"""

from __future__ import annotations

import hashlib
import logging
import ssl
import threading
from collections.abc import Sequence

from node.etcd import EtcdClient, EtcdCompacted
from node.ordering import OrderedBatch

log = logging.getLogger(__name__)
MAX_BATCH_BYTES = 1_000_000  # etcd refuses requests over 1.5 MiB; base64 adds a third
MAX_BUFFERED = 64  # batches received ahead of the committer before the watch waits


class OrderingGap(Exception):
    """The ordering log no longer holds the batches this node needs next."""


class EtcdOrderer:
    """Orderer over an etcd cluster (see the module docstring)."""

    max_batch_bytes: int | None = MAX_BATCH_BYTES

    def __init__(self, endpoints: Sequence[str], chain_id: str, *,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.etcd = EtcdClient(endpoints, ssl_context=ssl_context)
        self.prefix = f"/ledger/{chain_id}/batches/".encode()
        self._cond = threading.Condition()
        self._buffer: list[OrderedBatch] = []
        self._watch_after: int | None = None
        self._watch_stop = threading.Event()
        self._failure: Exception | None = None
        self._closed = False

    def append(self, data: bytes) -> int:
        """Order `data` (at most once) and return its position."""
        if self.max_batch_bytes is not None and len(data) > self.max_batch_bytes:
            raise ValueError(f"a batch of {len(data)} bytes exceeds the ordering limit "
                             f"of {self.max_batch_bytes}")
        key = self.prefix + hashlib.sha256(data).hexdigest().encode("ascii")
        _created, revision = self.etcd.put_if_absent(key, data)
        return revision

    def read(self, after: int, *, limit: int = 100, wait_s: float = 0.0) -> list[OrderedBatch]:
        """Return up to `limit` batches after position `after`, waiting up to `wait_s`."""
        with self._cond:
            if self._closed:
                return []
            if self._watch_after is None or after < self._watch_after:
                self._restart_watch(after)
            self._buffer = [b for b in self._buffer if b.position > after]
            if not self._buffer and self._failure is None and wait_s > 0:
                self._cond.wait(timeout=wait_s)
            if self._failure is not None and not self._buffer:
                raise OrderingGap(str(self._failure)) from self._failure
            batches = self._buffer[:limit]
            self._cond.notify_all()  # room in the buffer again
            return batches

    def _restart_watch(self, after: int) -> None:
        self._watch_stop.set()
        self._watch_stop = threading.Event()
        self._buffer = []
        self._failure = None
        self._watch_after = after
        thread = threading.Thread(target=self._watch, args=(after, self._watch_stop),
                                  name="etcd-watch", daemon=True)
        thread.start()

    def _watch(self, after: int, stop: threading.Event) -> None:
        try:
            for events in self.etcd.watch_prefix(self.prefix, after + 1, stop):
                batches = [OrderedBatch(kv.create_revision, kv.value) for kv in events
                           if kv.create_revision == kv.mod_revision]
                with self._cond:
                    while len(self._buffer) >= MAX_BUFFERED and not stop.is_set():
                        self._cond.wait(timeout=0.5)
                    if stop.is_set():
                        return
                    self._buffer.extend(batches)
                    self._cond.notify_all()
        except EtcdCompacted as exc:
            with self._cond:
                if not stop.is_set():
                    self._failure = exc
                    self._cond.notify_all()

    def close(self) -> None:
        """Stop watching and close connections; waiting readers return."""
        with self._cond:
            self._closed = True
            self._watch_stop.set()
            self._cond.notify_all()
        self.etcd.close()
