"""The cosigned state notes a node serves: a block's state digest, signed by its attesters.

Each attesting node signs the block's state note (ledger/state_note.py:
origin, height and header hash, digest) beside its checkpoint signature
(`state_sig` in the attestation); the attestations table keeps those
signatures.  Serving a block's note gathers them and keeps only those that
verify against the note of the digest THIS node computed after that block
(a node that computed another state signed another note), adds this node's
own signature if it holds its registered key, and caches the verdicts.
A snapshot carries such a note, cosigned by a quorum.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

from ledger.attestation import NodeInfo
from ledger.block import BlockHeader
from ledger.crypto import PrivateKey
from ledger.signed_note import NoteSignature, key_id
from ledger.state_note import SignedStateNote, StateNote, sign_state_note
from node.storage import state_digests
from node.storage.store import Store

log = logging.getLogger(__name__)
CACHE_BLOCKS = 256


def state_note_of(store: Store, chain_id: str, header: BlockHeader) -> StateNote | None:
    """Return the state note of committed block `header`, or None if no digest was kept for it."""
    digest = state_digests.digest_at(store.engine, header.height)
    return None if digest is None else StateNote(chain_id, header.height, header.hash(), digest)


class StateNotes:
    """Builds and caches this node's cosigned state notes (thread-safe)."""

    def __init__(self, store: Store, chain_id: str, *, node_id: str,
                 node_key: PrivateKey | None) -> None:
        self.store = store
        self.chain_id = chain_id
        self.node_id = node_id
        self.node_key = node_key
        self._lock = threading.Lock()
        self._cache: OrderedDict[int, tuple[StateNote, dict[str, NoteSignature | None]]] = (
            OrderedDict())

    def signed(self, header: BlockHeader, nodes: dict[str, NodeInfo]) -> SignedStateNote | None:
        """Return block `header`'s state note with every cosignature that verifies.

        None if this node kept no digest for the block (older than digests).
        """
        note = state_note_of(self.store, self.chain_id, header)
        if note is None:
            return None
        rows = [r for r in self.store.attestations(header.height, header.height)
                if r.state_signature is not None and r.header_hash == header.hash()]
        with self._lock:
            checked = self._entry(note)
            for row in rows:
                if row.node_id not in checked:
                    checked[row.node_id] = _checked(note, row.node_id, row.state_signature,
                                                    nodes)
            if self._may_sign(nodes) and checked.get(self.node_id) is None:
                assert self.node_key is not None
                checked[self.node_id] = sign_state_note(note, self.node_id, self.node_key)
            signatures = {s.name: s for s in checked.values() if s is not None}
        return SignedStateNote(note, tuple(signatures[n] for n in sorted(signatures)))

    def _entry(self, note: StateNote) -> dict[str, NoteSignature | None]:
        """Return the verdicts kept for `note`'s block (new ones if absent or stale)."""
        entry = self._cache.get(note.height)
        if entry is None or entry[0] != note:
            entry = (note, {})
            self._cache[note.height] = entry
        self._cache.move_to_end(note.height)
        while len(self._cache) > CACHE_BLOCKS:
            self._cache.popitem(last=False)
        return entry[1]

    def _may_sign(self, nodes: dict[str, NodeInfo]) -> bool:
        """Return whether this node holds a key, registered as its own if nodes are registered."""
        if self.node_key is None:
            return False
        registered = nodes.get(self.node_id)
        return not nodes or (registered is not None
                             and registered.public_key == self.node_key.public_key)


def _checked(note: StateNote, node_id: str, signature: bytes | None,
             nodes: dict[str, NodeInfo]) -> NoteSignature | None:
    """Return a node's stored state-note signature if it verifies over `note`, else None."""
    node = nodes.get(node_id)
    if node is None or signature is None:
        return None
    if not note.verifies(node.public_key, signature):
        log.warning("the state note signature of node %s for block %d does not verify "
                    "against this node's digest; left out", node_id, note.height)
        return None
    return NoteSignature(node_id, key_id(node_id, node.public_key), signature)
