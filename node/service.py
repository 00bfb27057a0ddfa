"""The node service: wires storage, ordering, the chain and the mempool together.

The HTTP layer calls only this object.  Submissions are checked completely
(shape, signatures, replay, window, contract simulation) before anything is
accepted; a batch is all-or-nothing.  A committer thread turns ordered batches
into blocks and wakes whoever waits for those transactions.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from contracts import CONTRACTS
from ledger.canonical import JSONValue, parse_json
from ledger.crypto import Domain, PrivateKey
from ledger.errors import (
    LedgerError,
    ReplayError,
    SchemaError,
    SignatureError,
    ValidityWindowError,
)
from ledger.execution import Executor, member_of
from ledger.genesis import Genesis
from ledger.membership import Member
from ledger.tx import Envelope, parse_envelope
from node import tls
from node.attest import Attestor, Finality
from node.chain import Chain, CommittedTx, SignatureCache, SimulationFailed
from node.clock import Clock, SystemClock, timestamp
from node.config import NodeConfig
from node.mempool import Mempool
from node.ordering import EmbeddedOrderer, Orderer
from node.ordering_etcd import EtcdOrderer
from node.storage.store import Store
from node.verify import VerifierPool

log = logging.getLogger(__name__)
COMMIT_RETRY_S = 1.0


class SubmissionRejected(LedgerError):
    """Raised when one transaction of a submission fails its checks; nothing is accepted."""

    def __init__(self, index: int, tx_id: str | None, cause: LedgerError) -> None:
        super().__init__(f"transaction {index}: {cause}")
        self.index = index
        self.tx_id = tx_id
        self.cause = cause
        self.code = cause.code


def load_genesis(path: Path) -> Genesis:
    """Read and parse a genesis file."""
    return Genesis.from_json(parse_json(path.read_bytes()))


class Waiters:
    """Asyncio futures of HTTP requests waiting for transactions to commit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]]]
        self._futures = defaultdict(list)

    def register(self, tx_id: str) -> asyncio.Future[CommittedTx]:
        """Return a future resolved when `tx_id` commits (call from the event loop)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[CommittedTx] = loop.create_future()
        with self._lock:
            self._futures[tx_id].append((loop, future))
        return future

    def discard(self, tx_id: str, future: asyncio.Future[Any]) -> None:
        """Stop waiting (timeout or client gone)."""
        with self._lock:
            entries = [e for e in self._futures.get(tx_id, []) if e[1] is not future]
            if entries:
                self._futures[tx_id] = entries
            else:
                self._futures.pop(tx_id, None)

    def resolve(self, committed: Sequence[CommittedTx]) -> None:
        """Wake every waiter of the committed transactions."""
        with self._lock:
            woken = [(c, self._futures.pop(c.tx_id, [])) for c in committed]
        for result, entries in woken:
            for loop, future in entries:
                loop.call_soon_threadsafe(_set_once, future, result)


def _set_once(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def read_node_key(path: Path) -> PrivateKey:
    """Read a node's attestation key: a file holding the 32-byte seed in hex."""
    text = path.read_text(encoding="ascii").strip()
    try:
        return PrivateKey(bytes.fromhex(text))
    except (ValueError, LedgerError) as exc:
        raise LedgerError(f"{path} does not hold a 32-byte hex node key") from exc


def _own_orderer(config: NodeConfig, chain_id: str) -> Orderer:
    """The etcd cluster when endpoints are configured, else the embedded log."""
    if config.etcd_endpoints:
        endpoints = [e.strip() for e in config.etcd_endpoints.split(",") if e.strip()]
        return EtcdOrderer(endpoints, chain_id, ssl_context=tls.client_context(config))
    return EmbeddedOrderer(config.orderer_path)


class NodeService:
    """One node: store, chain, mempool, committer."""

    def __init__(
        self, config: NodeConfig, *, clock: Clock | None = None, orderer: Orderer | None = None
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.genesis = load_genesis(config.genesis_path)
        self.store = Store(config.database_url)
        self.signatures = SignatureCache()
        self.chain = Chain(self.store, self.genesis, Executor(CONTRACTS, self.signatures))
        self.verifier: VerifierPool | None = None
        self.orderer = orderer or _own_orderer(config, self.chain.chain_id)
        self._owns_orderer = orderer is None
        self.mempool = Mempool(
            self.orderer, self.clock, chain_id=self.chain.chain_id, proposer=config.node_id,
            max_txs=config.batch_max_txs, max_wait_ms=config.batch_max_wait_ms,
        )
        self.waiters = Waiters()
        self.finality: Finality | None = None
        self.attestor: Attestor | None = None
        self._setup_attestation()
        self._submit_lock = threading.Lock()
        self._stop = threading.Event()
        self._committer = threading.Thread(target=self._commit_loop, name="committer", daemon=True)

    def _setup_attestation(self) -> None:
        """On a network node, follow attestations; with a node key, also attest."""
        if not isinstance(self.orderer, EtcdOrderer):
            return
        etcd = self.orderer.etcd
        self.finality = Finality(self.chain, self.store)
        if self.config.node_key_path is not None:
            key = read_node_key(self.config.node_key_path)
            self.attestor = Attestor(self.chain, self.store, self.finality, etcd,
                                     self.config.node_id, key)

    @property
    def final_height(self) -> int:
        """Return the height up to which blocks are final (committed, on a single node)."""
        return self.chain.head.height if self.finality is None else self.finality.final_height

    # -- life cycle -----------------------------------------------------------

    def start(self) -> None:
        """Start the verifier processes, batching and committing."""
        if self.config.verifier_processes != 0:
            workers = self.config.verifier_processes
            self.verifier = VerifierPool(workers if workers > 0 else None)
        if self.attestor is not None:
            self.attestor.start()
        self.mempool.start()
        self._committer.start()

    def stop(self) -> None:
        """Stop threads and release the database."""
        self.mempool.stop()
        if self.attestor is not None:
            self.attestor.stop()
        self._stop.set()
        self._committer.join(timeout=10)
        if self._owns_orderer:
            self.orderer.close()
        if self.verifier is not None:
            self.verifier.close()
        self.store.close()

    def _commit_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.catch_up(wait_s=0.2)
            except Exception:
                log.exception("committing a block failed; retrying")
                self._stop.wait(COMMIT_RETRY_S)

    def catch_up(self, wait_s: float = 0.0) -> int:
        """Apply every ordered batch not yet committed; return how many blocks were made."""
        if self._diverged():
            self._stop.wait(wait_s)
            return 0
        batches = self.orderer.read(self.chain.head.position, limit=16, wait_s=wait_s)
        for batch in batches:
            if self._diverged():
                return 0
            committed = self.chain.apply_batch(batch)
            self.mempool.committed(c.tx_id for c in committed)
            self.waiters.resolve(committed)
            if self.attestor is not None:
                self.attestor.block_committed()
        if self.finality is not None:
            self.finality.advance()
        return len(batches)

    def _diverged(self) -> bool:
        """Whether a quorum contradicted this node: it then commits nothing more."""
        return self.finality is not None and self.finality.divergence is not None

    # -- submission -----------------------------------------------------------

    def parse_submission(self, items: Sequence[JSONValue]) -> list[Envelope]:
        """Parse wire envelopes; raise SubmissionRejected for the first malformed one."""
        envelopes = []
        for index, item in enumerate(items):
            try:
                envelopes.append(parse_envelope(item))
            except LedgerError as exc:
                raise SubmissionRejected(index, None, exc) from exc
        return envelopes

    async def verify_signatures(self, envelopes: Sequence[Envelope]) -> None:
        """Verify every signature of a submission in the verifier processes.

        Signatures that verify go into the signature cache; the first that
        does not rejects the submission.  Signers that are not active members
        are left for the full check in `submit`, which names the problem.
        """
        if self.verifier is None:
            return
        items, refs = [], []
        with self.chain.lock:
            for index, envelope in enumerate(envelopes):
                for sig in envelope.signatures:
                    member = member_of(self.chain.state, sig.signer)
                    if member is None or not member.is_active:
                        continue
                    message = Domain.TRANSACTION.value + envelope.body_bytes
                    items.append((member.public_key.raw, message, sig.signature))
                    refs.append((index, envelope, sig, member.public_key))
        flags = await self.verifier.verify(items)
        for ok, (index, envelope, sig, key) in zip(flags, refs, strict=True):
            if not ok:
                cause = SignatureError(f"signature of {sig.signer} does not verify")
                raise SubmissionRejected(index, envelope.tx_id, cause)
            self.signatures.add(key, sig.signature, envelope.tx_id)

    def submit(self, envelopes: Sequence[Envelope]) -> list[str]:
        """Check every envelope and accept all of them, or none (SubmissionRejected)."""
        now = timestamp(self.clock)
        with self._submit_lock:
            self._check_replays(envelopes)
            for index, envelope in enumerate(envelopes):
                try:
                    self._check(envelope, now)
                except LedgerError as exc:
                    raise SubmissionRejected(index, envelope.tx_id, exc) from exc
            try:
                simulations = self.chain.simulate(envelopes, now)
            except SimulationFailed as exc:
                tx_id = envelopes[exc.index].tx_id
                raise SubmissionRejected(exc.index, tx_id, exc.cause) from exc
            self.chain.remember(envelopes, simulations)
            self.mempool.add(envelopes)
        return [e.tx_id for e in envelopes]

    def _check(self, envelope: Envelope, now: str) -> None:
        if envelope.body.chain_id != self.chain.chain_id:
            raise SchemaError(f"transaction is for chain {envelope.body.chain_id!r}, "
                              f"this node serves {self.chain.chain_id!r}")
        if envelope.body.not_after < now:
            raise ValidityWindowError(f"the transaction expired at {envelope.body.not_after}")
        if envelope.body.not_before > now:
            raise ValidityWindowError(
                f"the transaction is not valid before {envelope.body.not_before}"
            )

    def _check_replays(self, envelopes: Sequence[Envelope]) -> None:
        ids = [e.tx_id for e in envelopes]
        committed = self.store.seen_tx_ids(ids)
        pairs = {(s, e.body.nonce) for e in envelopes for s in e.body.signers}
        used = self.store.used_nonces(pairs) | (pairs & self.mempool.pending_nonces)
        seen: set[str] = set()
        batch_pairs: set[tuple[str, str]] = set()
        for index, envelope in enumerate(envelopes):
            tx_id = envelope.tx_id
            cause = _replay_cause(envelope, committed, self.mempool.pending, seen, used,
                                  batch_pairs)
            if cause is not None:
                raise SubmissionRejected(index, tx_id, ReplayError(cause))
            seen.add(tx_id)
            batch_pairs.update((s, envelope.body.nonce) for s in envelope.body.signers)

    # -- queries used by the API ----------------------------------------------

    def member(self, uscc: str) -> Member | None:
        """Return the member record in the current state, or None."""
        with self.chain.lock:
            return member_of(self.chain.state, uscc)

    def tx_status(self, tx_id: str) -> dict[str, JSONValue] | None:
        """Return a transaction's status, or None if this node has never seen it."""
        row = self.store.tx(tx_id)
        if row is not None:
            return CommittedTx(tx_id, row.height, row.log_index, row.valid, row.code,
                               row.reason).status()
        if tx_id in self.mempool.pending:
            return {"tx_id": tx_id, "status": "pending"}
        return None


def _replay_cause(
    envelope: Envelope, committed: set[str], pending: dict[str, Envelope], seen: set[str],
    used: set[tuple[str, str]], batch_pairs: set[tuple[str, str]],
) -> str | None:
    tx_id = envelope.tx_id
    if tx_id in committed:
        return f"transaction {tx_id} is already committed"
    if tx_id in pending:
        return f"transaction {tx_id} is already pending"
    if tx_id in seen:
        return f"transaction {tx_id} appears twice in this submission"
    reused = sorted(s for s in envelope.body.signers
                    if (s, envelope.body.nonce) in used or (s, envelope.body.nonce) in batch_pairs)
    if reused:
        return f"nonce {envelope.body.nonce} was already used by {', '.join(reused)}"
    return None
