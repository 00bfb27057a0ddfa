"""The committer: a thread that turns every ordered batch into the next block, in order.

It reads the ordering log from the head's position, has the chain derive and
commit each block (node/pipeline/chain.py), and tells the mempool, the
waiting requests and the attestor about it.  On a network it also advances
finality, catches up from peers' certified blocks when the log was compacted
past this node, and fetches certificates it missed.  It commits nothing more
once a quorum contradicted this node, or once the next block is pinned to
contract code other than this node's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

from contracts.code import pinned_code_hash
from ledger.attestation import Attestation
from ledger.errors import LedgerError
from ledger.execution import StateReader
from node.finality.attestor import Attestor, Finality
from node.finality.catch_up import Peers, catch_up_from_peers
from node.observability.metrics import NodeMetrics
from node.ordering import Orderer
from node.ordering.etcd import OrderingGap
from node.pipeline.admission import Waiters
from node.pipeline.chain import Chain, CommittedTx, SignatureCache
from node.pipeline.mempool import Mempool

log = logging.getLogger(__name__)
COMMIT_RETRY_S = 1.0
CERTIFICATE_STALL_S = 5.0  # unfinal this long, with peers ahead: fetch their certificates


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


class Committer:
    """The committing thread and what it keeps: divergence and code-pin stops."""

    def __init__(self, *, chain: Chain, orderer: Orderer, mempool: Mempool, waiters: Waiters,
                 code_hash: str, finality: Finality | None = None,
                 attestor: Attestor | None = None, peers: Peers | None = None,
                 metrics: NodeMetrics | None = None,
                 signatures: SignatureCache | None = None) -> None:
        self.chain = chain
        self.orderer = orderer
        self.mempool = mempool
        self.waiters = waiters
        self.code_hash = code_hash
        self.finality = finality
        self.attestor = attestor
        self.peers = peers
        self.metrics = metrics
        self.signatures = signatures
        self.code_mismatch: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._commit_loop, name="committer", daemon=True)
        self._last_final = (0, time.monotonic())  # final height, and when it last moved
        self._last_fill = 0.0

    @property
    def final_height(self) -> int:
        """Return the height up to which blocks are final (committed, on a single node)."""
        return self.chain.head.height if self.finality is None else self.finality.final_height

    def start(self) -> None:
        """Start committing."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the block under way."""
        self._stop.set()
        self._thread.join(timeout=10)

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
            started = time.perf_counter()
            committed = self.chain.apply_batch(batch)
            self._report_block(committed, time.perf_counter() - started)
            self._committed(committed)
        if self.finality is not None:
            self.finality.advance()
        return len(batches)

    def _report_block(self, committed: list[CommittedTx], seconds: float) -> None:
        """Log a block made from an ordered batch (one line a block) and time its commit."""
        invalid = sum(1 for c in committed if not c.valid)
        log.info("block %d committed: %d transaction(s), %d invalid, in %.0f ms",
                 self.chain.head.height, len(committed), invalid, seconds * 1000,
                 extra={"height": self.chain.head.height, "txs": len(committed),
                        "invalid": invalid, "commit_ms": round(seconds * 1000, 1)})
        if self.metrics is not None:
            self.metrics.commit_seconds.observe(seconds)

    def _committed(self, committed: list[CommittedTx]) -> None:
        """Tell the mempool, the signature cache, the waiters and the attestor about a new block."""
        if self.metrics is not None:
            invalid = Counter(c.code for c in committed if not c.valid)
            self.metrics.count_block(len(committed) - invalid.total(), invalid)
        self.mempool.committed(c.tx_id for c in committed)
        if self.signatures is not None:
            self.signatures.forget(c.tx_id for c in committed)
        self.waiters.resolve(committed)
        if self.attestor is not None:
            self.attestor.block_committed()

    def _catch_up_from_peers(self, gap: OrderingGap) -> int:
        """The log was compacted past this node: apply certified blocks from peers."""
        if gap.mark is None or self.peers is None or self.finality is None:
            raise gap
        log.warning("%s; catching up from peers", gap)
        finality, attestor = self.finality, self.attestor

        def applied(committed: list[CommittedTx], certificate: list[Attestation]) -> None:
            if attestor is not None:  # already final: not attested again
                attestor.skip_through(self.chain.head.height)
            self._committed(committed)
            finality.receive(certificate)

        return catch_up_from_peers(self.chain, self.peers, gap.mark.height, applied)

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

