"""A light client: trust the log only through checkpoints a quorum of nodes cosigned.

A participant keeps the last checkpoint it trusted (in memory, and in a JSON
file if given one).  `refresh()` fetches the node's checkpoint of its final
block and trusts it only if nodes of a quorum of organisations cosigned it
and, when it is newer than the trusted one, a consistency proof shows that
the log the client trusted is a prefix of it.  Reads can then be proven:
a transaction by an inclusion proof against the trusted checkpoint, a note
by proving the transaction that created it.

A node that serves a checkpoint no consistency proof joins to the trusted
one (another root at the same size, a proof that fails, an older size whose
root does not match) has shown a fork: `ForkDetected` carries both signed
checkpoints, and the evidence is kept (and written next to the trusted state).

Trust choices:
- *Who cosigns.* The registered nodes and their keys come from the caller
  (best: `nodes_from_genesis`, the genesis file every member already holds)
  or, if not given, from the first node asked (`GET /v1/nodes`), pinned
  from then on and saved with the trusted state (trust on first use: that
  first node could lie about the set; every later one cannot change it).
  Nodes are registered only in the genesis, so the set never changes.
- *Height 0.*  No node attests block 0 (the genesis), so its checkpoint
  carries at most the serving node's signature, never a quorum: a client
  given only the nodes cannot start from a chain whose final height is 0.
  Given the genesis itself (`LightClient(node, genesis=read_genesis(path))`,
  `Participant(genesis_file=path)`), the client takes its nodes from it and
  derives block 0's checkpoint as every node commits it
  (`genesis_checkpoint`: log size 1, root = the founding transaction's leaf
  hash, block 0's header hash, by `ledger.genesis.genesis_block`).  It
  starts trusted there; a served height-0 checkpoint is taken exactly when
  it is that one (its signatures do not matter), and any other is a fork.
  Later checkpoints need a quorum and a consistency proof from size 1.  The
  derived checkpoint is not written to the state file: it is re-derived.
- *Embedded chains* register no nodes, so nothing can be cosigned by a
  quorum.  With `accept_unsigned=True` the client then trusts the node
  itself (or the keys it is given); consistency checks still catch a node
  that rewrites what it showed before, but that evidence is unsigned.
- *What a proof covers.* Inclusion proves that a transaction's exact
  envelope is in the log; it does not prove its result.  A note is proven
  to derive from its creating transaction (its id is a hash of that
  transaction's id), not its amount or holder: that needs re-execution (audit).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.sdk.http import NodeClient, NodeError
from client.sdk.proofs import proof_hashes, verify_tx_inclusion
from contracts import CONTRACTS
from contracts.records import derived_id
from ledger.attestation import NodeInfo
from ledger.canonical import parse_json
from ledger.checkpoint import (
    BlockRef,
    Checkpoint,
    block_checkpoint,
    check_cosigned,
    check_origin,
    parse_signed_checkpoint,
)
from ledger.errors import LedgerError, ProofError, SchemaError, SignatureError
from ledger.execution import Executor
from ledger.genesis import Genesis, genesis_block
from ledger.merkle import verify_consistency

MAX_OUTPUTS = 4096  # output indexes searched when matching a note id to its transaction


class ForkDetected(Exception):
    """Raised when a node serves a checkpoint inconsistent with the trusted one.

    `trusted` and `served` are the two notes as received (signed by the same
    registered keys if the chain has any); `proof` is the consistency proof
    that failed, if any.  `evidence()` is what is kept.
    """

    def __init__(self, reason: str, *, trusted: str, served: str, node: str,
                 proof: tuple[str, ...] = ()) -> None:
        super().__init__(f"fork detected at {node}: {reason}")
        self.reason = reason
        self.trusted = trusted
        self.served = served
        self.node = node
        self.proof = proof

    def evidence(self) -> dict[str, Any]:
        """Return the evidence as JSON: both checkpoints, the node and the failed proof."""
        return {"reason": self.reason, "node": self.node, "trusted_checkpoint": self.trusted,
                "served_checkpoint": self.served, "consistency_proof": list(self.proof)}


@dataclass(frozen=True)
class TrustedCheckpoint:
    """A checkpoint the client verified: the tree head, its block, the note as received."""

    checkpoint: Checkpoint
    block: BlockRef
    note: str  # the signed note as served; the bare note text if unsigned
    cosigners: frozenset[str]

    @property
    def size(self) -> int:
        """Return the log size this checkpoint covers."""
        return self.checkpoint.size


def read_genesis(path: Path) -> Genesis:
    """Read a genesis file, the trust anchor members hold: its nodes and its block 0.

    Raises OSError if unreadable, SchemaError if it is not a genesis.
    """
    return Genesis.from_json(parse_json(path.read_bytes()))


def genesis_nodes(genesis: Genesis) -> dict[str, NodeInfo]:
    """Return the nodes a genesis registers, by id."""
    listed = genesis.transaction.body.args.get("nodes", [])
    return {n.id: n for n in map(NodeInfo.from_json, listed)}


def nodes_from_genesis(path: Path) -> dict[str, NodeInfo]:
    """Return the nodes a genesis file registers, by id (the trust anchor members hold)."""
    return genesis_nodes(read_genesis(path))


def genesis_checkpoint(genesis: Genesis) -> Checkpoint:
    """Return block 0's checkpoint, derived from the genesis alone exactly as nodes commit it.

    Raises LedgerError if the founding transaction is invalid (no node starts from it).
    """
    block = genesis_block(genesis, Executor(CONTRACTS))
    block.check_valid()
    return block.checkpoint()


class LightClient:
    """Trusted checkpoints of one chain, refreshed and checked through a node."""

    def __init__(self, node: NodeClient, *, nodes: Mapping[str, NodeInfo] | None = None,
                 genesis: Genesis | None = None, state_path: Path | None = None,
                 accept_unsigned: bool = False) -> None:
        """Bind to `node`; trust what `genesis` fixes, then what `state_path` kept.

        With `genesis` the nodes are those it registers (`nodes`, if given,
        must be the same: SignatureError) and block 0's checkpoint is trusted
        from the start; a genesis of another chain raises SchemaError.
        """
        self.node = node
        self.chain_id = node.chain_id
        self.state_path = state_path
        self.accept_unsigned = accept_unsigned
        self.forks: list[ForkDetected] = []
        self._nodes = dict(nodes) if nodes is not None else None
        self.genesis = None if genesis is None else self._anchor(genesis)
        self.trusted: TrustedCheckpoint | None = self.genesis
        if state_path is not None and state_path.exists():
            self._load(state_path)

    def _anchor(self, genesis: Genesis) -> TrustedCheckpoint:
        """Pin the genesis' nodes and return its block 0 checkpoint, trusted as derived."""
        if genesis.chain_id != self.chain_id:
            raise SchemaError(f"the genesis founds chain {genesis.chain_id!r}, "
                              f"not {self.chain_id!r}")
        registered = genesis_nodes(genesis)
        if self._nodes is not None and self._nodes != registered:
            raise SignatureError("the nodes given are not the ones the genesis registers")
        self._nodes = registered
        checkpoint = genesis_checkpoint(genesis)
        return TrustedCheckpoint(checkpoint, checkpoint.block(), checkpoint.text(), frozenset())

    @property
    def evidence_path(self) -> Path | None:
        """Return the file fork evidence is appended to (JSON lines), next to the state."""
        return None if self.state_path is None else self.state_path.with_name(
            self.state_path.name + ".forks.jsonl")

    def nodes(self) -> dict[str, NodeInfo]:
        """Return the pinned node set, fetching it from the node at first use."""
        if self._nodes is None:
            listed = self.node.get("/v1/nodes")["nodes"]
            self._nodes = {n.id: n for n in map(NodeInfo.from_json, listed)}
            self._save()
        return self._nodes

    # -- refreshing ----------------------------------------------------------------

    def refresh(self) -> TrustedCheckpoint:
        """Fetch the node's checkpoint; trust it if cosigned and consistent; return the trusted one.

        Raises SignatureError/SchemaError for a checkpoint that is not
        properly cosigned, ForkDetected for one inconsistent with the
        trusted checkpoint.  A node behind the trusted checkpoint that
        cannot prove its older one consistent leaves the trusted one as is.
        """
        served = self._verified(self.node.get("/v1/log/checkpoint"))
        old = self.trusted
        if old is not None:
            self._check_consistent(old, served)
            if served.block.height <= old.block.height:
                return old
        self.trusted = served
        self._save()
        return served

    def _verified(self, answer: Mapping[str, Any]) -> TrustedCheckpoint:
        """Return the served checkpoint if cosigned by a quorum, the genesis, or accepted unsigned.

        Raises ForkDetected for a height-0 checkpoint other than the genesis
        one (with a genesis anchor).
        """
        text = answer.get("checkpoint")
        if text is None:
            return self._unsigned(answer)
        if not isinstance(text, str):
            raise SchemaError("the node's checkpoint is not a string")
        signed = parse_signed_checkpoint(text)
        block = check_origin(signed, self.chain_id)
        if block.height == 0 and self.genesis is not None:
            _check_fields(answer, signed.checkpoint, block)
            return self._as_genesis(signed.checkpoint, text)
        nodes = self.nodes()
        cosigners = (check_cosigned(signed, self.chain_id, nodes)
                     if nodes or not self.accept_unsigned else frozenset[str]())
        _check_fields(answer, signed.checkpoint, block)
        return TrustedCheckpoint(signed.checkpoint, block, text, cosigners)

    def _unsigned(self, answer: Mapping[str, Any]) -> TrustedCheckpoint:
        """Return an unsigned answer's checkpoint: the genesis one, or any if accepted unsigned."""
        genesis = self.genesis is not None and answer.get("height") == 0
        if not genesis and (self.nodes() or not self.accept_unsigned):
            raise SignatureError(f"the node serves an unsigned checkpoint "
                                 f"({answer.get('unsigned', 'no reason given')})")
        try:
            checkpoint = block_checkpoint(self.chain_id, int(answer["size"]),
                                          bytes.fromhex(answer["root"]), int(answer["height"]),
                                          str(answer["block_hash"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise SchemaError(f"the node's checkpoint lacks a valid {exc}") from exc
        if genesis:
            return self._as_genesis(checkpoint, checkpoint.text())
        return TrustedCheckpoint(checkpoint, checkpoint.block(), checkpoint.text(), frozenset())

    def _as_genesis(self, checkpoint: Checkpoint, note: str) -> TrustedCheckpoint:
        """Return the genesis checkpoint if `checkpoint` is it; raise ForkDetected if not."""
        assert self.genesis is not None
        if checkpoint != self.genesis.checkpoint:
            served = TrustedCheckpoint(checkpoint, checkpoint.block(), note, frozenset())
            self._fork("its block 0 is not the genesis block the genesis file gives",
                       self.genesis, served)
        return self.genesis

    def _check_consistent(self, old: TrustedCheckpoint, new: TrustedCheckpoint) -> None:
        """Raise ForkDetected unless one of the two checkpoints extends the other."""
        if new.size == old.size:
            if new.checkpoint.root != old.checkpoint.root:
                self._fork("the same log size has two different roots", old, new)
            if new.block.height == old.block.height and new.block.hash != old.block.hash:
                self._fork("the same block height has two different header hashes", old, new)
            return
        if (new.size > old.size) != (new.block.height > old.block.height):
            self._fork("a later block has a smaller log", old, new)
        first, second = (old, new) if new.size > old.size else (new, old)
        try:
            proof = self.node.get("/v1/log/consistency",
                                  {"first": first.size, "second": second.size})["proof"]
        except NodeError as exc:
            if new.size < old.size and exc.status == 400:
                return  # a node behind us, whose log is shorter than ours: nothing to check
            raise
        try:
            verify_consistency(first.size, second.size, first.checkpoint.root,
                               second.checkpoint.root, proof_hashes(proof))
        except ProofError as exc:
            self._fork(f"no consistency from size {first.size} to {second.size}: {exc}",
                       old, new, tuple(str(p) for p in proof))

    def _fork(self, reason: str, old: TrustedCheckpoint, new: TrustedCheckpoint,
              proof: tuple[str, ...] = ()) -> None:
        """Keep the evidence of a fork (memory, and file) and raise ForkDetected."""
        fork = ForkDetected(reason, trusted=old.note, served=new.note, node=self.node.base_url,
                            proof=proof)
        self.forks.append(fork)
        path = self.evidence_path
        if path is not None:
            with path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(fork.evidence(), ensure_ascii=False) + "\n")
        raise fork

    # -- proving reads --------------------------------------------------------------

    def prove_transaction(self, tx_id: str) -> dict[str, Any]:
        """Return a transaction's status and envelope, proven in the trusted log.

        Refreshes first if the transaction is beyond the trusted checkpoint;
        raises ProofError if it is still not covered (not final yet) or if
        the node's inclusion proof does not verify.
        """
        tx = dict(self.node.get(f"/v1/transactions/{tx_id}"))
        index = tx.get("log_index")
        if type(index) is not int:
            raise ProofError(f"transaction {tx_id} is not committed, so nothing proves it yet")
        trusted = self.trusted or self.refresh()
        if index >= trusted.size:
            trusted = self.refresh()
        if index >= trusted.size:
            raise ProofError(f"transaction {tx_id} is at log index {index}, beyond the trusted "
                             f"checkpoint of size {trusted.size}: its block is not final yet")
        proof = self.node.get(f"/v1/log/inclusion/{tx_id}", {"size": trusted.size})
        if proof.get("leaf_index") != index:
            raise ProofError("the inclusion proof is for another log index than the transaction")
        verify_tx_inclusion(tx["envelope"], tx_id, proof,
                            {"size": trusted.size, "root": trusted.checkpoint.root.hex()})
        return tx

    def prove_note(self, note_id: str) -> dict[str, Any]:
        """Return a note whose creating transaction is proven in the trusted log.

        Raises ProofError if the note's id is not an output of the
        transaction the node names, or if that transaction is not proven.
        """
        note = dict(self.node.get(f"/v1/notes/{note_id}"))
        tx_id = note.get("created_tx")
        if note.get("id") != note_id or not isinstance(tx_id, str) or not any(
                derived_id(tx_id, i) == note_id for i in range(MAX_OUTPUTS)):
            raise ProofError(f"note {note_id} is not an output of transaction {tx_id}")
        self.prove_transaction(tx_id)
        return note

    # -- state ----------------------------------------------------------------------

    def _save(self) -> None:
        """Write the pinned nodes and the trusted checkpoint (atomically) if given a path.

        The genesis checkpoint is not written: it is derived from the genesis again.
        """
        if self.state_path is None:
            return
        kept = None if self.trusted in (None, self.genesis) else self.trusted
        state = {"chain_id": self.chain_id,
                 "nodes": None if self._nodes is None else [
                     self._nodes[n].to_json() for n in sorted(self._nodes)],
                 "checkpoint": None if kept is None else kept.note}
        scratch = self.state_path.with_name(self.state_path.name + ".tmp")
        scratch.write_text(json.dumps(state, indent=1, ensure_ascii=False), encoding="utf-8")
        os.replace(scratch, self.state_path)

    def _load(self, path: Path) -> None:
        """Read the trusted state and check it again (a file is no more trusted than a node)."""
        state = json.loads(path.read_text(encoding="utf-8"))
        if state.get("chain_id") != self.chain_id:
            raise SchemaError(f"{path} holds the trusted state of chain {state.get('chain_id')!r}")
        if state.get("nodes") is not None:
            pinned = {n.id: n for n in map(NodeInfo.from_json, state["nodes"])}
            if self._nodes is not None and self._nodes != pinned:
                raise SignatureError(f"{path} pins other nodes than the ones given")
            self._nodes = pinned
        note = state.get("checkpoint")
        if note is not None:
            self.trusted = self._restored(note)

    def _restored(self, note: str) -> TrustedCheckpoint:
        """Verify a saved checkpoint as if served; an unsigned one is its bare note text."""
        try:
            signed = parse_signed_checkpoint(note)
        except LedgerError:
            checkpoint = Checkpoint.from_text(note)
            return self._verified({"checkpoint": None, "size": checkpoint.size,
                                   "root": checkpoint.root.hex(),
                                   "height": checkpoint.block().height,
                                   "block_hash": checkpoint.block().hash})
        block = signed.checkpoint.block()
        return self._verified({"checkpoint": note, "size": signed.checkpoint.size,
                               "root": signed.checkpoint.root.hex(), "height": block.height,
                               "block_hash": block.hash})


def _check_fields(answer: Mapping[str, Any], checkpoint: Checkpoint, block: BlockRef) -> None:
    """Raise ProofError unless the answer's plain fields say what its signed note says."""
    expected = {"size": checkpoint.size, "root": checkpoint.root.hex(), "height": block.height,
                "block_hash": block.hash}
    if any(answer.get(k) != v for k, v in expected.items()):
        raise ProofError("the node's checkpoint fields disagree with its signed note")
