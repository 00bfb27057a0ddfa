"""Benchmark a node catching up from genesis through its peers' certified blocks (issue 17, item 5).

    python scripts/bench_catch_up.py [--txs 20000] [--keep DIR] [--lanes 400] [--no-profile]

A chain of --txs transactions of the realistic mix is built in-process
(scripts/sample_chain.py: signed batches, every block certified by the
sample's two attesting nodes), or reused from --keep DIR.  A real node
process (`python -m node serve`, the sample's node1, on a copy of it, its
finality following a one-member etcd) serves it over HTTP.  A fresh node
(an empty database, the same genesis, the sample's node2 key) then catches
up from it as the committer does after an `OrderingGap`:
`node/finality/catch_up.py` with a real `Peers` over real HTTP, each block's
certificate kept through `Finality.receive`.

Printed: the catch-up's transactions per second (timed without a
profiler), that its blocks, state digest and state equal the serving node's,
and, from a second run under cProfile, where the time went per phase
(fetch, parse, certificates, batch, signatures, execution, header, state
digest, database commit, certificates kept).  cProfile sees only the
thread that applies blocks: a page fetched ahead by another thread shows
as the wait for it.  Figures to read, not a test (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts import CONTRACTS
from ledger.attestation import Attestation
from ledger.execution import Executor
from node.clock import SystemClock
from node.finality.attestor import Finality
from node.finality.catch_up import Peers, catch_up_from_peers
from node.pipeline.chain import Chain, CommittedTx, SignatureCache
from node.storage import state_digests
from node.storage.store import Store
from scripts.bench_scale import Built, built_chain, ordering, start_node_timed
from scripts.sample_chain import sample_genesis, sample_node_keys


@contextmanager
def serving_node(run: Path, built: Built) -> Iterator[str]:
    """Serve a copy of `built` from a real node1 process (etcd for its finality); yield its URL.

    The process id is in SERVING_PIDS[url] meanwhile (for its CPU time).
    """
    run.mkdir(parents=True, exist_ok=True)
    database = run / "serving.db"
    shutil.copyfile(built.database, database)
    wal = Path(f"{built.database}-wal")
    if wal.exists():
        shutil.copyfile(wal, Path(f"{database}-wal"))
    with ordering(run, "etcd", 1, built.position) as (args, _members):
        node, _startup = start_node_timed(run, database, args)
        SERVING_PIDS[node.url] = node.process.pid
        try:
            yield node.url
        finally:
            SERVING_PIDS.pop(node.url, None)
            node.stop(timeout=60)


SERVING_PIDS: dict[str, int] = {}


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user and system) process `pid` has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def joining_chain(path: Path) -> Chain:
    """Return a fresh node's chain over an empty database at `path`, as NodeService builds it."""
    for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    return Chain(Store(f"sqlite:///{path}"), sample_genesis(), Executor(CONTRACTS,
                                                                        SignatureCache()))


def peers_of(url: str | list[str]) -> Peers:
    """Return the joining node's peers (it signs its sync requests as the sample's node2)."""
    return Peers([url] if isinstance(url, str) else url, node_id="node2",
                 key=sample_node_keys()["node2"], clock=SystemClock(), verify=False)


def catch_up(chain: Chain, peers: Peers, target: int) -> int:
    """Catch `chain` up to `target` as the committer does; return the transactions applied."""
    finality = Finality(chain, chain.store)
    txs = 0

    def applied(committed: list[CommittedTx], certificate: list[Attestation]) -> None:
        nonlocal txs
        txs += len(committed)
        finality.receive(certificate)

    catch_up_from_peers(chain, peers, target, applied)
    assert finality.final_height == target, (finality.final_height, target)
    return txs


def check_same(chain: Chain, built: Built) -> None:
    """Raise AssertionError unless `chain` holds the built chain's blocks, digest and state."""
    source = Store(f"sqlite:///{built.database}")
    try:
        for height in range(built.height + 1):
            assert chain.store.block_header(height) == source.block_header(height), height
            assert chain.store.block_batch(height) == source.block_batch(height), height
        digest = state_digests.digest_at(source.engine, built.height)
        assert digest == chain.state_digest.digest(), "state digests differ"
        assert digest == state_digests.digest_at(chain.store.engine, built.height)
        assert list(chain.store.state_items()) == list(source.state_items()), "states differ"
    finally:
        source.close()


@dataclass(frozen=True)
class Run:
    """One catch-up, timed."""

    txs: int
    blocks: int
    seconds: float
    cpu: float  # CPU seconds of the catching-up process (every thread)
    server_cpu: float  # CPU seconds of the serving node meanwhile

    @property
    def rate(self) -> float:
        """Return the transactions caught up per second."""
        return self.txs / self.seconds


def timed_run(run: Path, url: str, built: Built, name: str,
              profile: cProfile.Profile | None = None) -> Run:
    """Catch a fresh node up from the node at `url`; check the result; return the figures."""
    chain = joining_chain(run / f"{name}.db")
    peers = peers_of(url)
    try:
        server = cpu_seconds(SERVING_PIDS[url])
        started, cpu = time.perf_counter(), time.process_time()
        if profile is not None:
            profile.enable()
        txs = catch_up(chain, peers, built.height)
        if profile is not None:
            profile.disable()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        server = cpu_seconds(SERVING_PIDS[url]) - server
        check_same(chain, built)
    finally:
        peers.close()
        chain.store.close()
    return Run(txs, built.height, seconds, cpu, server)


# (file suffix, function) whose cumulative time makes each phase; "minus" phases
# are nested inside the one before them and subtracted from it
PHASE_FUNCTIONS: dict[str, list[tuple[str, str]]] = {
    "fetch (HTTP, JSON), or waiting for it": [("catch_up.py", "fetch"),
                                              ("catch_up.py", "next_page")],
    "parse envelopes": [("catch_up.py", "from_json")],
    "certificate checks": [("attestation.py", "check_certificate")],
    "batch check (decode, signature)": [("chain.py", "_check_certified_batch")],
    "signature checks (envelopes)": [("tx.py", "_verifies")],
    "execution (contracts)": [("execution.py", "execute_block")],
    "header (roots)": [("block.py", "next_header")],
    "nonce lookups": [("store.py", "used_nonces")],
    "tx id lookups (in the batch check)": [("store.py", "seen_tx_ids")],
    "state digest": [("state_digest.py", "after"), ("state_digest.py", "normalized"),
                     ("state_digest.py", "normalized_all")],
    "database commit": [("store.py", "commit_block"), ("store.py", "commit_blocks")],
    "block write (rows, indexes, caches)": [("chain.py", "_write_block"),
                                            ("chain.py", "_write_blocks")],
    "certificates kept (Finality.receive)": [("attestor.py", "receive")],
}
NESTED = {  # phase -> the phases whose time is inside it
    "fetch (HTTP, JSON), or waiting for it": ["parse envelopes"],
    "execution (contracts)": ["signature checks (envelopes)"],
    "batch check (decode, signature)": ["tx id lookups (in the batch check)"],
    "block write (rows, indexes, caches)": ["state digest", "database commit"],
}


def phases(profile: cProfile.Profile) -> dict[str, float]:
    """Return the seconds of each phase (exclusive of the phases nested in it) in `profile`."""
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total: dict[str, float] = {}
    for phase, functions in PHASE_FUNCTIONS.items():
        total[phase] = sum(entry[3] for (path, _line, name), entry in stats.items()
                           if (os.path.basename(path), name) in functions)
    return {phase: seconds - sum(total[inner] for inner in NESTED.get(phase, []))
            for phase, seconds in total.items()}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--txs", type=int, default=20_000, help="transactions in the chain")
    parser.add_argument("--lanes", type=int, default=400, help="transactions per built block")
    parser.add_argument("--keep", type=Path, help="keep the built chain in this folder, reuse it")
    parser.add_argument("--no-profile", action="store_true", help="skip the profiled run")
    options = parser.parse_args(argv)
    if options.txs < 1 or options.lanes < 1:
        parser.error("--txs and --lanes must be positive")
    return options


def main(argv: list[str] | None = None) -> int:
    """Build or reuse the chain, serve it, catch up from it; print the figures."""
    options = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-catch-up-") as scratch:
        folder = options.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        built = built_chain(folder, options.txs, options.lanes)
        run = folder / f"catch-up-{options.txs}"
        shutil.rmtree(run, ignore_errors=True)
        with serving_node(run, built) as url:
            plain = timed_run(run, url, built, "plain")
            print(f"caught up {plain.txs:,} transactions in {plain.blocks:,} blocks in "
                  f"{plain.seconds:.1f} s = {plain.rate:,.0f} tx/s (every block, the state digest "
                  "and the state equal the serving node's)", flush=True)
            print(f"CPU: {plain.cpu / plain.txs * 1e6:,.0f} µs per transaction in the catching-up "
                  f"process ({plain.txs / plain.cpu:,.0f} tx per CPU-second), "
                  f"{plain.server_cpu / plain.txs * 1e6:,.0f} µs in the serving node", flush=True)
            if not options.no_profile:
                profile = cProfile.Profile()
                profiled = timed_run(run, url, built, "profiled", profile)
                print(f"\nunder cProfile: {profiled.seconds:.1f} s; per phase (s, share):")
                split = phases(profile)
                for phase, seconds in split.items():
                    print(f"  {phase:<40} {seconds:7.2f}  {seconds / profiled.seconds:6.1%}")
                rest = profiled.seconds - sum(split.values())
                print(f"  {'the rest':<40} {rest:7.2f}  {rest / profiled.seconds:6.1%}")
        shutil.rmtree(run, ignore_errors=True)
    load = os.getloadavg()
    print(f"\nload average while measuring: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
