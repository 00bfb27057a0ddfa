"""Prometheus metrics of one node, and the listener that serves them.

Every node has a registry of its own (`NodeMetrics`), so several nodes in
one process (as the tests run them) never mix their figures.  Counters and
histograms are updated where things happen (the committer, the batcher, the
etcd orderer, the verifier pool), once per block or batch, never per
transaction; gauges of the node's state (heights, mempool depth, what each
node attested) are read when scraped.

The metrics are served by a listener of their own (`metrics_host`,
`metrics_port`), plain HTTP on loopback by default, as etcd serves its
`--listen-metrics-urls`: the main port admits every consortium member, and
what a node's metrics show (its load, its invalid transactions, how far
peers lag) is for its own operator.  Bind it elsewhere only behind access
control of your own.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    make_wsgi_app,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ETCD_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class NodeMetrics:
    """The instruments of one node, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.committed = Counter("ledger_committed_transactions",
                                 "Valid transactions committed in blocks.", registry=r)
        self.invalid = Counter("ledger_invalid_transactions",
                               "Transactions recorded invalid in blocks, by reason code.",
                               ["code"], registry=r)
        self.commit_seconds = Histogram(
            "ledger_block_commit_seconds",
            "Time to derive and commit one block from an ordered batch.",
            buckets=LATENCY_BUCKETS, registry=r)
        self.batch_seconds = Histogram(
            "ledger_batch_latency_seconds",
            "Time from a batch's oldest transaction being accepted to the batch being ordered.",
            buckets=LATENCY_BUCKETS, registry=r)
        self.batch_failures = Counter("ledger_batch_append_failures",
                                      "Appends of a batch to the orderer that failed "
                                      "(each is retried).", registry=r)
        self.etcd_append_seconds = Histogram(
            "ledger_etcd_append_seconds", "Round trip of one batch append to etcd.",
            buckets=ETCD_BUCKETS, registry=r)
        self.verifier_workers = Gauge("ledger_verifier_workers",
                                      "Signature verifier processes (0: verifying in-process).",
                                      registry=r)
        self.verifier_chunks = Gauge("ledger_verifier_chunks_in_flight",
                                     "Chunks of signatures being verified in the verifier pool.",
                                     registry=r)
        self.verified = Counter("ledger_verified_signatures",
                                "Signatures checked in the verifier pool.", registry=r)
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)

    def count_block(self, valid: int, invalid_codes: Mapping[str, int]) -> None:
        """Count a committed block's valid transactions and its invalid ones by code."""
        if valid:
            self.committed.inc(valid)
        for code, count in invalid_codes.items():
            self.invalid.labels(code).inc(count)


@dataclass(frozen=True)
class NodeState:
    """What the node's gauges show, read at each scrape."""

    chain_id: str
    node_id: str
    height: int
    final_height: int
    mempool: int
    ordering_available: bool
    attested: Mapping[str, int]  # registered node id -> highest height it attested (network)


class StateCollector(Collector):
    """Reports a node's state as gauges when scraped; `read` returns it."""

    def __init__(self, read: Callable[[], NodeState]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        """Yield the gauges of the node's state now."""
        state = self._read()
        info = GaugeMetricFamily("ledger_node_info", "The chain and node id of this node (1).",
                                 labels=["chain_id", "node_id"])
        info.add_metric([state.chain_id, state.node_id], 1)
        yield info
        yield GaugeMetricFamily("ledger_block_height", "Height of the last committed block.",
                                value=state.height)
        yield GaugeMetricFamily("ledger_final_height",
                                "Height up to which blocks are final.", value=state.final_height)
        yield GaugeMetricFamily("ledger_mempool_transactions",
                                "Accepted transactions not yet committed.", value=state.mempool)
        yield GaugeMetricFamily("ledger_ordering_available",
                                "1 unless the last append to the orderer failed.",
                                value=int(state.ordering_available))
        if state.attested:
            yield from _peer_gauges(state)


def _peer_gauges(state: NodeState) -> Iterator[Metric]:
    heights = GaugeMetricFamily("ledger_peer_attested_height",
                                "Highest block each registered node attested, as seen here.",
                                labels=["node"])
    lag = GaugeMetricFamily("ledger_attestation_lag_blocks",
                            "Blocks this node committed that each registered node has not "
                            "attested yet, as seen here.", labels=["node"])
    for node, height in sorted(state.attested.items()):
        heights.add_metric([node], height)
        lag.add_metric([node], max(0, state.height - height))
    yield heights
    yield lag


class _QuietHandler(WSGIRequestHandler):
    """Writes no access line to stderr for each scrape."""

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing."""


class MetricsListener:
    """An HTTP listener serving a registry's exposition (bound at once, served on start)."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        """Bind `host`:`port` (0: any free port).

        Raises ValueError for a port outside 0-65535, OSError if it cannot bind.
        """
        if not 0 <= port <= 65535:
            raise ValueError(f"metrics_port {port} is not a TCP port (0 to 65535)")

        class Server(ThreadingWSGIServer):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

        self._server = make_server(host, port, make_wsgi_app(registry), Server,
                                   handler_class=_QuietHandler)
        self._thread: threading.Thread | None = None
        bracketed = f"[{host}]" if ":" in host else host
        self.url = f"http://{bracketed}:{self._server.server_port}/metrics"

    def start(self) -> None:
        """Serve scrapes in a daemon thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics",
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
