"""Benchmark `ledger audit`: build a sample chain, export it, audit it, print tx verified/s.

    python scripts/bench_audit.py [--txs 100000] [--lanes 400] [--dir DIR] [--repeat N]

The chain is built in-process with the node's own Chain on SQLite
(scripts/sample_chain.py: signed batches, two attesting nodes, every kind of
transaction), exported with the offline exporter (node/storage/chain_lines.py) and
audited from the chain file with the signature verifier in a second process
(client/audit).  With --dir, the database and chain file are kept there and
reused by the next run.  Prints the time of each step and the audit's rate.

With --repeat N the audit runs N times and each run's rate is printed, then
the best, the median and the worst.  These machines are shared: other work
only ever adds time to a run, so the best run is the closest to what the
code itself costs, and the median says what to expect on a busy machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from client.audit import audit_chain_file
from client.audit.render import print_audit
from client.local_consortium.bench import raw_verify_rate
from node.storage.chain_lines import export_database
from scripts.sample_chain import build_sample_chain


def main() -> int:
    """Build (or reuse), export and audit a sample chain; exit 1 if the audit finds anything."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--txs", type=int, default=100_000, help="transactions to build")
    parser.add_argument("--lanes", type=int, default=400, help="transactions per block")
    parser.add_argument("--dir", type=Path, help="keep (and reuse) the database and chain file")
    parser.add_argument("--repeat", type=int, default=1, help="audit this many times")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as scratch:
        folder = args.dir or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        return run(folder, args.txs, args.lanes, args.repeat)


def run(folder: Path, txs: int, lanes: int, repeat: int = 1) -> int:
    """Run the three steps in `folder`; return the exit status."""
    from rich.console import Console

    console = Console()
    database = folder / f"sample-{txs}.db"
    chain = folder / f"sample-{txs}.jsonl"
    if not database.exists():
        built = build_sample_chain(f"sqlite:///{database}", transactions=txs, lanes=lanes)
        console.print(f"built {built.log_size} transactions in {built.height + 1} blocks in "
                      f"{built.seconds:.1f} s ({built.log_size / built.seconds:,.0f} tx/s "
                      "through Chain.apply_batch)")
    if not chain.exists():
        started = time.perf_counter()
        with chain.open("wb") as out:
            export_database(f"sqlite:///{database}", out)
        console.print(f"exported {chain.stat().st_size / 1e6:,.0f} MB in "
                      f"{time.perf_counter() - started:.1f} s")
    rates, passed = [], True
    for _ in range(repeat):
        report = audit_chain_file(chain, parallel=True)
        print_audit(console, report)
        rates.append(report.stats.tx_per_s)
        passed = passed and report.passed
    if repeat > 1:
        console.print(f"{repeat} audits: best {max(rates):,.0f}, median "
                      f"{statistics.median(rates):,.0f}, worst {min(rates):,.0f} "
                      "transactions verified per second")
    console.print(f"raw Ed25519 verification on one core: {raw_verify_rate():,.0f}/s")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
