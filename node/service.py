"""The node service: the composition root that builds a node's parts and runs them.

It opens the store, checks the contract code against the chain's pin and
the node key against the registered nodes, and wires the pipeline: admission
(node/pipeline/admission.py) feeds the mempool and the orderer, the
committer (node/pipeline/committer.py) turns ordered batches into blocks,
and queries, holdings, listings, the inbox and exports (node/pipeline/)
answer reads; on a network it adds finality (node/finality/): attestations,
compaction and catch-up from peers.  The HTTP layer calls the public command and query
methods of those parts (and `advance_clock` here); it reaches into no
store or chain.
"""

from __future__ import annotations

import logging
from pathlib import Path

from contracts import CONTRACTS
from contracts.code import code_hash
from ledger.canonical import JSONValue, parse_json
from ledger.crypto import PrivateKey
from ledger.errors import LedgerError
from ledger.execution import Executor
from ledger.genesis import Genesis
from ledger.membership import Member
from node.clock import Clock, ClockLimit, ManualClock, SystemClock, timestamp
from node.config import NodeConfig
from node.finality.attestor import Attestor, Finality
from node.finality.catch_up import Peers
from node.finality.checkpoints import Checkpoints
from node.finality.state_notes import StateNotes
from node.observability.metrics import MetricsListener, NodeMetrics, NodeState, StateCollector
from node.ordering import Orderer
from node.ordering.compaction import Compactor
from node.ordering.embedded import EmbeddedOrderer
from node.ordering.etcd import EtcdOrderer
from node.pipeline.admission import Admission
from node.pipeline.chain import Chain, SignatureCache
from node.pipeline.committer import Committer, contract_code_problem
from node.pipeline.exports import Exports
from node.pipeline.holdings import Holdings, Refused
from node.pipeline.inbox import Inbox
from node.pipeline.listings import Listings
from node.pipeline.mempool import Mempool
from node.pipeline.queries import Queries
from node.pipeline.signature_pool import VerifierPool
from node.storage.store import Store
from node.transport import tls

log = logging.getLogger(__name__)


def load_genesis(path: Path) -> Genesis:
    """Read and parse a genesis file."""
    return Genesis.from_json(parse_json(path.read_bytes()))


def read_node_key(path: Path) -> PrivateKey:
    """Read a node's attestation key: a file holding the 32-byte seed in hex."""
    text = path.read_text(encoding="ascii").strip()
    try:
        return PrivateKey(bytes.fromhex(text))
    except (ValueError, LedgerError) as exc:
        raise LedgerError(f"{path} does not hold a 32-byte hex node key") from exc


def _own_orderer(config: NodeConfig, chain_id: str, metrics: NodeMetrics) -> Orderer:
    """The etcd cluster when endpoints are configured, else the embedded log."""
    if config.etcd_endpoints:
        endpoints = [e.strip() for e in config.etcd_endpoints.split(",") if e.strip()]
        return EtcdOrderer(endpoints, chain_id, ssl_context=tls.client_context(config),
                           metrics=metrics)
    return EmbeddedOrderer(config.orderer_path)


def controllers_of(setting: str) -> list[str]:
    """Return the USCCs a `clock_controllers` setting names."""
    return [uscc.strip() for uscc in setting.split(",") if uscc.strip()]


class NodeService:
    """One node: its store and chain, and the pipeline and finality parts around them."""

    def __init__(
        self, config: NodeConfig, *, clock: Clock | None = None, orderer: Orderer | None = None
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.metrics = NodeMetrics()
        self.genesis = load_genesis(config.genesis_path)
        self.store = Store(config.database_url, sqlite_cache_mib=config.sqlite_cache_mib)
        signatures = SignatureCache()
        self.chain = Chain(self.store, self.genesis, Executor(CONTRACTS, signatures),
                           state_cache_keys=config.state_cache_keys)
        local_code = code_hash()
        problem = contract_code_problem(self.chain.state, self.chain.head.height + 1, local_code)
        if problem is not None:
            self.store.close()
            raise LedgerError(problem)
        self.verifier: VerifierPool | None = None
        self.node_key = self._own_node_key()
        self.checkpoints = Checkpoints(self.chain, node_id=config.node_id, node_key=self.node_key)
        self.state_notes = StateNotes(self.store, self.chain.chain_id, node_id=config.node_id,
                                      node_key=self.node_key)
        self.orderer = orderer or _own_orderer(config, self.chain.chain_id, self.metrics)
        self._owns_orderer = orderer is None
        self.mempool = Mempool(
            self.orderer, self.clock, chain_id=self.chain.chain_id, proposer=config.node_id,
            max_txs=config.batch_max_txs, max_wait_ms=config.batch_max_wait_ms,
            node_key=self.node_key, metrics=self.metrics,
        )
        self.finality: Finality | None = None
        self.attestor: Attestor | None = None
        self.compactor: Compactor | None = None
        self.peers: Peers | None = None
        self._setup_attestation()
        self.admission = Admission(chain=self.chain, store=self.store, mempool=self.mempool,
                                   clock=self.clock, config=config, signatures=signatures,
                                   final_height=lambda: self.final_height)
        self.committer = Committer(
            chain=self.chain, orderer=self.orderer, mempool=self.mempool,
            waiters=self.admission.waiters, code_hash=local_code, finality=self.finality,
            attestor=self.attestor, peers=self.peers, metrics=self.metrics, signatures=signatures)
        self.queries = Queries(chain=self.chain, store=self.store, mempool=self.mempool,
                               admission=self.admission, committer=self.committer,
                               checkpoints=self.checkpoints, state_notes=self.state_notes,
                               clock=self.clock, config=config)
        self.holdings = Holdings(self.chain, self.store)
        self.listings = Listings(self.holdings, self.store, self.clock)
        self.inbox = Inbox(self.holdings, self.listings, self.store, self.clock)
        self.exports = Exports(self.store, self.clock, config.node_id)
        self.metrics.registry.register(StateCollector(self.metrics_state))
        # bound last, so that a node failing to start above holds no port; serving starts
        # with the node
        self.metrics_listener = None if config.metrics_port is None else MetricsListener(
            self.metrics.registry, config.metrics_host, config.metrics_port)

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
        return self.committer.final_height

    @property
    def code_mismatch(self) -> str | None:
        """Return why the committer stopped before a block pinned to other code, if it did."""
        return self.committer.code_mismatch

    def metrics_state(self) -> NodeState:
        """Return what the node's state gauges show now (read at each scrape)."""
        attested = {} if self.finality is None else {
            node_id: self.finality.last_attested_by(node_id) for node_id in self.chain.nodes()}
        return NodeState(chain_id=self.chain.chain_id, node_id=self.config.node_id,
                         height=self.chain.head.height, final_height=self.final_height,
                         mempool=len(self.mempool.pending),
                         ordering_available=self.mempool.ordering_problem is None,
                         attested=attested)

    def tx_status(self, tx_id: str) -> dict[str, JSONValue] | None:
        """Return a transaction's status, or None if this node has never seen it."""
        return self.queries.tx_status(tx_id)

    def member(self, uscc: str) -> Member | None:
        """Return the member record in the current state, or None (for authentication)."""
        return self.queries.member(uscc)

    # -- life cycle -----------------------------------------------------------

    def start(self) -> None:
        """Start the verifier processes, attesting, compaction, batching and committing."""
        if self.config.verifier_processes != 0:
            workers = self.config.verifier_processes
            self.verifier = VerifierPool(workers if workers > 0 else None, metrics=self.metrics)
            self.admission.verifier = self.verifier
        if self.attestor is not None:
            self.attestor.start()
        if self.compactor is not None:
            self.compactor.start()
        self.admission.offer_pending_again()
        self.mempool.start()
        self.committer.start()
        if self.metrics_listener is not None:
            self.metrics_listener.start()

    def stop(self) -> None:
        """Stop threads and release the database and the metrics port."""
        if self.metrics_listener is not None:
            self.metrics_listener.close()
        self.mempool.stop()
        if self.attestor is not None:
            self.attestor.stop()
        if self.compactor is not None:
            self.compactor.stop()
        self.committer.stop()
        if self._owns_orderer:
            self.orderer.close()
        if self.verifier is not None:
            self.verifier.close()
        if self.peers is not None:
            self.peers.close()
        self.store.close()

    # -- commands -----------------------------------------------------------------

    def advance_clock(self, caller: Member, *, days: int, seconds: int) -> str:
        """Move a simulation node's clock forward (its clock controllers only); return the time.

        Raises Refused: not_found on a system clock, forbidden for anyone
        not named in `clock_controllers`, bad_request past LATEST_SIMULATED.
        """
        if not isinstance(self.clock, ManualClock):
            raise Refused("not_found", "this node runs on the system clock")
        controllers = controllers_of(self.config.clock_controllers)
        if caller.uscc not in controllers:
            raise Refused("forbidden", "only the organisations in this node's clock_controllers "
                                       f"setting move its simulated clock "
                                       f"({', '.join(controllers) or 'none is named'})")
        try:
            self.clock.advance(days=days, seconds=seconds)
        except ClockLimit as exc:
            raise Refused("bad_request", str(exc)) from exc
        return timestamp(self.clock)
