"""Compacting the ordering log: etcd keeps only batches some node may still need.

A batch is needed until its block is final and every registered node has
attested it (so every node has applied it).  A node that stays away does
not hold the log hostage for ever: blocks more than `retain_blocks` below
the final height are compacted anyway, and that node later catches up from
its peers' certified blocks (node/finality/catch_up.py).

Each round: write the compaction mark (block height and batch position,
only ever moving forward), delete the batch keys and attestation keys up
to it, then compact etcd's history to the current revision so the space is
really freed.  Every attesting node runs a compactor; the steps are
idempotent and the mark is moved by compare-and-swap, so they never fight.
"""

from __future__ import annotations

import logging
import threading

from ledger.block import BlockHeader
from ledger.canonical import parse_json
from node.finality.attestor import Finality
from node.ordering.etcd import CompactionMark, mark_key
from node.ordering.etcd_client import EtcdClient, EtcdUnavailable
from node.pipeline.chain import Chain
from node.storage.store import Store

log = logging.getLogger(__name__)


class Compactor:
    """Compacts the chain's etcd log in a background thread."""

    def __init__(self, chain: Chain, store: Store, finality: Finality, etcd: EtcdClient, *,
                 interval_s: float, retain_blocks: int) -> None:
        self.chain = chain
        self.store = store
        self.finality = finality
        self.etcd = etcd
        self.interval_s = interval_s
        self.retain_blocks = retain_blocks
        self.batch_prefix = f"/ledger/{chain.chain_id}/batches/".encode()
        self.attest_prefix = f"/ledger/{chain.chain_id}/attest/".encode()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="compactor", daemon=True)

    def start(self) -> None:
        """Start compacting every `interval_s`."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread."""
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.compact_once()
            except (EtcdUnavailable, OSError) as exc:
                log.warning("compacting the ordering log failed (%s); will retry", exc)

    def target_height(self) -> int:
        """Return the highest block whose batch no node needs from the log any more."""
        final = self.finality.final_height
        nodes = self.chain.nodes()
        everyone = min((self.finality.last_attested_by(n) for n in nodes), default=0)
        return min(final, max(everyone, final - self.retain_blocks))

    def compact_once(self) -> CompactionMark | None:
        """Run one round; return the new mark, or None if there was nothing to do."""
        height = self.target_height()
        current = self.etcd.get(mark_key(self.chain.chain_id))
        previous = None if current is None else CompactionMark.decode(current.value)
        if height <= 0 or (previous is not None and previous.height >= height):
            return None
        raw = self.store.block_header(height)
        if raw is None:
            return None
        mark = CompactionMark(height, BlockHeader.from_json(parse_json(raw)).position)
        expected = 0 if current is None else current.mod_revision
        if not self.etcd.put_if_unchanged(mark_key(self.chain.chain_id), mark.encode(),
                                          expected):
            return None  # another node moved the mark meanwhile
        self.etcd.compact(self._delete_through(mark))
        log.info("compacted the ordering log through block %d (position %d)",
                 mark.height, mark.position)
        return mark

    def _delete_through(self, mark: CompactionMark) -> int:
        """Delete the batches up to the mark's position and the attestations up to its height.

        Returns the revision after the deletes: compacting there frees them.
        """
        while True:
            kvs, _revision, more = self.etcd.range_prefix(
                self.batch_prefix, max_create_revision=mark.position, limit=500, keys_only=True)
            if kvs:
                self.etcd.delete_keys([kv.key for kv in kvs])
            if not more:
                break
        end = self.attest_prefix + f"{mark.height + 1:012d}".encode()
        return self.etcd.delete_range(self.attest_prefix, end)
