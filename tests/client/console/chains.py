"""Synthetic chains for the browser verifier: real genesis, envelopes, keys and signed checkpoints.

Everything is made by `ledger/` itself (make_genesis, MerkleLog, sign_checkpoint
with real Ed25519 node keys), so a bundle here is what a node would serve for
such a consortium, without running one: many consortia (4 nodes of 4
organisations, 2 nodes of one, ...) and many forgeries fit in one test.  The
bundle's shape is the one client/console/verification.py builds.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from client.console.verification import BUNDLE_FORMAT
from ledger.attestation import NodeInfo
from ledger.checkpoint import Checkpoint, SignedCheckpoint, block_checkpoint, sign_checkpoint
from ledger.crypto import PrivateKey, sha256
from ledger.genesis import Genesis, make_genesis
from ledger.merkle import MerkleLog, leaf_hash
from ledger.signed_note import NoteSignature
from ledger.tx import Envelope
from tests.builders import CHAIN_ID, START, Org, build_tx, make_orgs

ORGS = make_orgs()


def node_key(name: str) -> PrivateKey:
    """Return the fixed test key of node `name`."""
    return PrivateKey(sha256(f"console test node {name}".encode()))


@dataclass
class Chain:
    """A consortium's genesis and log, with one transaction of interest at `index`."""

    nodes: list[NodeInfo]
    chain_id: str = CHAIN_ID
    fillers: int = 5  # log entries before the transaction (the genesis is leaf 0)
    after: int = 3  # and after it
    seed: str = "a"
    genesis: Genesis = field(init=False)
    tx: Envelope = field(init=False)
    log: MerkleLog = field(init=False)
    index: int = field(init=False)

    def __post_init__(self) -> None:
        members = {o.uscc: (o.member(), o.key) for o in ORGS.values()}
        self.genesis = make_genesis(self.chain_id, START, members, {}, self.nodes)
        self.tx = _payment(ORGS, self.chain_id)
        self.log = MerkleLog()
        self.log.append(self.genesis.transaction.leaf)
        self.log.extend(leaf_hash(f"{self.seed} filler {i}".encode()) for i in range(self.fillers))
        self.index = self.log.append(self.tx.leaf)
        self.log.extend(leaf_hash(f"{self.seed} later {i}".encode()) for i in range(self.after))

    def grow(self, entries: int, seed: str) -> None:
        """Append `entries` more leaves."""
        self.log.extend(leaf_hash(f"{seed} grown {i}".encode()) for i in range(entries))

    def checkpoint(self, size: int | None = None, height: int | None = None,
                   origin_chain: str | None = None) -> Checkpoint:
        """Return the checkpoint of the log at `size` (default: all of it)."""
        size = self.log.size if size is None else size
        return block_checkpoint(origin_chain or self.chain_id, size, self.log.root(size),
                                size if height is None else height,
                                sha256(f"block {size} {self.seed}".encode()).hex())

    def note(self, signers: Sequence[str], *, size: int | None = None, height: int | None = None,
             origin_chain: str | None = None, keys: dict[str, PrivateKey] | None = None) -> str:
        """Return the signed checkpoint of the log at `size`, cosigned by node ids `signers`."""
        checkpoint = self.checkpoint(size, height, origin_chain)
        keys = keys or {}
        signatures = [sign_checkpoint(checkpoint, s, keys.get(s) or node_key(s)) for s in signers]
        return SignedCheckpoint(checkpoint, tuple(signatures)).encode()

    def bundle(self, signers: Sequence[str], *, since: int | None = None,
               note: str | None = None) -> dict[str, Any]:
        """Return the verification bundle of the transaction at the log's current size."""
        size = self.log.size
        checkpoint = {"chain_id": self.chain_id, "size": size, "root": self.log.root().hex(),
                      "height": size, "block_hash": "", "cosigners": list(signers),
                      "genesis": False, "checkpoint": note or self.note(signers)}
        return {
            "format": BUNDLE_FORMAT, "chain_id": self.chain_id, "tx_id": self.tx.tx_id,
            "made_by": ORGS["s1"].uscc, "node": "http://127.0.0.1:1",
            "genesis": self.genesis.to_json(),
            "transaction": {"tx_id": self.tx.tx_id, "status": "committed", "valid": True,
                            "log_index": self.index, "final": True,
                            "envelope": self.tx.to_json()},
            "checkpoint": checkpoint,
            "inclusion": {"tx_id": self.tx.tx_id, "leaf_index": self.index, "tree_size": size,
                          "leaf_hash": self.tx.leaf.hex(),
                          "proof": [p.hex() for p in self.log.inclusion_proof(self.index, size)],
                          "root": self.log.root().hex()},
            "genesis_link": self.consistency(1, size),
            "consistency": None if since is None else self.consistency(*sorted((since, size))),
        }

    def consistency(self, first: int, second: int) -> dict[str, Any]:
        """Return a node's consistency answer between two sizes of this log."""
        return {"first": first, "second": second, "first_root": self.log.root(first).hex(),
                "second_root": self.log.root(second).hex(),
                "proof": [p.hex() for p in self.log.consistency_proof(first, second)]}


def _payment(orgs: dict[str, Org], chain_id: str) -> Envelope:
    return build_tx(orgs, ["s1"], "receivable", "transfer",
                    {"note": "ab" * 32, "payments": [{"to": orgs["s2"].uscc, "amount": 1234}]},
                    now=START, chain_id=chain_id)


def nodes_of(*spec: tuple[str, str]) -> list[NodeInfo]:
    """Return registered nodes from (node id, org name) pairs."""
    return [NodeInfo(node_id, ORGS[org].uscc, node_key(node_id).public_key)
            for node_id, org in spec]


def four_orgs() -> list[NodeInfo]:
    """Return 4 nodes, one per organisation (quorum 3)."""
    return nodes_of(("node-core", "core"), ("node-bank-a", "b1"), ("node-auditor", "auditor"),
                    ("node-s1", "s1"))


def with_signature(note: str, signature: NoteSignature) -> str:
    """Return `note` with one more signature line."""
    return note + signature.line()


def edited(bundle: dict[str, Any], path: Sequence[str | int], value: Any) -> dict[str, Any]:
    """Return a deep copy of `bundle` with the value at `path` replaced."""
    copied = copy.deepcopy(bundle)
    target: Any = copied
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copied


def flip_hex(text: str, at: int = 0) -> str:
    """Return a hex hash with one bit flipped in byte `at`."""
    raw = bytearray(bytes.fromhex(text))
    raw[at] ^= 1
    return raw.hex()
