"""Admission: a submission is checked completely, recorded, and queued for ordering, or refused.

Every envelope of a submission is parsed, its signatures verified (in the
signature pool's worker processes when there are any), checked for replay
and for its validity window, and simulated against the committed state as
the next block would run it; a batch is all-or-nothing.  What is accepted is
recorded in the node's database before the answer and handed to the
mempool, so an acknowledged transaction survives a crash (and is offered
again when the node starts); while the orderer is failing, or the backlog is
full, a submission is refused (`NotAccepting`) instead.  `Waiters` lets an
HTTP request wait for its transactions to commit.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from sqlalchemy.exc import SQLAlchemyError

from ledger.canonical import JSONValue
from ledger.crypto import Domain
from ledger.errors import (
    LedgerError,
    ReplayError,
    SchemaError,
    SignatureError,
    ValidityWindowError,
)
from ledger.execution import member_of
from ledger.tx import Envelope, parse_envelope
from node.clock import Clock, timestamp
from node.config import NodeConfig
from node.pipeline.chain import Chain, CommittedTx, SignatureCache, SimulationFailed
from node.pipeline.mempool import Mempool
from node.pipeline.signature_pool import VerifierPool
from node.storage.store import Store

log = logging.getLogger(__name__)
RETRY_AFTER_S = 5  # what a refused submitter is told to wait before trying again


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


class BadSubmission(LedgerError):
    """Raised when a submission's body is not one envelope or {"transactions": [...]}."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


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


class Admission:
    """Checks, records and queues submissions; refuses what it cannot take."""

    def __init__(self, *, chain: Chain, store: Store, mempool: Mempool, clock: Clock,
                 config: NodeConfig, signatures: SignatureCache,
                 final_height: Callable[[], int]) -> None:
        self.chain = chain
        self._final_height = final_height
        self.store = store
        self.mempool = mempool
        self.clock = clock
        self.config = config
        self.signatures = signatures
        self.verifier: VerifierPool | None = None  # set when the node starts its workers
        self.waiters = Waiters()
        self._submit_lock = threading.Lock()

    def items(self, raw: bytes) -> list[Any]:
        """Return the wire envelopes of a submission body; raise BadSubmission if malformed."""
        limit = self.config.max_batch_txs
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise BadSubmission("bad_encoding", f"request body is not valid JSON: {exc}") from exc
        if isinstance(value, dict) and set(value) == {"transactions"}:
            items = value["transactions"]
            if not isinstance(items, list) or not items:
                raise BadSubmission("bad_schema", "'transactions' must be a non-empty list")
            if len(items) > limit:
                raise BadSubmission("payload_too_large",
                                    f"at most {limit} transactions per request")
            return items
        if isinstance(value, dict):
            return [value]
        raise BadSubmission("bad_schema", "send one envelope object or "
                                          "{\"transactions\": [...]}")

    async def accept(self, raw: bytes, *, wait: bool, timeout: float) -> dict[str, Any]:
        """Check and accept a submission body; with `wait`, also each one's status.

        Returns {"accepted": ids} or, with `wait`, {"accepted", "results"}
        (a transaction not committed within `timeout` is `pending`).  Raises
        BadSubmission, SubmissionRejected or NotAccepting; nothing is then
        accepted.
        """
        envelopes = self.parse_submission(self.items(raw))
        await self.verify_signatures(envelopes)
        futures = [(e.tx_id, self.waiters.register(e.tx_id)) for e in envelopes] if wait else []
        try:
            # in a worker thread: recording the submission waits for the disk (and for a
            # block being written), and the event loop serves other requests meanwhile
            ids = await asyncio.to_thread(self.submit, envelopes)
        except Exception:
            for tx_id, future in futures:
                self.waiters.discard(tx_id, future)
            raise
        if not wait:
            return {"accepted": ids}
        return {"accepted": ids, "results": await self._wait_all(futures, timeout)}

    async def _wait_all(self, futures: list[tuple[str, asyncio.Future[Any]]],
                        timeout: float) -> list[JSONValue]:
        done, _ = await asyncio.wait([f for _, f in futures], timeout=timeout)
        results: list[JSONValue] = []
        for tx_id, future in futures:
            if future in done:
                results.append(self.committed_status(future.result()))
            else:
                self.waiters.discard(tx_id, future)
                results.append({"tx_id": tx_id, "status": "pending"})
        return results

    def committed_status(self, committed: CommittedTx) -> dict[str, JSONValue]:
        """Return a committed transaction's status, saying whether its block is final."""
        return {**committed.status(), "final": committed.height <= self._final_height()}

    def offer_pending_again(self) -> None:
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
