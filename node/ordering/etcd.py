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
import json
import logging
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from node.observability.metrics import NodeMetrics
from node.ordering import OrderedBatch
from node.ordering.etcd_client import EtcdClient, EtcdCompacted, EtcdUnavailable

log = logging.getLogger(__name__)
MAX_BATCH_BYTES = 1_000_000  # etcd refuses requests over 1.5 MiB; base64 adds a third
MAX_BUFFERED = 64  # batches received ahead of the committer before the watch waits
RETRY_S = 0.5
LIST_PAGE = 16  # batches per range read when listing after a compaction


@dataclass(frozen=True)
class CompactionMark:
    """How far the log was compacted: batches up to `position` (block `height`) are gone."""

    height: int
    position: int

    def encode(self) -> bytes:
        """Return the stored form."""
        return json.dumps({"height": self.height, "position": self.position}).encode()

    @classmethod
    def decode(cls, raw: bytes) -> CompactionMark:
        """Parse the stored form."""
        value = json.loads(raw)
        return cls(int(value["height"]), int(value["position"]))


def mark_key(chain_id: str) -> bytes:
    """Return the etcd key of a chain's compaction mark."""
    return f"/ledger/{chain_id}/compacted".encode()


def read_mark(etcd: EtcdClient, chain_id: str, *, revision: int = 0) -> CompactionMark | None:
    """Return the chain's compaction mark (now, or at store `revision`), or None if none."""
    kv = etcd.get(mark_key(chain_id), revision=revision)
    return None if kv is None else CompactionMark.decode(kv.value)


class OrderingGap(Exception):
    """The ordering log no longer holds the batches this node needs next.

    `mark` says up to which block the node must fetch certified blocks from
    its peers before it can follow the log again.
    """

    def __init__(self, message: str, mark: CompactionMark | None = None) -> None:
        super().__init__(message)
        self.mark = mark


class EtcdOrderer:
    """Orderer over an etcd cluster (see the module docstring)."""

    max_batch_bytes: int | None = MAX_BATCH_BYTES

    def __init__(self, endpoints: Sequence[str], chain_id: str, *,
                 ssl_context: ssl.SSLContext | None = None,
                 metrics: NodeMetrics | None = None) -> None:
        self.etcd = EtcdClient(endpoints, ssl_context=ssl_context)
        self._metrics = metrics
        self.chain_id = chain_id
        self.prefix = f"/ledger/{chain_id}/batches/".encode()
        self._cond = threading.Condition()
        self._buffer: list[OrderedBatch] = []
        self._watch_after: int | None = None
        self._watch_stop = threading.Event()
        self._failure: OrderingGap | None = None
        self._closed = False

    def append(self, data: bytes) -> int:
        """Order `data` (at most once) and return its position."""
        if self.max_batch_bytes is not None and len(data) > self.max_batch_bytes:
            raise ValueError(f"a batch of {len(data)} bytes exceeds the ordering limit "
                             f"of {self.max_batch_bytes}")
        key = self.prefix + hashlib.sha256(data).hexdigest().encode("ascii")
        started = time.perf_counter()
        _created, revision = self.etcd.put_if_absent(key, data)
        if self._metrics is not None:
            self._metrics.etcd_append_seconds.observe(time.perf_counter() - started)
        return revision

    def read(self, after: int, *, limit: int = 100, wait_s: float = 0.0) -> list[OrderedBatch]:
        """Return up to `limit` batches after position `after`, waiting up to `wait_s`."""
        with self._cond:
            if self._closed:
                return []
            if self._watch_after is None or after < self._watch_after or (
                    self._failure is not None and not self._buffer):
                self._restart_watch(after)
            self._buffer = [b for b in self._buffer if b.position > after]
            if not self._buffer and self._failure is None and wait_s > 0:
                self._cond.wait(timeout=wait_s)
            if self._failure is not None and not self._buffer:
                raise self._failure
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
        """Deliver batches after `after`: watch the log, listing what a compaction hid.

        A watch cannot start before etcd's compacted revision, but the batch
        keys after the compaction mark are still there: list them, then
        watch from the listing's revision.  Batches at or before the mark
        are deleted; a node that still needs them reports an OrderingGap.
        """
        last, start, listing = after, after + 1, False
        try:
            while not stop.is_set():
                try:
                    if listing:
                        last, start = self._list(last, stop)
                        listing = False
                    for events in self.etcd.watch_prefix(self.prefix, start, stop):
                        batches = [OrderedBatch(kv.create_revision, kv.value) for kv in events
                                   if kv.create_revision == kv.mod_revision]
                        if not self._deliver(batches, stop):
                            return
                        last = max([last, *(b.position for b in batches)])
                    return
                except EtcdCompacted:
                    listing = True
                except EtcdUnavailable as exc:
                    if stop.is_set():  # closed while reading: nothing more is wanted
                        return
                    log.warning("reading the ordering log failed (%s); retrying", exc)
                    stop.wait(RETRY_S)
        except OrderingGap as gap:
            with self._cond:
                if not stop.is_set():
                    self._failure = gap
                    self._cond.notify_all()

    def _list(self, last: int, stop: threading.Event) -> tuple[int, int]:
        """Deliver the stored batches after position `last`; return (last, revision to watch).

        The listing is one snapshot, and the mark is read *at that snapshot*:
        a compaction moves the mark before it deletes batch keys, so every
        batch missing from the snapshot is at or below the snapshot's mark.
        Reading the mark apart from the listing would let a compaction in
        between delete batches this node never saw, and it would skip them.
        """
        snapshot = 0
        while not stop.is_set():
            try:
                kvs, revision, more = self.etcd.range_prefix(
                    self.prefix, min_create_revision=last + 1, limit=LIST_PAGE,
                    revision=snapshot)
                if not snapshot:
                    self._check_mark(last, revision)
            except EtcdCompacted:  # compacted again meanwhile: list from a newer snapshot
                snapshot = 0
                continue
            snapshot = snapshot or revision
            batches = [OrderedBatch(kv.create_revision, kv.value) for kv in kvs]
            if not self._deliver(batches, stop):
                break
            last = max([last, *(b.position for b in batches)])
            if not more:
                break
        return last, snapshot + 1

    def _check_mark(self, last: int, revision: int) -> None:
        """Raise OrderingGap if, at store `revision`, the log was compacted past `last`."""
        mark = read_mark(self.etcd, self.chain_id, revision=revision)
        if mark is not None and mark.position > last:
            raise OrderingGap(f"the ordering log was compacted up to block {mark.height} "
                              f"(position {mark.position}); this node is at position {last}",
                              mark)

    def _deliver(self, batches: list[OrderedBatch], stop: threading.Event) -> bool:
        """Buffer `batches` for the committer (waiting for room); False once stopped."""
        with self._cond:
            while len(self._buffer) >= MAX_BUFFERED and not stop.is_set():
                self._cond.wait(timeout=0.5)
            if stop.is_set():
                return False
            self._buffer.extend(batches)
            self._cond.notify_all()
            return True

    def close(self) -> None:
        """Stop watching and close connections; waiting readers return."""
        with self._cond:
            self._closed = True
            self._watch_stop.set()
            self._cond.notify_all()
        self.etcd.close()
