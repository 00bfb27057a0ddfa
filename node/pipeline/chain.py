"""The node's chain: turns each ordered batch into the next block, durably.

For every batch from the orderer, in order, the block is derived by the rules
the audit derives it by too (ledger/derivation.py: decode, drop transactions
already in the log, execute, build the header); this module feeds those rules
what the node knows (its store answers which transactions and nonces are
already used) and commits the block and all its effects in one database
transaction.  Only then are the in-memory caches (the world state and the
Merkle log) advanced, under a lock that simulations share.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from contracts.records import KEY_PREFIX, Note, NoteStatus
from ledger.attestation import NODE_PREFIX, NodeInfo
from ledger.batch import ParseEnvelope, parse_or_none
from ledger.block import BlockHeader, TxResult, tx_root
from ledger.bounded_state import BoundedState
from ledger.canonical import JSONValue, parse_json, parse_trusted
from ledger.compact_log import CompactLog
from ledger.crypto import PublicKey
from ledger.derivation import Derived, candidate, derive, derive_block, parties_of
from ledger.errors import LedgerError
from ledger.execution import BlockContext, Executor, Hint, Overlay, Simulation
from ledger.genesis import Genesis, genesis_block
from ledger.merkle import leaf_hash
from ledger.state_digest import StateDigest
from ledger.tx import Envelope, envelope_from_checked
from node.ordering import OrderedBatch
from node.storage import state_digests
from node.storage.records_index import index_rows, removed_ids
from node.storage.store import BlockWrite, Store, StoredTx

log = logging.getLogger(__name__)
NOTE_PREFIX = KEY_PREFIX[Note]
SIGNATURE_CACHE_SIZE = 100_000  # transactions (each with its signatures); see SignatureCache
STATE_CACHE_KEYS = 50_000  # world-state keys kept in memory (NodeConfig.state_cache_keys)
FINISHED_NOTES = frozenset({NoteStatus.SPENT, NoteStatus.SETTLED, NoteStatus.VOID})


class SignatureCache:
    """Remembers which (key, signature) pairs verified over which pending transaction.

    Signatures are verified once, in the verifier processes at submission or
    here on a miss; simulation and commit then find them in the cache.  The
    key is part of the entry, so a member re-keyed in between is checked
    again.  A transaction's entries are forgotten once it commits (a
    committed id is a replay, refused before any signature is checked), so
    the cache holds the transactions in flight, not a stretch of history;
    `size` transactions is only the bound for those that never commit.
    """

    def __init__(self, size: int = SIGNATURE_CACHE_SIZE) -> None:
        self._by_tx: OrderedDict[str, set[tuple[bytes, bytes]]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._by_tx)

    def add(self, key: PublicKey, signature: bytes, tx_id: str) -> None:
        """Record that `signature` by `key` over transaction `tx_id` verified."""
        with self._lock:
            self._by_tx.setdefault(tx_id, set()).add((key.raw, signature))
            if len(self._by_tx) > self._size:
                self._by_tx.popitem(last=False)

    def forget(self, tx_ids: Iterable[str]) -> None:
        """Drop the entries of transactions that committed."""
        with self._lock:
            for tx_id in tx_ids:
                self._by_tx.pop(tx_id, None)

    def __call__(self, envelope: Envelope, key_of: Callable[[str], PublicKey | None]) -> None:
        keys = [key_of(s.signer) for s in envelope.signatures]
        signed = {s.signer for s in envelope.signatures}
        with self._lock:
            verified = self._by_tx.get(envelope.tx_id, set())
            cached = set(envelope.body.signers) == signed and all(
                key is not None and (key.raw, s.signature) in verified
                for key, s in zip(keys, envelope.signatures, strict=True)
            )
        if cached:
            return
        envelope.verify(key_of)
        for key, s in zip(keys, envelope.signatures, strict=True):
            if key is not None:
                self.add(key, s.signature, envelope.tx_id)


@dataclass(frozen=True)
class CommittedTx:
    """What waiters learn when a transaction commits."""

    tx_id: str
    height: int
    log_index: int
    valid: bool
    code: str
    reason: str

    def status(self) -> dict[str, JSONValue]:
        """Return the status document the API serves for this transaction."""
        return {
            "tx_id": self.tx_id, "status": "committed" if self.valid else "invalid",
            "valid": self.valid, "code": self.code, "reason": self.reason,
            "height": self.height, "log_index": self.log_index,
        }


class Chain:
    """Applies ordered batches to the store; keeps the head, and the state and log's hot part.

    The world state and the transaction log live in the store; in memory
    are at most `state_cache_keys` state keys (the working set) and the
    log's frontier, so memory and start-up do not grow with the chain.
    """

    def __init__(self, store: Store, genesis: Genesis, executor: Executor,
                 state_cache_keys: int = STATE_CACHE_KEYS) -> None:
        self.store = store
        self.genesis = genesis
        self.executor = executor
        self.lock = threading.RLock()
        self.state = BoundedState(store, state_cache_keys, cold=_finished_note,
                                  lock=threading.Lock())
        self.log = CompactLog(store, store.log_size(), lock=threading.Lock())
        self.state_digest = StateDigest()  # the running state digest at the head
        self.head: BlockHeader
        self.local_envelopes: dict[str, Envelope] = {}
        self.simulations: dict[str, Simulation] = {}
        self._nodes: dict[str, NodeInfo] | None = None
        self._load()

    @property
    def chain_id(self) -> str:
        """Return the consortium's chain id."""
        return self.genesis.chain_id

    def nodes(self) -> dict[str, NodeInfo]:
        """Return the registered network nodes by id (none for an embedded chain)."""
        with self.lock:
            if self._nodes is None:
                values = [self.state.get(k) for k in self.state.keys_with_prefix(NODE_PREFIX)]
                infos = [NodeInfo.from_json(v) for v in values]
                self._nodes = {n.id: n for n in infos}
            return self._nodes

    def _load(self) -> None:
        if self.store.head_height() is None:
            self._commit_genesis()
        self._check_genesis()
        height = self.store.head_height()
        assert height is not None
        raw = self.store.block_header(height)
        assert raw is not None
        self.head = BlockHeader.from_json(parse_json(raw))
        if self.log.size != self.head.log_size:
            raise LedgerError("stored transaction log does not match the head block's log size")
        self.state_digest = self._head_state_digest(height)

    def _head_state_digest(self, height: int) -> StateDigest:
        """Return the state digest at the head: as kept, or (once, if none) from the whole state."""
        kept = state_digests.head_accumulator(self.store.engine)
        if kept is not None and kept[0] == height:
            return StateDigest.from_accumulator(kept[1])
        digest = StateDigest.of((key, value) for key, value, _ in self.store.state_items())
        state_digests.backfill(self.store.engine, height, digest.digest(), digest.accumulator())
        return digest

    def _check_genesis(self) -> None:
        """Refuse a database whose block 0 is not this consortium's genesis."""
        raw = self.store.block_header(0)
        stored = None if raw is None else BlockHeader.from_json(parse_json(raw))
        expected = tx_root([self.genesis.transaction.canonical()])
        if stored is None or (stored.chain_id, stored.tx_root, stored.time) != (
            self.chain_id, expected, self.genesis.time
        ):
            raise LedgerError(
                "the database holds another chain than this genesis file describes "
                f"(stored chain {stored.chain_id if stored else None!r}, "
                f"genesis chain {self.chain_id!r})"
            )

    def _commit_genesis(self) -> None:
        """Commit block 0 as the genesis determines it (the rule clients derive it by too)."""
        block = genesis_block(self.genesis, self.executor)
        block.check_valid()
        self._write_block(Derived(block.header, (self.genesis.transaction,), [block.result],
                                  block.writes, frozenset()))

    # -- applying batches -----------------------------------------------------

    def apply_batch(self, batch: OrderedBatch) -> list[CommittedTx]:
        """Turn one ordered batch into the next block (ledger.derivation); return what committed.

        The exact batch bytes are kept with the block, so an auditor can
        check the batch signature and derive the block again from them.
        """
        chosen, derived = derive_block(
            batch.data, batch.position, head=self.head, nodes=self.nodes(), state=self.state,
            in_log=self.store.seen_tx_ids, used_nonces=self.store.used_nonces,
            executor=self.executor, loads=orjson.loads, parse=self._envelope,
            simulations=self.simulations)
        for envelope in derived.envelopes:  # used, or stale: either way done with
            self.simulations.pop(envelope.tx_id, None)
        if chosen.problem is not None:
            log.warning("batch at position %s rejected: %s", batch.position, chosen.problem)
        return self._write_block(derived, batch.data)

    def apply_certified(self, certified: BlockHeader, envelopes: list[Envelope] | None,
                        batch: bytes | None = None) -> list[CommittedTx]:
        """Re-execute a block a quorum certified (fetched from a peer) and commit it.

        The caller checked the certificate; here the block must extend this
        node's head, its transactions must be the ones the header commits
        to, and re-executing them must give exactly the certified header;
        otherwise LedgerError is raised and nothing is written.  With
        `batch` (the ordered batch the block was made from), the block is
        derived from the batch as if it had been ordered here: the batch
        must give its proposer and its time, and `envelopes` if given (None:
        the batch's are the block's), and it is kept with the block.

        The envelopes' Ed25519 signatures are first taken as verified
        (`vouched`), and checked one by one only if that does not give the
        certified header.  This is safe because the header a quorum signed
        commits to the envelopes' exact bytes, signatures included
        (`tx_root` over their canonical bytes), and to each transaction's
        validity, code and writes (`result_root`), which the quorum's nodes
        decided by verifying those signatures when they executed the block.
        A transaction whose signature they found bad is invalid there; run
        here as if it verified, it gives another result, so another header,
        and the block is executed again with every signature checked.  So
        what this node commits is exactly what it would have committed
        checking everything, under the trust finality already rests on (a
        quorum of organisations' nodes is honest: docs/SECURITY.md).
        Membership, suspension and every listed signer's presence are still
        checked against this node's own state.
        """
        if (certified.height, certified.prev_hash) != (self.head.height + 1, self.head.hash()):
            raise LedgerError(f"certified block {certified.height} does not extend this node's "
                              f"head at height {self.head.height}")
        if batch is not None and envelopes is None:  # read quickly, then as any batch if need be
            envelopes = self._check_certified_batch(certified, None, batch, _checked_envelope)
            if tx_root([e.canonical() for e in envelopes]) != certified.tx_root:
                envelopes = self._check_certified_batch(certified, None, batch, parse_or_none)
        elif batch is not None:
            envelopes = self._check_certified_batch(certified, envelopes, batch, parse_or_none)
        if envelopes is None:
            raise LedgerError(f"block {certified.height} came with neither transactions nor batch")
        if tx_root([e.canonical() for e in envelopes]) != certified.tx_root:
            raise LedgerError(f"the transactions sent for block {certified.height} are not the "
                              "ones its header commits to")
        derived = self._derive_certified(certified, envelopes, vouched=True)
        if derived.header.hash() != certified.hash():
            derived = self._derive_certified(certified, envelopes, vouched=False)
        if derived.header.hash() != certified.hash():
            raise LedgerError(f"re-executing certified block {certified.height} gave header "
                              f"{derived.header.hash()}, not the certified {certified.hash()}")
        return self._write_block(derived, batch)

    def _derive_certified(self, certified: BlockHeader, envelopes: list[Envelope],
                          vouched: bool) -> Derived:
        """Execute `envelopes` as the block `certified` names, after the head (writes nothing)."""
        return derive(envelopes, head=self.head, position=certified.position,
                      proposer=certified.proposer, time=certified.time, state=self.state,
                      used_nonces=self.store.used_nonces, executor=self.executor,
                      vouched=vouched)

    def _check_certified_batch(self, certified: BlockHeader, envelopes: list[Envelope] | None,
                               batch: bytes, parse: ParseEnvelope) -> list[Envelope]:
        """Return the block's transactions from `batch`; raise LedgerError unless it is its batch.

        The batch must give the block's proposer and time, and `envelopes`
        exactly if they are given.  `parse` reads each of its wires.
        """
        chosen = candidate(batch, head=self.head, nodes=self.nodes(),
                           in_log=self.store.seen_tx_ids, loads=orjson.loads, parse=parse)
        same = ((envelopes is None or [e.canonical() for e in chosen.envelopes]
                 == [e.canonical() for e in envelopes])
                and (chosen.proposer, chosen.time) == (certified.proposer, certified.time))
        if not same:
            raise LedgerError(f"the batch sent for block {certified.height} is not the batch "
                              "that block was made from")
        return list(chosen.envelopes)

    def _envelope(self, wire: Any) -> Envelope | None:
        body = wire.get("body") if isinstance(wire, dict) else None
        local = self.local_envelopes.pop(body, None) if isinstance(body, str) else None
        if local is not None and local.to_json() == wire:
            return local
        return parse_or_none(wire)

    def _write_block(self, derived: Derived, batch: bytes | None = None) -> list[CommittedTx]:
        """Commit a derived block and all it changes, then advance the in-memory head."""
        header, envelopes, overlay = derived.header, derived.envelopes, derived.writes
        base = self.log.size
        stored = [
            _stored_tx(i, base + i, envelope, result)
            for i, (envelope, result) in enumerate(zip(envelopes, derived.results, strict=True))
        ]
        log = self.log.extension([tx.leaf_hash for tx in stored])
        writes = overlay.raw_writes()
        hints = overlay.hints()
        new_nonces = sorted({
            (s, e.body.nonce) for e in envelopes for s in e.body.signers
        } - derived.used_nonces)
        header_bytes = header.canonical()
        digest = self.state_digest.after(writes, self.state.raw).normalized()
        self.store.commit_block(BlockWrite(
            height=header.height, hash=header.hash(), position=header.position,
            time=header.time, header=header_bytes, txs=stored, state=writes,
            new_nonces=new_nonces, notes=_note_rows(writes, header.height, hints), batch=batch,
            records=index_rows(writes, header.height, hints, _maturity_in(overlay)),
            records_removed=removed_ids(writes), subtrees=log.subtrees,
            state_digest=(digest.digest(), digest.accumulator()),
        ))
        with self.lock:
            if any(key.startswith(NODE_PREFIX) for key in writes):
                self._nodes = None
            self.state.apply(writes, header.height, hints)
            self.state_digest = digest
            self.log.adopt(log)
            self.head = header
        return [
            CommittedTx(tx.id, header.height, tx.log_index, tx.valid, tx.code, tx.reason)
            for tx in stored
        ]

    # -- simulation -----------------------------------------------------------

    def simulate(self, envelopes: Sequence[Envelope], time: str) -> list[Simulation]:
        """Run `envelopes` in order against the committed state, as the next block would.

        Each sees the effects of those before it.  Raises SimulationFailed
        with the index and the LedgerError the block would record; changes
        nothing.  Returns the simulations, to be offered for reuse at commit.
        """
        with self.lock:
            block = BlockContext(self.chain_id, self.head.height + 1, max(time, self.head.time))
            pending = Overlay(self.state)
            simulations = []
            for index, envelope in enumerate(envelopes):
                try:
                    simulations.append(
                        self.executor.simulate(envelope, block, pending, self.state))
                except LedgerError as exc:
                    raise SimulationFailed(index, exc) from exc
            return simulations

    def remember(self, envelopes: Sequence[Envelope], simulations: Sequence[Simulation]) -> None:
        """Keep accepted envelopes and their simulations for when their batch is ordered."""
        for envelope, simulation in zip(envelopes, simulations, strict=True):
            self.local_envelopes[envelope.body_bytes.decode("utf-8")] = envelope
            self.simulations[envelope.tx_id] = simulation


class SimulationFailed(Exception):
    """Raised when a simulated transaction would be invalid."""

    def __init__(self, index: int, cause: LedgerError) -> None:
        super().__init__(str(cause))
        self.index = index
        self.cause = cause


def _checked_envelope(wire: Any) -> Envelope | None:
    """Build a certified block's envelope from its batch without the canonical checks, or None.

    Only for a block whose `tx_root` is then required of the envelopes so
    built: the header a quorum certified commits to the exact canonical
    bytes of envelopes its nodes parsed with every check (`parse_envelope`),
    so envelopes that give that root are those, and anything odd in the
    batch gives another root (the batch is then read with every check).
    """
    try:
        if not isinstance(wire, dict) or wire.keys() != {"body", "signatures"}:
            return None
        return envelope_from_checked(wire, orjson.loads)
    except Exception:  # whatever it is, the batch is read with every check instead
        return None


def _finished_note(key: str, hint: Hint | None) -> bool:
    """Return whether a write is of a note done with (spent, settled, void): it leaves the cache."""
    return (hint is not None and key.startswith(NOTE_PREFIX) and isinstance(hint[1], Note)
            and hint[1].status in FINISHED_NOTES)


def _stored_tx(position: int, log_index: int, envelope: Envelope, result: TxResult) -> StoredTx:
    parties = parties_of(envelope, result)
    return StoredTx(
        id=envelope.tx_id, position=position, log_index=log_index,
        contract=envelope.body.contract, action=envelope.body.action, valid=result.valid,
        code=result.code, reason=result.reason, envelope=envelope.canonical(),
        leaf_hash=leaf_hash(envelope.canonical()),
        events=result.events_bytes, parties=parties,
    )


def _maturity_in(state: Overlay) -> Callable[[str], str | None]:
    """Return a lookup of a note's maturity in `state` (a financing's date in the records index)."""
    def maturity(note_id: str) -> str | None:
        note = state.get(f"{NOTE_PREFIX}{note_id}")
        value = note.get("maturity_date") if isinstance(note, dict) else None
        return value if isinstance(value, str) else None
    return maturity


NOTE_ROW_FIELDS = ("id", "root_id", "parent_id", "holder", "issuer", "amount", "currency",
                   "status", "maturity_date", "financed", "frozen")


def _note_rows(
    writes: dict[str, bytes | None], height: int, hints: dict[str, Hint]
) -> list[dict[str, Any]]:
    """Return the note-index rows for a block's note writes (from the saved records if known)."""
    rows = []
    for key, raw in writes.items():
        if not key.startswith(NOTE_PREFIX) or raw is None:
            continue
        hint = hints.get(key)
        if hint is not None and isinstance(hint[1], Note):
            row = {name: getattr(hint[1], name) for name in NOTE_ROW_FIELDS}
            row["status"] = hint[1].status.value
            rows.append({**row, "height": height})
        else:
            note = parse_trusted(raw)
            rows.append({
                "id": note["id"], "root_id": note["root_id"], "parent_id": note["parent_id"],
                "holder": note["holder"], "issuer": note["issuer"], "amount": note["amount"],
                "currency": note["currency"], "status": note["status"],
                "maturity_date": note["maturity_date"], "financed": note["financed"],
                "frozen": note["frozen"], "height": height,
            })
    return rows
