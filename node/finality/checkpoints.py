"""The signed checkpoints a node serves: one per block, cosigned by the nodes that attested it.

The checkpoint of block h is the log's tree head after that block (size =
the header's `log_size`, root = the log root at that size) with the line
`block <h> <header hash>` (ledger/checkpoint.py).  Each attesting node signs
it along with its attestation (`note_sig`); the attestations table keeps
those signatures with the blocks.  Serving a checkpoint gathers them, keeps
only those that verify against the checkpoint this node computed for the
same block (a node that computed another header signed another note), adds
this node's own signature if it holds a node key, and caches the result.

Block 0 is never attested (it is the genesis, fixed by the genesis file every
member holds), so its checkpoint carries at most this node's signature; the
answer says so (`genesis`, `genesis_trust`) and clients derive it instead.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from ledger.attestation import NodeInfo
from ledger.block import BlockHeader
from ledger.canonical import JSONValue, parse_json
from ledger.checkpoint import Checkpoint, SignedCheckpoint, block_checkpoint, sign_checkpoint
from ledger.crypto import PrivateKey
from ledger.errors import SignatureError
from ledger.signed_note import NoteSignature, key_id
from node.pipeline.chain import Chain
from node.storage.store import StoredAttestation

log = logging.getLogger(__name__)
CACHE_BLOCKS = 256  # checkpoints kept ready; the final one is asked for most
GENESIS_TRUST = ("block 0 is the genesis: no node attests it, so this checkpoint has no quorum "
                 "of cosigners; trust it by deriving it from the genesis file every member "
                 "holds (log size 1, root = the leaf hash of the genesis transaction, block 0's "
                 "header hash), as client/sdk/lightclient.py does given genesis=")


def checkpoint_of(chain: Chain, header: BlockHeader) -> Checkpoint:
    """Return the checkpoint of block `header` from this node's log.

    Requires the block to be committed here (its log size within the log).
    """
    with chain.lock:
        root = chain.log.root(header.log_size)
    return block_checkpoint(chain.chain_id, header.log_size, root, header.height, header.hash())


@dataclass(frozen=True)
class ServedCheckpoint:
    """A block's checkpoint with the cosignatures that verified (maybe none)."""

    checkpoint: Checkpoint
    signatures: tuple[NoteSignature, ...]

    def to_json(self, chain_id: str) -> dict[str, JSONValue]:
        """Return the JSON the API serves: the tree head fields, and the signed note."""
        block = self.checkpoint.block()
        body: dict[str, JSONValue] = {
            "chain_id": chain_id, "size": self.checkpoint.size, "root": self.checkpoint.root.hex(),
            "height": block.height, "block_hash": block.hash,
            "cosigners": [s.name for s in self.signatures], "genesis": block.height == 0,
        }
        if block.height == 0:
            body["genesis_trust"] = GENESIS_TRUST
        if self.signatures:
            body["checkpoint"] = SignedCheckpoint(self.checkpoint, self.signatures).encode()
        else:
            body["checkpoint"] = None
            body["unsigned"] = ("no node signed this checkpoint: this node holds no node key "
                                "and no registered node's cosignature is kept for the block")
        return body


@dataclass
class _Entry:
    """What is known of one block's checkpoint: verified cosignatures, by node id."""

    checkpoint: Checkpoint
    checked: dict[str, NoteSignature | None] = field(default_factory=dict)  # None: failed


class Checkpoints:
    """Builds and caches this node's signed checkpoints (thread-safe)."""

    def __init__(self, chain: Chain, *, node_id: str, node_key: PrivateKey | None) -> None:
        self.chain = chain
        self.node_id = node_id
        self.node_key = node_key
        self._lock = threading.Lock()
        self._cache: OrderedDict[int, _Entry] = OrderedDict()

    def header(self, height: int) -> BlockHeader | None:
        """Return this node's header of block `height`, or None if it has none."""
        raw = self.chain.store.block_header(height)
        return None if raw is None else BlockHeader.from_json(parse_json(raw))

    def signed(self, header: BlockHeader) -> ServedCheckpoint:
        """Return block `header`'s checkpoint with every cosignature that verifies."""
        checkpoint = checkpoint_of(self.chain, header)
        rows = [r for r in self.chain.store.attestations(header.height, header.height)
                if r.note_signature is not None and r.header_hash == header.hash()]
        nodes = self.chain.nodes()
        with self._lock:
            entry = self._entry(header.height, checkpoint)
            for row in rows:
                if row.node_id not in entry.checked:
                    entry.checked[row.node_id] = _checked(checkpoint, row, nodes)
            own = self._own_signature(entry, nodes)
            signatures = {s.name: s for s in entry.checked.values() if s is not None}
        if own is not None:
            signatures.setdefault(own.name, own)
        return ServedCheckpoint(checkpoint, tuple(signatures[n] for n in sorted(signatures)))

    def _entry(self, height: int, checkpoint: Checkpoint) -> _Entry:
        """Return the cache entry of block `height` (a new one if absent or stale)."""
        entry = self._cache.get(height)
        if entry is None or entry.checkpoint != checkpoint:
            entry = _Entry(checkpoint)
            self._cache[height] = entry
        self._cache.move_to_end(height)
        while len(self._cache) > CACHE_BLOCKS:
            self._cache.popitem(last=False)
        return entry

    def _own_signature(self, entry: _Entry, nodes: dict[str, NodeInfo]) -> NoteSignature | None:
        """Return this node's signature, if it holds the key it is registered with (if any).

        A node signs only checkpoints of blocks it committed itself, and on
        a chain with registered nodes only under its registered key.
        """
        key = self.node_key
        if key is None:
            return None
        registered = nodes.get(self.node_id)
        if nodes and (registered is None or registered.public_key != key.public_key):
            return None
        cached = entry.checked.get(self.node_id)
        if cached is None:
            cached = sign_checkpoint(entry.checkpoint, self.node_id, key)
            entry.checked[self.node_id] = cached
        return cached


def _checked(checkpoint: Checkpoint, row: StoredAttestation,
             nodes: dict[str, NodeInfo]) -> NoteSignature | None:
    """Return a node's stored cosignature if it verifies over `checkpoint`, else None."""
    node = nodes.get(row.node_id)
    if node is None or row.note_signature is None:
        return None
    try:
        node.public_key.verify_unframed(checkpoint.text().encode("utf-8"), row.note_signature)
    except SignatureError:
        log.warning("the checkpoint signature of node %s for block %d does not verify; "
                    "left out", row.node_id, row.height)
        return None
    return NoteSignature(row.node_id, key_id(row.node_id, node.public_key), row.note_signature)
