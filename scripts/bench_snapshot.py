"""Benchmark a node started from a snapshot (issue 17): take, check and restore, start, serve.

    python scripts/bench_snapshot.py [--txs 20000] [--keep DIR] [--processes N]

A sample chain of about --txs transactions (scripts/sample_chain.py, as
scripts/bench_scale.py builds it; with --keep it is kept in DIR and reused)
is snapshotted at its final head (node/snapshot/take.py), and the snapshot
is checked (ledger/snapshot.py: header chain, quorum certificate, cosigned
checkpoint of the rebuilt log, cosigned state note against the state's
digest, computed in --processes worker processes) while it is written into
a new SQLite file (node/snapshot/sqlite_restore.py: one pass).  A node process is started on it, and
another on a copy of the full database; a member's holdings read from both
must be equal, and an inclusion proof of a transaction below the snapshot,
served by the restored node, must verify against its quorum-cosigned
checkpoint with the envelope the full node serves.  Printed: the seconds of
each phase and the rows per second of each part, so a 1,000,000-transaction
chain can be extrapolated.  Figures to read, not a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from client.sdk.proofs import verify_tx_inclusion
from ledger.checkpoint import check_cosigned, parse_signed_checkpoint
from ledger.snapshot import SECTIONS
from node.snapshot.restore import genesis_facts, restore
from node.snapshot.take import take_snapshot
from scripts.bench_scale import Built, built_chain, ordering, people, start_node_timed
from scripts.sample_chain import sample_genesis

HOLDER = "s1"


def _timed(what: str, started: float) -> float:
    seconds = time.perf_counter() - started
    print(f"  {what:<44} {seconds:8.2f} s", flush=True)
    return seconds


def _serve(run: Path, database: Path, built: Built) -> tuple[object, float, object]:
    """Start node1 on `database` with an embedded log placed after the chain; return it."""
    run.mkdir(parents=True, exist_ok=True)
    context = ordering(run, "embedded", 1, built.position)
    orderer_args, _ = context.__enter__()
    node, seconds = start_node_timed(run, database, orderer_args)
    return node, seconds, context


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark once; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--txs", type=int, default=20_000)
    parser.add_argument("--lanes", type=int, default=400)
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the built chain here")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="worker processes digesting the state")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="bench-snapshot-"))
    folder = args.keep or scratch
    folder.mkdir(parents=True, exist_ok=True)
    nodes = []
    try:
        built = built_chain(folder, args.txs, args.lanes)
        snapshot = scratch / "snapshot.jsonl"
        started = time.perf_counter()
        head = take_snapshot(f"sqlite:///{built.database}", snapshot, wait_s=0)
        took = _timed("take the snapshot", started)
        rows = dict(head.counts)
        print(f"  snapshot of block {head.height:,}: {snapshot.stat().st_size / 2**20:,.1f} MiB; "
              + ", ".join(f"{rows[s]:,} {s}" for s in SECTIONS), flush=True)
        genesis = sample_genesis()
        started = time.perf_counter()
        genesis_facts(genesis)
        _timed("derive block 0 from the genesis", started)
        restored = scratch / "restored.db"
        started = time.perf_counter()
        restore(f"sqlite:///{restored}", genesis, snapshot, processes=args.processes)
        restored_s = _timed(f"check and write it ({args.processes} processes)", started)
        full_copy = scratch / "full.db"
        shutil.copyfile(built.database, full_copy)
        new, start_new, ctx_new = _serve(scratch / "run-restored", restored, built)
        nodes.append((new, ctx_new))
        print(f"  {'restored node: start to /v1/health':<44} {start_new:8.2f} s", flush=True)
        full, _, ctx_full = _serve(scratch / "run-full", full_copy, built)
        nodes.append((full, ctx_full))
        at_new = people(new.url)  # type: ignore[attr-defined]
        at_full = people(full.url)  # type: ignore[attr-defined]
        started = time.perf_counter()
        holdings = at_new[HOLDER].holdings()
        first_read = _timed(f"first holdings read ({len(holdings)} notes)", started)
        if holdings != at_full[HOLDER].holdings():
            print("FAILED: the restored node's holdings differ from the full node's")
            return 1
        event = at_full[HOLDER].events(limit=1)[0]
        started = time.perf_counter()
        checkpoint = at_new[HOLDER].checkpoint()
        check_cosigned(parse_signed_checkpoint(checkpoint["checkpoint"]), genesis.chain_id,
                       genesis_facts(genesis)[1])
        proof = at_new[HOLDER].node.get(f"/v1/log/inclusion/{event['tx_id']}",
                                        {"size": checkpoint["size"]})
        verify_tx_inclusion(at_full[HOLDER].transaction(event["tx_id"])["envelope"],
                            event["tx_id"], proof, checkpoint)
        proved = _timed(f"prove log entry {event['log_index']} (below the snapshot)", started)
        serving = restored_s + start_new + first_read + proved
        print(f"  {'from the snapshot file to a proof served':<44} {serving:8.2f} s")
        print(f"  {'from the full database, with the snapshot':<44} {took + serving:8.2f} s")
        print(f"rates: check and write {head.log_size / restored_s:,.0f} tx/s and "
              f"{rows['state'] / restored_s:,.0f} state rows/s; take "
              f"{head.log_size / took:,.0f} tx/s; {snapshot.stat().st_size / head.log_size:,.0f} "
              "bytes per transaction")
        for participant in (*at_new.values(), *at_full.values()):
            participant.close()
        return 0
    finally:
        for node, context in nodes:
            node.stop()  # type: ignore[attr-defined]
            context.__exit__(None, None, None)  # type: ignore[attr-defined]
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
