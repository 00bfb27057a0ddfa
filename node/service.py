"""The node service: wires storage, ordering, the chain and the mempool together.

The HTTP layer calls only this object.  Submissions are checked completely
(shape, signatures, replay, window, contract simulation) before anything is
accepted; a batch is all-or-nothing.  What is accepted is recorded in the
node's database before the answer, and offered to the orderer again when the
node starts, so an acknowledged transaction survives a crash.  While the
orderer is failing, or the backlog is full, submissions are refused
(`NotAccepting`) instead.  A committer thread turns ordered batches into
blocks and wakes whoever waits for those transactions.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.exc import SQLAlchemyError

from contracts import CONTRACTS
from contracts.code import code_hash, pinned_code_hash
from ledger.canonical import JSONValue, parse_json
from ledger.crypto import Domain, PrivateKey
from ledger.errors import (
    LedgerError,
    ReplayError,
    SchemaError,
    SignatureError,
    ValidityWindowError,
)
from ledger.execution import Executor, StateReader, member_of
from ledger.genesis import Genesis
from ledger.membership import Member
from ledger.tx import Envelope, parse_envelope
from node import tls
from node.attest import Attestor, Finality
from node.chain import Chain, CommittedTx, SignatureCache, SimulationFailed
from node.checkpoints import Checkpoints
from node.clock import Clock, SystemClock, timestamp
from node.compaction import Compactor
from node.config import NodeConfig
from node.mempool import Mempool
from node.ordering import EmbeddedOrderer, Orderer
from node.ordering_etcd import EtcdOrderer, OrderingGap
from node.peers import Peers, catch_up_from_peers
from node.storage.store import Store
from node.verify import VerifierPool

log = logging.getLogger(__name__)
COMMIT_RETRY_S = 1.0
RETRY_AFTER_S = 5  # what a refused submitter is told to wait before trying again
CERTIFICATE_STALL_S = 5.0  # unfinal this long, with peers ahead: fetch their certificates


class SubmissionRejected(LedgerError):
    """Raised when one transaction of a submission fails its checks; nothing is accepted."""

    def __init__(self, index: int, tx_id: str | None, cause: LedgerError) -> None:
        super().__init__(f"transaction {index}: {cause}")
        self.index = index
        self.tx_id = tx_id
        self.cause = cause
        self.code = cause.code


class NotAccepting(LedgerError):
    """Raised when the node cannot take a submission now; nothing of it was accepted.

    `code` says why: `ordering_unavailable` (the orderer is failing),
    `pending_backlog_full` (too many transactions wait already) or
    `storage_unavailable` (the database could not record the submission).
    The caller may submit the same transactions again later.
    """

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{reason}; nothing was accepted; retry later")
        self.code = code
        self.retry_after_s = RETRY_AFTER_S


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


def contract_code_problem(state: StateReader, height: int, local_hash: str) -> str | None:
    """Return why this node must not execute block `height` with its code, or None.

    None when the chain pins nothing (a genesis without a code hash) or pins
    exactly `local_hash` for that height.
    """
    pinned = pinned_code_hash(state, height)
    if pinned is None or pinned == local_hash:
        return None
    return (f"this node's contract code (sha256 {local_hash}) does not match the code "
            f"pinned on chain for height {height} (sha256 {pinned}); "
            "install the pinned contract version")


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
        self.code_hash = code_hash()
        self.code_mismatch: str | None = None
        problem = contract_code_problem(self.chain.state, self.chain.head.height + 1,
                                        self.code_hash)
        if problem is not None:
            self.store.close()
            raise LedgerError(problem)
        self.verifier: VerifierPool | None = None
        self.node_key = self._own_node_key()
        self.checkpoints = Checkpoints(self.chain, node_id=config.node_id, node_key=self.node_key)
        self.orderer = orderer or _own_orderer(config, self.chain.chain_id)
        self._owns_orderer = orderer is None
        self.mempool = Mempool(
            self.orderer, self.clock, chain_id=self.chain.chain_id, proposer=config.node_id,
            max_txs=config.batch_max_txs, max_wait_ms=config.batch_max_wait_ms,
            node_key=self.node_key,
        )
        self.waiters = Waiters()
        self.finality: Finality | None = None
        self.attestor: Attestor | None = None
        self.compactor: Compactor | None = None
        self.peers: Peers | None = None
        self._setup_attestation()
        self._submit_lock = threading.Lock()
        self._stop = threading.Event()
        self._committer = threading.Thread(target=self._commit_loop, name="committer", daemon=True)
        self._last_final = (0, time.monotonic())  # final height, and when it last moved
        self._last_fill = 0.0

    def _own_node_key(self) -> PrivateKey | None:
        """Read this node's key; on a chain with registered nodes it must match its entry.

        Every node rejects batches not signed by a registered node, so a node
        that could not sign its batches would accept transactions only to
        lose them: it refuses to start instead.
        """
        path = self.config.node_key_path
        key = None if path is None else read_node_key(path)
        nodes = self.chain.nodes()
        if not nodes:
            return key
        node = nodes.get(self.config.node_id)
        if node is None:
            raise LedgerError(f"node id {self.config.node_id!r} is not registered on this chain "
                              f"(registered: {', '.join(sorted(nodes))})")
        if key is None or key.public_key != node.public_key:
            raise LedgerError(f"this node needs the key registered for {node.id} "
                              f"(--node-key): its batches would be rejected otherwise")
        return key

    def _setup_attestation(self) -> None:
        """On a network node, follow attestations; with a node key, also attest."""
        if not isinstance(self.orderer, EtcdOrderer):
            return
        etcd = self.orderer.etcd
        self.finality = Finality(self.chain, self.store)
        if self.node_key is not None:
            self.attestor = Attestor(self.chain, self.store, self.finality, etcd,
                                     self.config.node_id, self.node_key)
            self.compactor = Compactor(self.chain, self.store, self.finality, etcd,
                                       interval_s=self.config.compact_interval_s,
                                       retain_blocks=self.config.compact_retain_blocks)
            urls = [u.strip() for u in self.config.peers.split(",") if u.strip()]
            context = tls.client_context(self.config)
            self.peers = Peers(urls, node_id=self.config.node_id, key=self.node_key,
                               clock=self.clock, verify=True if context is None else context)

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
        if self.compactor is not None:
            self.compactor.start()
        self._offer_pending_again()
        self.mempool.start()
        self._committer.start()

    def _offer_pending_again(self) -> None:
        """Queue for ordering what this node accepted before it stopped and is not committed.

        They were fully checked when accepted, so they go straight to the
        mempool.  One that was ordered but not yet committed is ordered
        twice, and its second copy dropped as a duplicate when the block is
        derived; one that expired meanwhile is recorded invalid in its block.
        """
        recorded = self.store.pending_envelopes()
        committed = self.store.seen_tx_ids(recorded)
        self.store.delete_pending(committed)
        envelopes = []
        for tx_id, data in recorded.items():
            if tx_id in committed:
                continue
            try:
                envelopes.append(parse_envelope(orjson.loads(data)))
            except (LedgerError, orjson.JSONDecodeError) as exc:  # kept, for an operator to see
                log.error("recorded pending transaction %s does not parse: %s", tx_id, exc)
        if envelopes:
            log.warning("offering %d accepted, uncommitted transactions to the orderer again",
                        len(envelopes))
            self.mempool.add(envelopes)

    def stop(self) -> None:
        """Stop threads and release the database."""
        self.mempool.stop()
        if self.attestor is not None:
            self.attestor.stop()
        if self.compactor is not None:
            self.compactor.stop()
        self._stop.set()
        self._committer.join(timeout=10)
        if self._owns_orderer:
            self.orderer.close()
        if self.verifier is not None:
            self.verifier.close()
        if self.peers is not None:
            self.peers.close()
        self.store.close()

    def _commit_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.catch_up(wait_s=0.2)
                self._fill_certificates()
            except Exception:
                log.exception("committing a block failed; retrying")
                self._stop.wait(COMMIT_RETRY_S)

    def _fill_certificates(self) -> None:
        """Ask peers for the certificates of blocks that stay unfinal here for too long.

        A node whose attestation watch was reconnecting while the log was
        compacted misses attestations that are then deleted from etcd; its
        peers keep every certificate, so it fetches them there (checked
        like any attestation, and only for headers equal to its own).
        """
        finality, peers = self.finality, self.peers
        if finality is None or peers is None or not peers.urls:
            return
        now = time.monotonic()
        if finality.final_height != self._last_final[0]:
            self._last_final = (finality.final_height, now)
            return
        stalled = self.chain.head.height > finality.final_height
        if not stalled or now - max(self._last_final[1], self._last_fill) < CERTIFICATE_STALL_S:
            return
        self._last_fill = now
        try:
            blocks = peers.fetch(self.chain.chain_id, finality.final_height + 1)
        except LedgerError as exc:
            log.warning("fetching certificates from peers failed: %s", exc)
            return
        for block in blocks:
            if block.header.height <= self.chain.head.height:
                finality.receive(block.attestations)
        log.info("took certificates of %d block(s) from a peer", len(blocks))

    def catch_up(self, wait_s: float = 0.0) -> int:
        """Apply every ordered batch not yet committed; return how many blocks were made."""
        if self._diverged() or self._wrong_code():
            self._stop.wait(wait_s)
            return 0
        try:
            batches = self.orderer.read(self.chain.head.position, limit=16, wait_s=wait_s)
        except OrderingGap as gap:
            return self._catch_up_from_peers(gap)
        for batch in batches:
            if self._diverged() or self._wrong_code():
                return 0
            self._committed(self.chain.apply_batch(batch))
        if self.finality is not None:
            self.finality.advance()
        return len(batches)

    def _committed(self, committed: list[CommittedTx]) -> None:
        """Tell the mempool, the waiting requests and the attestor about a new block."""
        self.mempool.committed(c.tx_id for c in committed)
        self.waiters.resolve(committed)
        if self.attestor is not None:
            self.attestor.block_committed()

    def _catch_up_from_peers(self, gap: OrderingGap) -> int:
        """The log was compacted past this node: apply certified blocks from peers."""
        if gap.mark is None or self.peers is None or self.finality is None:
            raise gap
        log.warning("%s; catching up from peers", gap)
        applied = catch_up_from_peers(self.chain, self.peers, gap.mark.height)
        for committed, certificate in applied:
            self._committed(committed)
            self.finality.receive(certificate)
        if self.attestor is not None:
            self.attestor.skip_through(gap.mark.height)
        return len(applied)

    def _diverged(self) -> bool:
        """Whether a quorum contradicted this node: it then commits nothing more."""
        return self.finality is not None and self.finality.divergence is not None

    def _wrong_code(self) -> bool:
        """Whether the next block is pinned to other contract code: then commit nothing more.

        Governance may pin a new code version from a future height; a node
        still running the old code stops before that block (and says so at
        CRITICAL level) rather than compute it differently from the others.
        """
        if self.code_mismatch is None:
            problem = contract_code_problem(self.chain.state, self.chain.head.height + 1,
                                            self.code_hash)
            if problem is not None:
                log.critical("the node stops committing: %s", problem)
                self.code_mismatch = problem
        return self.code_mismatch is not None

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

    def ensure_accepting(self, count: int) -> None:
        """Raise NotAccepting unless the node can take `count` more transactions now.

        It cannot while its orderer is failing (the last append failed and
        none succeeded since) or while `max_pending_txs` are waiting.
        """
        problem = self.mempool.ordering_problem
        if problem is not None:
            raise NotAccepting("ordering_unavailable",
                               f"this node cannot order transactions now ({problem})")
        waiting = len(self.mempool.pending)
        if waiting + count > self.config.max_pending_txs:
            raise NotAccepting("pending_backlog_full",
                               f"this node already holds {waiting} transactions waiting to be "
                               f"ordered and takes at most {self.config.max_pending_txs}")

    def submit(self, envelopes: Sequence[Envelope]) -> list[str]:
        """Check every envelope and accept all of them, or none.

        Accepted envelopes are recorded in the database before this returns.
        Raises SubmissionRejected (a transaction fails a check) or
        NotAccepting (the node cannot take them now); either way nothing is
        accepted.
        """
        now = timestamp(self.clock)
        with self._submit_lock:
            self._check_replays(envelopes)  # first: a resubmission learns it is already known
            self.ensure_accepting(len(envelopes))
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
            self._record(envelopes)
            self.chain.remember(envelopes, simulations)
            self.mempool.add(envelopes)
        return [e.tx_id for e in envelopes]

    def _record(self, envelopes: Sequence[Envelope]) -> None:
        """Record accepted envelopes durably; raise NotAccepting if the database cannot."""
        try:
            self.store.add_pending([(e.tx_id, e.canonical()) for e in envelopes])
        except SQLAlchemyError as exc:
            log.exception("recording %d accepted transactions failed", len(envelopes))
            try:  # a commit whose answer was lost may have gone through: take it back
                self.store.delete_pending(e.tx_id for e in envelopes)
            except SQLAlchemyError:
                log.exception("taking back the recorded transactions failed too")
            raise NotAccepting("storage_unavailable", "this node could not record the "
                               f"submission in its database ({type(exc).__name__})") from exc

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

    def committed_status(self, committed: CommittedTx) -> dict[str, JSONValue]:
        """Return a committed transaction's status, saying whether its block is final."""
        return {**committed.status(), "final": committed.height <= self.final_height}

    def tx_status(self, tx_id: str) -> dict[str, JSONValue] | None:
        """Return a transaction's status, or None if this node has never seen it."""
        row = self.store.tx(tx_id)
        if row is not None:
            return self.committed_status(CommittedTx(tx_id, row.height, row.log_index,
                                                     row.valid, row.code, row.reason))
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
