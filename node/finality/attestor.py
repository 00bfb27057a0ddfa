"""Attestation and finality on a network node.

After it commits a block, a registered node signs the header hash it
computed, the block's log checkpoint (node/finality/checkpoints.py) and its
state note (node/finality/state_notes.py), and
publishes the attestation in etcd (under the chain's
`attest/<height>/<node>` keys, written once).  Every node follows those keys,
checks each attestation against the nodes registered on chain, keeps it, and
advances its *final height*: the highest block up to which every block has
been signed, with the header hash this node computed, by nodes of a quorum
of organisations.  If a quorum signed a different hash than this node
computed, the node has diverged: it stops committing and reports the
evidence (its own header and the quorum's attestations).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ledger.attestation import (
    Attestation,
    NodeInfo,
    agreeing_orgs,
    attest,
    check_attestation,
    quorum_size,
)
from ledger.block import BlockHeader
from ledger.canonical import canonical_bytes, parse_json
from ledger.checkpoint import sign_checkpoint
from ledger.crypto import PrivateKey
from ledger.errors import LedgerError
from ledger.state_note import sign_state_note
from node.finality.checkpoints import checkpoint_of
from node.finality.state_notes import state_note_of
from node.ordering.etcd_client import EtcdClient, EtcdUnavailable
from node.pipeline.chain import Chain
from node.storage.store import Store, StoredAttestation

log = logging.getLogger(__name__)
PUBLISH_RETRY_S = 0.5
LIST_PAGE = 1000  # attestations per range read


@dataclass(frozen=True)
class Divergence:
    """Evidence that this node computed a block differently from a quorum."""

    height: int
    own_hash: str
    quorum_hash: str
    attestations: tuple[Attestation, ...]

    def to_json(self) -> dict[str, Any]:
        """Return the evidence as JSON."""
        return {"height": self.height, "own_header_hash": self.own_hash,
                "quorum_header_hash": self.quorum_hash,
                "attestations": [a.to_json() for a in self.attestations]}


class Finality:
    """Attestations received, and the final height they establish (thread-safe).

    Only the attestations of blocks not yet final stay in memory; those of
    final blocks live in the store, so a long-running node's memory does not
    grow with the chain.  The highest height each node attested is kept too,
    for the publisher's restart and for compaction.
    """

    def __init__(self, chain: Chain, store: Store) -> None:
        self.chain = chain
        self.store = store
        self._lock = threading.Lock()
        self._pending: dict[int, dict[str, Attestation]] = defaultdict(dict)
        self._last_by_node: dict[str, int] = {}
        self._own_hashes: dict[int, str] = {}  # this node's header hashes above final_height
        self.final_height = 0
        self.divergence: Divergence | None = None
        self._load()

    def nodes(self) -> dict[str, NodeInfo]:
        """Return the registered nodes from the current state."""
        return self.chain.nodes()

    def _load(self) -> None:
        """Recompute the final height from the stored attestations, a page at a time.

        Pages of final blocks are dropped as finality passes them, so only
        the unfinal blocks' attestations remain in memory.
        """
        chain_id = self.chain.chain_id
        self._last_by_node = self.store.last_attested_heights()
        start, head = 1, self.chain.head.height
        while start <= head:
            end = min(start + LIST_PAGE - 1, head)
            for row in self.store.attestations(start, end):
                self._pending[row.height][row.node_id] = _from_stored(chain_id, row)
            self.advance()
            start = end + 1

    def receive(self, attestations: list[Attestation]) -> None:
        """Check and keep attestations from the network, then advance finality."""
        nodes = self.nodes()
        kept = []
        for att in attestations:
            try:
                check_attestation(att, nodes, self.chain.chain_id)
            except LedgerError as exc:
                log.warning("ignoring an attestation: %s", exc)
                continue
            kept.append(att)
        self.store.add_attestations([
            StoredAttestation(a.height, a.node_id, a.header_hash, a.signature, a.note_signature,
                              a.state_signature)
            for a in kept])
        with self._lock:
            for att in kept:
                last = self._last_by_node.get(att.node_id, 0)
                self._last_by_node[att.node_id] = max(last, att.height)
                if att.height > self.final_height:
                    self._pending[att.height].setdefault(att.node_id, att)
        self.advance()

    def advance(self) -> None:
        """Move the final height forward over every block a quorum attested as ours."""
        nodes = self.nodes()
        if not nodes:
            return
        need = quorum_size(nodes.values())
        with self._lock:
            while self.final_height < self.chain.head.height:
                height = self.final_height + 1
                own = self._own_hash(height)
                if own is None:
                    return
                received = list(self._pending.get(height, {}).values())
                if len(agreeing_orgs(received, nodes, own)) >= need:
                    self.final_height = height
                    self._own_hashes.pop(height, None)
                    self._pending.pop(height, None)
                    continue
                self._check_divergence(height, own, received, nodes, need)
                return

    def _own_hash(self, height: int) -> str | None:
        """Return the hash of the header this node computed at `height` (read once)."""
        if height not in self._own_hashes:
            raw = self.store.block_header(height)
            if raw is None:
                return None
            self._own_hashes[height] = _hash_of(raw)
        return self._own_hashes[height]

    def last_attested_by(self, node_id: str) -> int:
        """Return the highest height with a kept attestation from `node_id` (0 if none)."""
        with self._lock:
            return self._last_by_node.get(node_id, 0)

    def _check_divergence(self, height: int, own: str, received: list[Attestation],
                          nodes: dict[str, NodeInfo], need: int) -> None:
        for other in {a.header_hash for a in received} - {own}:
            if len(agreeing_orgs(received, nodes, other)) >= need and self.divergence is None:
                evidence = tuple(a for a in received if a.header_hash == other)
                self.divergence = Divergence(height, own, other, evidence)
                log.critical("DIVERGED at height %d: this node computed header %s, a quorum "
                             "signed %s; evidence: %s", height, own, other,
                             canonical_bytes(self.divergence.to_json()).decode())

    def certificate(self, height: int) -> list[Attestation]:
        """Return the attestations kept for block `height`, ordered by node."""
        with self._lock:
            pending = self._pending.get(height)
            if pending is not None:
                return sorted(pending.values(), key=lambda a: a.node_id)
        chain_id = self.chain.chain_id
        return [_from_stored(chain_id, row) for row in self.store.attestations(height, height)]


def _from_stored(chain_id: str, row: StoredAttestation) -> Attestation:
    return Attestation(chain_id, row.height, row.header_hash, row.node_id, row.signature,
                       row.note_signature, row.state_signature)


def _hash_of(header_bytes: bytes) -> str:
    return BlockHeader.from_json(parse_json(header_bytes)).hash()


class Attestor:
    """Publishes this node's attestations and follows everyone's (two threads)."""

    def __init__(self, chain: Chain, store: Store, finality: Finality, etcd: EtcdClient,
                 node_id: str, key: PrivateKey) -> None:
        self.chain = chain
        self.store = store
        self.finality = finality
        self.etcd = etcd
        self.node_id = node_id
        self.key = key
        self.prefix = f"/ledger/{chain.chain_id}/attest/".encode()
        self._published = 0
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._publish_loop, name="attest-publish",
                                          daemon=True),
                         threading.Thread(target=self._follow_loop, name="attest-follow",
                                          daemon=True)]

    def start(self) -> None:
        """Start publishing and following."""
        registered = self.finality.nodes().get(self.node_id)
        if registered is None or registered.public_key != self.key.public_key:
            raise LedgerError(f"node {self.node_id!r} is not registered on chain with this "
                              "node key, so its attestations would not count")
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop both threads."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()

    def block_committed(self) -> None:
        """Tell the publisher a new block exists."""
        with self._wake:
            self._wake.notify_all()

    def _publish_loop(self) -> None:
        self._published = self.finality.last_attested_by(self.node_id)
        while not self._stop.is_set():
            head = self.chain.head.height
            if self._published >= head:
                with self._wake:
                    self._wake.wait(timeout=0.5)
                continue
            try:
                self._publish(self._published + 1)
            except (EtcdUnavailable, OSError) as exc:
                log.warning("publishing an attestation failed (%s); will retry", exc)
                self._stop.wait(PUBLISH_RETRY_S)

    def _publish(self, height: int) -> None:
        raw = self.store.block_header(height)
        if raw is None:
            return
        header = BlockHeader.from_json(parse_json(raw))
        cosigned = sign_checkpoint(checkpoint_of(self.chain, header), self.node_id, self.key)
        note = state_note_of(self.store, self.chain.chain_id, header)
        state = None if note is None else sign_state_note(note, self.node_id, self.key).signature
        att = attest(self.key, self.chain.chain_id, height, header.hash(), self.node_id,
                     cosigned.signature, state)
        key = self.prefix + f"{height:012d}/{self.node_id}".encode()
        self.etcd.put_if_absent(key, canonical_bytes(att.to_json()))
        self._published = height

    def skip_through(self, height: int) -> None:
        """Do not attest blocks up to `height` (caught up from peers: already final)."""
        self._published = max(self._published, height)

    def _follow_loop(self) -> None:
        """Receive every attestation: list those stored, then watch for new ones.

        Listing first matters after a compaction: a watch cannot start
        before the compacted revision, but the attestations still stored can
        be read, and the watch then starts after the listing.
        """
        while not self._stop.is_set():
            try:
                start = self._list_stored() + 1
                for events in self.etcd.watch_prefix(self.prefix, start, self._stop):
                    parsed = [_parse(kv.value) for kv in events]
                    self.finality.receive([a for a in parsed if a is not None])
            except Exception:  # keep following; a bad value never stops finality
                log.exception("following attestations failed; restarting")
                self._stop.wait(PUBLISH_RETRY_S)

    def _list_stored(self) -> int:
        """Receive the attestations stored now; return the revision they were read at."""
        snapshot, after = 0, 0
        while True:
            kvs, revision, more = self.etcd.range_prefix(
                self.prefix, min_create_revision=after + 1, limit=LIST_PAGE, revision=snapshot)
            snapshot = snapshot or revision
            parsed = [_parse(kv.value) for kv in kvs]
            self.finality.receive([a for a in parsed if a is not None])
            if not more or not kvs:
                return snapshot
            after = kvs[-1].create_revision


def _parse(value: bytes) -> Attestation | None:
    try:
        return Attestation.from_json(parse_json(value))
    except LedgerError:
        return None
