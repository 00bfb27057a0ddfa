"""Benchmark a node's memory and start-up against the length of its chain.

    python scripts/bench_memory.py [--txs 20000 100000] [--more 20000] [--dir DIR] [--trace]
                                    [--sqlite-cache-mib N] [--state-cache-keys N]

For each size a sample chain is built (scripts/sample_chain.py) into DIR (kept
and reused), copied, and then, in a fresh process each time so that nothing
is shared: the node's Chain is started on the copy (start-up time, RSS after
start), and `--more` transactions are applied through `Chain.apply_batch`
(committed tx/s, RSS after).  With --trace the start also runs under
tracemalloc and prints the ten largest allocation sites.  A node whose
memory is bounded shows about the same figures at every size.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mb() -> float:
    """Return this process's resident set size in MB (from /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class _Forgotten(list[object]):
    """A list that keeps nothing."""

    def extend(self, _items: object) -> None:
        """Forget `_items`."""


def measure(database: Path, more: int, trace: bool, cache_mib: int | None,
            state_keys: int | None) -> dict[str, object]:
    """Start a node's Chain on `database`, then apply `more` transactions; return the figures."""
    import tracemalloc

    from ledger.timefmt import parse_timestamp
    from node.config import DEFAULT_SQLITE_CACHE_MIB
    from scripts import sample_chain

    baseline = rss_mb()
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    builder = sample_chain.SampleBuilder(f"sqlite:///{database}", attest_blocks=True,
                                         sqlite_cache_mib=cache_mib or DEFAULT_SQLITE_CACHE_MIB)
    startup = time.perf_counter() - started
    if state_keys is not None:  # before any read, so nothing is lost by the swap
        from ledger.bounded_state import BoundedState
        from node.pipeline import chain

        builder.chain.state = BoundedState(builder.store, state_keys, cold=chain._finished_note,
                                           lock=chain.threading.Lock())
    gc.collect()
    figures: dict[str, object] = {
        "log_size": builder.chain.head.log_size, "startup_s": round(startup, 2),
        "rss_interpreter_mb": round(baseline, 1), "rss_start_mb": round(rss_mb(), 1)}
    if trace:
        top = tracemalloc.take_snapshot().statistics("lineno")[:10]
        figures["top"] = [f"{s.size / 1e6:7.1f} MB  {s.traceback}" for s in top]
        tracemalloc.stop()
        return figures
    # Continue the business from the head's day on: new credentials maturing later.
    head_time = parse_timestamp(builder.chain.head.time, what="head time")
    sample_chain.SAMPLE_START = head_time
    builder.now = head_time + sample_chain.timedelta(seconds=2)
    builder._nonces = iter(range(10**12, 10**13))
    builder.sent = _Forgotten()  # the builder keeps what it sent for audits; not wanted here
    first = builder.chain.head.log_size
    started = time.perf_counter()
    line = sample_chain._credit_line(builder)
    round_no, curve = 10_000, []
    while builder.chain.head.log_size - first < more:
        sample_chain._round(builder, line, sample_chain._lanes(builder, 400, round_no), round_no)
        round_no += 1
        curve.append(round(rss_mb()))
    seconds = time.perf_counter() - started
    gc.collect()
    figures.update(applied=builder.chain.head.log_size - first,
                   tx_per_s=round((builder.chain.head.log_size - first) / seconds),
                   rss_after_more_mb=round(rss_mb(), 1), rss_by_round_mb=curve)
    builder.close()
    return figures


def main() -> int:
    """Build (or reuse) the chains and print one line of figures per size."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--txs", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--more", type=int, default=20_000, help="transactions applied after start")
    parser.add_argument("--dir", type=Path, help="keep (and reuse) the sample databases here")
    parser.add_argument("--trace", action="store_true", help="print tracemalloc's top sites")
    parser.add_argument("--sqlite-cache-mib", type=int, help="the page cache per connection")
    parser.add_argument("--state-cache-keys", type=int, help="the node's state cache")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child, args.more, args.trace, args.sqlite_cache_mib,
                                 args.state_cache_keys)))
        return 0
    from node.storage.store import Store
    from scripts.sample_chain import build_sample_chain

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as scratch:
        folder = args.dir or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for txs in args.txs:
            source = folder / f"sample-{txs}.db"
            if not source.exists():
                build_sample_chain(f"sqlite:///{source}", transactions=txs)
            Store(f"sqlite:///{source}").close()  # brings an older database up to date, once
            copy = Path(scratch) / "copy.db"
            shutil.copyfile(source, copy)
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(copy), "--more", str(args.more)]
                + (["--trace"] if args.trace else [])
                + [f"--{name.replace('_', '-')}={value}" for name, value in
                   (("sqlite_cache_mib", args.sqlite_cache_mib),
                    ("state_cache_keys", args.state_cache_keys)) if value is not None],
                check=True, capture_output=True, text=True).stdout
            figures = json.loads(out.splitlines()[-1])
            for line in figures.pop("top", []):
                print(line)
            print(json.dumps(figures))
            copy.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
