"""Queries: every read the API serves about the chain, its log, its blocks, its policies
and the node.

Transactions, their log entries and their events are shown to the parties
they concern and to auditors; blocks' headers to every member and their
transactions to auditors; an event's `parties` (who else a transaction
concerns) to auditors only.  Reads of the register itself (notes,
credentials, records) are in `holdings`.  A read the viewer may not make
answers None, as for a record that does not exist.
"""

from __future__ import annotations

from typing import Any

import orjson

from contracts.registry import policies_at
from ledger.attestation import NodeInfo, quorum_size
from ledger.block import BlockHeader
from ledger.canonical import JSONValue, parse_json
from ledger.crypto import b64encode
from ledger.execution import member_of
from ledger.membership import Member
from ledger.state_digest import ALGORITHM
from node.clock import Clock, ManualClock, timestamp
from node.config import NodeConfig
from node.finality.checkpoints import Checkpoints
from node.finality.state_notes import StateNotes
from node.pipeline.admission import Admission
from node.pipeline.chain import Chain, CommittedTx
from node.pipeline.committer import Committer
from node.pipeline.holdings import Refused, is_archived, is_auditor, refuse_archived
from node.pipeline.mempool import Mempool
from node.storage.models import TxRow
from node.storage.store import Store

SYNC_PAGE_BYTES = 4 * 1024 * 1024  # a sync page stops growing past this many bytes

Answer = dict[str, Any]


class Queries:
    """Reads over the node's chain, store and pipeline, as one member may make them."""

    def __init__(self, *, chain: Chain, store: Store, mempool: Mempool, admission: Admission,
                 committer: Committer, checkpoints: Checkpoints, state_notes: StateNotes,
                 clock: Clock, config: NodeConfig) -> None:
        self._chain = chain
        self._store = store
        self._mempool = mempool
        self._admission = admission
        self._committer = committer
        self._checkpoints = checkpoints
        self._state_notes = state_notes
        self._clock = clock
        self._config = config

    # -- the node ------------------------------------------------------------------

    @property
    def chain_id(self) -> str:
        """Return the chain this node serves."""
        return self._chain.chain_id

    def registered_node(self, node_id: str) -> NodeInfo | None:
        """Return the registered node `node_id`, or None (a member or unknown id)."""
        return self._chain.nodes().get(node_id)

    def health(self) -> Answer:
        """Return the chain id and node id (what a client signs requests for), and the clock.

        `clock` is "manual" on a simulation node, whose `time` is then what a
        client must sign with (it only moves when told to), else "system".
        """
        manual = isinstance(self._clock, ManualClock)
        return {"ok": True, "chain_id": self._chain.chain_id, "node_id": self._config.node_id,
                "clock": "manual" if manual else "system", "time": timestamp(self._clock)}

    def status(self) -> Answer:
        """Return the head, final height, log size, node time, pending and ordering health."""
        head = self._chain.head
        finality = self._committer.finality
        divergence = finality.divergence if finality is not None else None
        problem = self._mempool.ordering_problem
        return {
            "chain_id": self._chain.chain_id, "node_id": self._config.node_id,
            "height": head.height, "head_hash": head.hash(), "log_size": head.log_size,
            "final_height": self._committer.final_height,
            "diverged": divergence.to_json() if divergence is not None else None,
            "contract_code_mismatch": self._committer.code_mismatch,
            "time": timestamp(self._clock), "pending": len(self._mempool.pending),
            "pending_limit": self._config.max_pending_txs,
            "ordering_available": problem is None, "ordering_problem": problem,
        }

    def nodes(self) -> Answer:
        """Return the registered nodes and the quorum of organisations that makes a block final."""
        registered = self._chain.nodes()
        return {"nodes": [registered[n].to_json() for n in sorted(registered)],
                "quorum": quorum_size(registered.values()) if registered else 0}

    def policies(self) -> Answer:
        """Return the policies in force at the head, the versions scheduled after it, the height.

        Read from the committed state under the chain's lock, so the height is
        the one the values are as of (contracts/registry.py `policies_at`).
        """
        with self._chain.lock:
            return policies_at(self._chain.state, self._chain.head.height)

    def member(self, uscc: str) -> Member | None:
        """Return the member record in the current state, or None."""
        with self._chain.lock:
            return member_of(self._chain.state, uscc)

    def members(self) -> list[JSONValue]:
        """Return every member record (all members may see who is in the consortium)."""
        with self._chain.lock:
            keys = self._chain.state.keys_with_prefix("member/")
            return [self._chain.state.get(k) for k in sorted(keys)]

    # -- transactions and events -----------------------------------------------------

    def tx_status(self, tx_id: str) -> Answer | None:
        """Return a transaction's status, or None if this node has never seen it.

        Raises Refused (`archived`, 410) for a transaction below the snapshot
        this node started from: only its log entry is here.  A block's rows
        reach the database just before the node's head moves to it; until
        then its transactions are still pending, so that a client told
        "committed" finds the head, the block and the proofs there.
        """
        row = self._store.tx(tx_id)
        if row is not None and row.height > self._chain.head.height:
            return {"tx_id": tx_id, "status": "pending"}
        if row is not None:
            refuse_archived(row)
            return self._admission.committed_status(
                CommittedTx(tx_id, row.height, row.log_index, row.valid, row.code, row.reason))
        if tx_id in self._mempool.pending:
            return {"tx_id": tx_id, "status": "pending"}
        return None

    def _party(self, viewer: Member, tx_id: str) -> bool:
        pending = self._mempool.pending.get(tx_id)
        if is_auditor(viewer):
            return True
        if pending is not None:
            return viewer.uscc in pending.body.signers
        return viewer.uscc in self._store.parties(tx_id)

    def transaction(self, viewer: Member, tx_id: str) -> Answer | None:
        """Return a transaction's status with its envelope and events, if `viewer` is a party.

        An archived transaction (below this node's snapshot) is refused as
        such only to its parties; to anyone else it looks unknown, as ever.
        """
        row = self._store.tx(tx_id)
        if row is not None and is_archived(row) and not self._party(viewer, tx_id):
            return None
        info = self.tx_status(tx_id)
        if info is None or not self._party(viewer, tx_id):
            return None
        row = self._store.tx(tx_id)
        if row is not None and info["status"] != "pending":
            info = {**info, "envelope": orjson.loads(row.envelope),
                    "events": served_events(viewer, row.events)}
        return info

    def events(self, viewer: Member, after: int, limit: int) -> list[Answer]:
        """Return, in log order, the committed transactions `viewer` is party to after `after`.

        On a node started from a snapshot the feed starts after it: the
        archived entries below it (no envelope, no events) are passed over.
        """
        head = self._chain.head.height  # a block written but not yet the head is not served
        rows = self._store.txs_for_party(viewer.uscc, after, limit)
        while rows and is_archived(rows[-1]):
            rows = self._store.txs_for_party(viewer.uscc, rows[-1].log_index, limit)
        return [{
            "tx_id": row.id, "log_index": row.log_index, "height": row.height,
            "contract": row.contract, "action": row.action, "valid": row.valid,
            "reason": row.reason, "events": served_events(viewer, row.events),
        } for row in rows if not is_archived(row) and row.height <= head]

    # -- blocks ----------------------------------------------------------------------

    def blocks(self, start: int, limit: int) -> list[Answer]:
        """Return up to `limit` block headers from height `start`, with their hashes."""
        limit = min(limit, self._chain.head.height + 1 - start)  # not past the head
        return [header_json(raw) for raw in self._store.headers(start, limit)] if limit > 0 else []

    def block(self, viewer: Member, height: int) -> Answer | None:
        """Return a block's header and hash; auditors also get its transactions."""
        raw = self._store.block_header(height) if height <= self._chain.head.height else None
        if raw is None:
            return None
        body = header_json(raw)
        if is_auditor(viewer):
            rows = self._store.block_txs(height)
            for row in rows[:1]:
                refuse_archived(row)
            body["transactions"] = [tx_json(row) for row in rows]
        return body

    def certificate(self, height: int) -> Answer | None:
        """Return block `height`'s finality certificate; raise Refused off a network."""
        raw = self._store.block_header(height)
        if raw is None:
            return None
        finality = self._committer.finality
        if finality is None:
            raise Refused("not_found", f"a certificate for block {height} not found (this "
                                       "node is not on a network)")
        nodes = finality.nodes()
        return {
            "height": height, "header_hash": BlockHeader.from_json(parse_json(raw)).hash(),
            "quorum": quorum_size(nodes.values()), "final": height <= finality.final_height,
            "attestations": [a.to_json() for a in finality.certificate(height)],
            "nodes": {n.id: n.org for n in nodes.values()},
        }

    def certified_blocks(self, start: int, limit: int) -> Answer:
        """Return final blocks from `start` with transactions, kept batch and certificate.

        At most `limit` blocks, and no more once SYNC_PAGE_BYTES of
        transactions and batches are in the page (always one block at least),
        so a page of large blocks stays small and one of small blocks still
        carries many.
        """
        finality, final = self._committer.finality, self._committer.final_height
        blocks, size = [], 0
        for height in range(start, min(start + limit - 1, final) + 1):
            raw = self._store.block_header(height)
            rows = self._store.block_txs(height)
            if (raw is None or finality is None or size >= SYNC_PAGE_BYTES
                    or any(is_archived(r) for r in rows[:1])):
                break  # a full page; or archived (below this node's snapshot): a peer serves it
            batch = self._store.block_batch(height)
            envelopes = [r.envelope for r in rows]
            size += sum(map(len, envelopes)) + (0 if batch is None else len(batch))
            blocks.append({
                "header": parse_json(raw),
                "batch": None if batch is None else b64encode(batch),
                "transactions": [orjson.loads(e) for e in envelopes],
                "attestations": [a.to_json() for a in finality.certificate(height)],
            })
        return {"blocks": blocks, "final_height": final}

    # -- the transaction log ------------------------------------------------------------

    def checkpoint(self, height: int | None) -> Answer:
        """Return the signed checkpoint of the final block, or of final block `height`."""
        final = self._committer.final_height
        if height is not None and height > final:
            raise Refused("not_found", f"block {height} is not final on this node (final height "
                                       f"{final}), so it has no checkpoint yet")
        header = self._checkpoints.header(final if height is None else height)
        if header is None:
            raise RuntimeError(f"final block {height} is not stored (a bug)")
        return self._checkpoints.signed(header).to_json(self._chain.chain_id)

    def state_digest(self, height: int | None) -> Answer:
        """Return the world state's digest after the final block, or after final block `height`.

        Only final blocks' digests are served (a quorum signed the block, so
        the state after it will not change); a block committed before this
        node kept digests has none (not_found, as for a height not final).
        `state_note` is the block's state note with the cosignatures that
        verify against this node's digest (None if no node signed it).
        """
        final = self._committer.final_height
        at = final if height is None else height
        if at > final:
            raise Refused("not_found", f"block {at} is not final on this node (final height "
                                       f"{final}), so its state digest is not served yet")
        header = self._checkpoints.header(at)
        signed = None if header is None else self._state_notes.signed(header, self._chain.nodes())
        if header is None or signed is None:
            raise Refused("not_found", f"this node kept no state digest for block {at} (its "
                                       "database is older than state digests, or it started "
                                       "from a later snapshot)")
        return {"height": at, "block_hash": header.hash(), "algorithm": ALGORITHM,
                "digest": signed.note.digest.hex(),
                "cosigners": [s.name for s in signed.signatures],
                "state_note": signed.encode() if signed.signatures else None}

    def _size(self, size: int | None) -> int:
        current = self._chain.log.size
        if size is None:
            return current
        if not 0 < size <= current:
            raise Refused("bad_request", f"size must be between 1 and the log size {current}")
        return size

    def inclusion(self, viewer: Member, tx_id: str, size: int | None) -> Answer | None:
        """Prove that transaction `tx_id` is in the log of `size` (default: current)."""
        row = self._store.tx(tx_id)
        if row is None or not (is_auditor(viewer) or viewer.uscc in self._store.parties(tx_id)):
            return None
        log = self._chain.log
        with self._chain.lock:
            tree_size = self._size(size)
            if row.log_index >= tree_size:
                raise Refused("bad_request", f"transaction is at index {row.log_index}, "
                                             f"outside a log of size {tree_size}")
            proof, root = log.inclusion_proof(row.log_index, tree_size), log.root(tree_size)
        return {"tx_id": tx_id, "leaf_index": row.log_index, "tree_size": tree_size,
                "leaf_hash": row.leaf_hash.hex(), "proof": [p.hex() for p in proof],
                "root": root.hex()}

    def consistency(self, first: int, second: int | None) -> Answer:
        """Prove that the log of size `first` is a prefix of the log of size `second`."""
        log = self._chain.log
        with self._chain.lock:
            second_size = self._size(second)
            if first > second_size:
                raise Refused("bad_request", "first must not exceed second")
            proof = log.consistency_proof(first, second_size)
            roots = (log.root(first), log.root(second_size))
        return {"first": first, "second": second_size, "first_root": roots[0].hex(),
                "second_root": roots[1].hex(), "proof": [p.hex() for p in proof]}

    def leaf(self, viewer: Member, index: int) -> Answer | None:
        """Return the transaction at log position `index`, if `viewer` may see it."""
        row = self._store.tx_at_log_index(index)
        if row is None or not (is_auditor(viewer) or viewer.uscc in self._store.parties(row.id)):
            return None
        return {"tx_id": row.id, "leaf_index": index, "leaf_hash": row.leaf_hash.hex()}


def served_events(viewer: Member, raw: bytes) -> Any:
    """Return a transaction's stored events as `viewer` may see them.

    An event's `parties` say who may read the transaction; a payment's list
    every holder it cleared, so they are served to auditors only.
    """
    events = orjson.loads(raw)
    if is_auditor(viewer) or not isinstance(events, list):
        return events
    return [{k: v for k, v in e.items() if k != "parties"} if isinstance(e, dict) else e
            for e in events]


def header_json(raw: bytes) -> dict[str, JSONValue]:
    """Return a stored header with its hash, as served."""
    header = BlockHeader.from_json(parse_json(raw))
    return {"hash": header.hash(), "header": header.to_json()}


def tx_json(row: TxRow) -> dict[str, JSONValue]:
    """Return a stored transaction as served to auditors."""
    return {
        "tx_id": row.id, "log_index": row.log_index, "valid": row.valid, "code": row.code,
        "reason": row.reason, "envelope": orjson.loads(row.envelope),
        "events": orjson.loads(row.events),
    }
