"""The node's chain: turns each ordered batch into the next block, durably.

For every batch from the orderer, in order: decode its transactions, drop
exact duplicates of transactions already in the log, execute the rest
deterministically (invalid ones are kept, marked with their reason), compute
the header (tx_root, result_root, log size) and commit the block and all its
effects in one database transaction.  Only then are the in-memory caches (the
world state and the Merkle log) advanced, under a lock that simulations share.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from contracts.records import KEY_PREFIX, Note
from ledger.attestation import NODE_PREFIX, NodeInfo
from ledger.batch import is_signed, open_batch
from ledger.block import BlockHeader, TxResult, result_root, tx_root
from ledger.canonical import JSONValue, parse_json, parse_trusted
from ledger.crypto import PublicKey
from ledger.errors import LedgerError
from ledger.execution import (
    BlockContext,
    Decoder,
    Executor,
    Hint,
    Overlay,
    ReplayGuard,
    Simulation,
)
from ledger.genesis import Genesis, genesis_header
from ledger.merkle import MerkleLog, leaf_hash
from ledger.timefmt import parse_timestamp
from ledger.tx import Envelope, parse_envelope
from node.ordering import OrderedBatch
from node.storage.store import BlockWrite, Store, StoredTx

log = logging.getLogger(__name__)
NOTE_PREFIX = KEY_PREFIX[Note]
SIGNATURE_CACHE_SIZE = 200_000


class StateCache:
    """The world state in memory (canonical bytes per key), loaded from the store."""

    def __init__(self, items: Iterable[tuple[str, bytes, int]] = ()) -> None:
        self._data: dict[str, bytes] = {}
        self._versions: dict[str, int] = {}
        self._decoded: dict[str, dict[Decoder, Any]] = {}
        for key, value, height in items:
            self._data[key] = value
            self._versions[key] = height

    def decoded(self, key: str, decoder: Decoder) -> Any:
        """Return `decoder(value)` for `key`, decoding each key version only once.

        Decoders build immutable records, so the cached object can be shared.
        """
        per_key = self._decoded.get(key)
        if per_key is not None and decoder in per_key:
            return per_key[decoder]
        raw = self._data.get(key)
        if raw is None:
            return None
        value = decoder(parse_trusted(raw))
        self._decoded.setdefault(key, {})[decoder] = value
        return value

    def version(self, key: str) -> int:
        """Return the height at which `key` last changed (0 if never written)."""
        return self._versions.get(key, 0)

    def get(self, key: str) -> JSONValue | None:
        """Return the value at `key`, or None."""
        raw = self._data.get(key)
        return None if raw is None else parse_trusted(raw)

    def apply(
        self, writes: dict[str, bytes | None], height: int, hints: dict[str, Hint] | None = None
    ) -> None:
        """Apply block `height`'s writes (None deletes), keeping known decoded records."""
        known = hints or {}
        for key, raw in writes.items():
            self._versions[key] = height
            self._decoded.pop(key, None)
            hint = known.get(key)
            if hint is not None and raw is not None:
                self._decoded[key] = {hint[0]: hint[1]}
            if raw is None:
                self._data.pop(key, None)
            else:
                self._data[key] = raw

    def keys_with_prefix(self, prefix: str) -> list[str]:
        """Return the keys starting with `prefix` (for small registries like members)."""
        return [k for k in self._data if k.startswith(prefix)]


class SignatureCache:
    """Remembers which (key, signature, transaction) triples verified.

    Signatures are verified once, in the verifier processes at submission or
    here on a miss; simulation and commit then find them in the cache.  The
    key is part of the entry, so a member re-keyed in between is checked
    again.
    """

    def __init__(self, size: int = SIGNATURE_CACHE_SIZE) -> None:
        self._seen: OrderedDict[tuple[bytes, bytes, str], None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def add(self, key: PublicKey, signature: bytes, tx_id: str) -> None:
        """Record that `signature` by `key` over transaction `tx_id` verified."""
        with self._lock:
            self._seen[(key.raw, signature, tx_id)] = None
            if len(self._seen) > self._size:
                self._seen.popitem(last=False)

    def __call__(self, envelope: Envelope, key_of: Callable[[str], PublicKey | None]) -> None:
        keys = [key_of(s.signer) for s in envelope.signatures]
        signed = {s.signer for s in envelope.signatures}
        with self._lock:
            cached = set(envelope.body.signers) == signed and all(
                key is not None and (key.raw, s.signature, envelope.tx_id) in self._seen
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
    """Applies ordered batches to the store and keeps the head, state and log in memory."""

    def __init__(self, store: Store, genesis: Genesis, executor: Executor) -> None:
        self.store = store
        self.genesis = genesis
        self.executor = executor
        self.lock = threading.RLock()
        self.state = StateCache()
        self.log = MerkleLog()
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
        self.state = StateCache(self.store.state_items())
        self.log = MerkleLog()
        self.log.extend(list(self.store.leaf_hashes()))
        if self.log.size != self.head.log_size:
            raise LedgerError("stored transaction log does not match the head block's log size")

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
        envelope = self.genesis.transaction
        block = BlockContext(self.chain_id, 0, self.genesis.time)
        results, overlay = self.executor.execute_block(
            [envelope], state=StateCache(), block=block, replay=ReplayGuard()
        )
        if not results[0].valid:
            raise LedgerError(f"the genesis transaction is invalid: {results[0].reason}")
        header = genesis_header(self.genesis, results[0])
        self._write_block(header, [envelope], results, overlay, set())

    # -- applying batches -----------------------------------------------------

    def apply_batch(self, batch: OrderedBatch) -> list[CommittedTx]:
        """Turn one ordered batch into the next block; return what committed."""
        proposer, batch_time, envelopes = self._decode(batch.data)
        envelopes = self._without_duplicates(envelopes)
        header, results, overlay, used = self._execute(
            envelopes, batch.position, proposer, max(batch_time, self.head.time))
        return self._write_block(header, envelopes, results, overlay, used)

    def apply_certified(self, certified: BlockHeader,
                        envelopes: list[Envelope]) -> list[CommittedTx]:
        """Re-execute a block a quorum certified (fetched from a peer) and commit it.

        The caller checked the certificate; here the block must extend this
        node's head, its transactions must be the ones the header commits
        to, and re-executing them must give exactly the certified header.
        """
        if (certified.height, certified.prev_hash) != (self.head.height + 1, self.head.hash()):
            raise LedgerError(f"certified block {certified.height} does not extend this node's "
                              f"head at height {self.head.height}")
        if tx_root([e.canonical() for e in envelopes]) != certified.tx_root:
            raise LedgerError(f"the transactions sent for block {certified.height} are not the "
                              "ones its header commits to")
        header, results, overlay, used = self._execute(
            envelopes, certified.position, certified.proposer, certified.time)
        if header.hash() != certified.hash():
            raise LedgerError(f"re-executing certified block {certified.height} gave header "
                              f"{header.hash()}, not the certified {certified.hash()}")
        return self._write_block(header, envelopes, results, overlay, used)

    def _execute(
        self, envelopes: list[Envelope], position: int, proposer: str, time: str,
    ) -> tuple[BlockHeader, list[TxResult], Overlay, set[tuple[str, str]]]:
        """Execute the next block's transactions; return its header and effects."""
        pairs = {(s, e.body.nonce) for e in envelopes for s in e.body.signers}
        used = self.store.used_nonces(pairs) if pairs else set()
        block = BlockContext(self.chain_id, self.head.height + 1, time)
        simulations = {e.tx_id: s for e in envelopes
                       if (s := self.simulations.pop(e.tx_id, None)) is not None}
        results, overlay = self.executor.execute_block(
            envelopes, state=self.state, block=block,
            replay=ReplayGuard(frozenset(), frozenset(used)), simulations=simulations,
        )
        header = BlockHeader(
            chain_id=self.chain_id, height=block.height, prev_hash=self.head.hash(),
            position=position, proposer=proposer, time=block.time,
            tx_count=len(envelopes), tx_root=tx_root([e.canonical() for e in envelopes]),
            result_root=result_root(results), log_size=self.log.size + len(envelopes),
        )
        return header, results, overlay, used

    def _decode(self, data: bytes) -> tuple[str, str, list[Envelope]]:
        """Decode a batch; transactions that do not parse are dropped (deterministically).

        A chain with registered nodes takes only batches signed by one of
        them; any other batch becomes an empty block, identically on every
        node.
        """
        try:
            signer, body = self._authentic_body(data)
            value = orjson.loads(body)
            proposer, batch_time, txs = value["proposer"], value["time"], value["txs"]
            parse_timestamp(batch_time)
            if signer is not None and (proposer, value["chain_id"]) != (signer, self.chain_id):
                raise LedgerError(f"the batch signed by {signer} names another proposer or chain")
        except (orjson.JSONDecodeError, KeyError, TypeError, LedgerError) as exc:
            log.warning("batch at position %s rejected: %s", self.head.position + 1, exc)
            return "unknown", self.head.time, []
        envelopes = []
        for wire in txs if isinstance(txs, list) else []:
            envelope = self._envelope(wire)
            if envelope is not None and envelope.body.chain_id == self.chain_id:
                envelopes.append(envelope)
        return str(proposer), batch_time, envelopes

    def _authentic_body(self, data: bytes) -> tuple[str | None, bytes]:
        """Return (signing node, body) if the batch is acceptable; raise LedgerError if not."""
        nodes = self.nodes()
        if not nodes:  # an embedded chain: one node, no ordering members to distrust
            return None, open_batch(data).body if is_signed(data) else data
        batch = open_batch(data)
        node = nodes.get(batch.node_id)
        if node is None:
            raise LedgerError(f"the batch is signed by {batch.node_id!r}, not a registered node")
        batch.verify(node.public_key)
        return batch.node_id, batch.body

    def _envelope(self, wire: Any) -> Envelope | None:
        body = wire.get("body") if isinstance(wire, dict) else None
        local = self.local_envelopes.pop(body, None) if isinstance(body, str) else None
        if local is not None and local.to_json() == wire:
            return local
        try:
            return parse_envelope(wire)
        except Exception:  # any unparseable transaction is dropped, identically everywhere
            return None

    def _without_duplicates(self, envelopes: list[Envelope]) -> list[Envelope]:
        """Drop transactions already in the log, and repeats within the batch."""
        committed = self.store.seen_tx_ids(e.tx_id for e in envelopes)
        kept: list[Envelope] = []
        for envelope in envelopes:
            if envelope.tx_id not in committed:
                committed.add(envelope.tx_id)
                kept.append(envelope)
        return kept

    def _write_block(
        self, header: BlockHeader, envelopes: list[Envelope], results: list[TxResult],
        overlay: Overlay, used_nonces: set[tuple[str, str]],
    ) -> list[CommittedTx]:
        base = self.log.size
        stored = [
            _stored_tx(i, base + i, envelope, result)
            for i, (envelope, result) in enumerate(zip(envelopes, results, strict=True))
        ]
        writes = overlay.raw_writes()
        hints = overlay.hints()
        new_nonces = sorted({
            (s, e.body.nonce) for e in envelopes for s in e.body.signers
        } - used_nonces)
        header_bytes = header.canonical()
        self.store.commit_block(BlockWrite(
            height=header.height, hash=header.hash(), position=header.position,
            time=header.time, header=header_bytes, txs=stored, state=writes,
            new_nonces=new_nonces, notes=_note_rows(writes, header.height, hints),
        ))
        with self.lock:
            if any(key.startswith(NODE_PREFIX) for key in writes):
                self._nodes = None
            self.state.apply(writes, header.height, hints)
            self.log.extend([tx.leaf_hash for tx in stored])
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


def _stored_tx(position: int, log_index: int, envelope: Envelope, result: TxResult) -> StoredTx:
    parties = set(envelope.body.signers)
    for event in result.events:
        if isinstance(event, dict):
            parties.update(p for p in event.get("parties", ()) if isinstance(p, str))
    return StoredTx(
        id=envelope.tx_id, position=position, log_index=log_index,
        contract=envelope.body.contract, action=envelope.body.action, valid=result.valid,
        code=result.code, reason=result.reason, envelope=envelope.canonical(),
        leaf_hash=leaf_hash(envelope.canonical()),
        events=result.events_bytes, parties=frozenset(parties),
    )


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
