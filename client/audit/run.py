"""Running an audit: from a chain file or nodes' export streams, to the finished report.

The public entry points, re-exported by the package (`client.audit`).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from client.audit.cross import compare_node
from client.audit.engine import Engine, Progress
from client.audit.report import AuditReport
from client.audit.snapshots import compare_snapshot
from client.audit.source import ChainSource, FileSource, NodeSource
from client.sdk.http import NodeClient, NodeError
from ledger.state import StateCache

Rebuilt = Callable[[StateCache], None]


def audit_source(source: ChainSource, *, nodes: Sequence[NodeClient] = (),
                 progress: Progress | None = None, parallel: bool | None = None,
                 rebuilt: Rebuilt | None = None,
                 snapshots: Sequence[Path] = ()) -> AuditReport:
    """Audit the chain `source` gives, then compare each of `nodes` and `snapshots` with it.

    `parallel` chooses the verifier process (None: only for long chains);
    `rebuilt` is handed the state the audit rebuilt by re-execution.
    Never raises for what the source holds; raises OSError or NodeError
    only if the source cannot be read at all.
    """
    report = AuditReport(sources=[source.label, *(f"node {n.base_url}" for n in nodes
                                                  if f"node {n.base_url}" != source.label)])
    started = time.perf_counter()
    with without_cycle_collection():
        _run(Engine(report, parallel=parallel, progress=progress), source, nodes, rebuilt,
             started, snapshots)
    return report


@contextmanager
def without_cycle_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector while the audit runs (as it was, after).

    Rebuilding a chain makes millions of objects that live until the end,
    and next to no cycles: the whole audit of a 100,000-transaction chain
    leaves some 500 objects for the collector, everything else is freed by
    reference counting.  Every collection only scanned live objects, 0.7 s
    of the re-executing process's time even with raised thresholds.  The few
    cycles are collected once the collector runs again.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _run(engine: Engine, source: ChainSource, nodes: Sequence[NodeClient],
         rebuilt: Rebuilt | None, started: float, snapshots: Sequence[Path] = ()) -> None:
    """Run the audit and the node comparisons with `engine`, timed from `started`.

    The rebuilt chain is millions of objects.  They are freed (by reference
    counting) as this returns, before the collector runs again: left alive
    until then, they were all scanned by a full collection that found
    nothing (~0.4 s on a 100,000-transaction chain).  The time reported is
    that of the checks, up to the finished report.
    """
    engine.run(_guarded(source.lines(), engine.report))
    for node in nodes:
        compare_node(engine.report, engine.replay, node)
    for path in snapshots:
        compare_snapshot(engine.report, engine.replay, path)
    if rebuilt is not None:
        rebuilt(engine.replay.state)
    engine.report.stats.finish(time.perf_counter() - started)


def _guarded(lines: Iterator[bytes], report: AuditReport) -> Iterator[bytes]:
    """Yield the source's lines; a stream that breaks off is a finding, not a crash."""
    try:
        yield from lines
    except NodeError as exc:
        report.find("source", f"the export stream broke off: {exc}"[:300])


def audit_chain_file(path: Path, *, nodes: Sequence[NodeClient] = (),
                     progress: Progress | None = None, parallel: bool | None = None,
                     rebuilt: Rebuilt | None = None,
                     snapshots: Sequence[Path] = ()) -> AuditReport:
    """Audit a chain file (and compare `nodes` and `snapshots` with it)."""
    return audit_source(FileSource(path), nodes=nodes, progress=progress, parallel=parallel,
                        rebuilt=rebuilt, snapshots=snapshots)


def audit_nodes(nodes: Sequence[NodeClient], *, progress: Progress | None = None,
                parallel: bool | None = None, rebuilt: Rebuilt | None = None,
                snapshots: Sequence[Path] = ()) -> AuditReport:
    """Audit the first node's export stream, then compare every node (and snapshot) with it."""
    if not nodes:
        raise ValueError("give at least one node to audit")
    return audit_source(NodeSource(nodes[0]), nodes=nodes, progress=progress, parallel=parallel,
                        rebuilt=rebuilt, snapshots=snapshots)


def audit_node(node: NodeClient, progress: Progress | None = None) -> AuditReport:
    """Audit the chain one node serves (its raw export), and its checkpoint."""
    return audit_nodes([node], progress=progress)
