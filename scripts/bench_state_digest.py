"""Benchmark the state digest (ledger/state_digest.py): what each write and each block cost.

    python scripts/bench_state_digest.py [--writes 2000] [--repeat 5] [--chain FILE]

Builds `--writes` state entries shaped like the ledger's (a `note/<64 hex>`
key, a canonical value of about 300 bytes), then times: the element's
number alone (SHA-256 and ChaCha20 expansion), a block of inserts, a block
of replacements (each removes the old element and adds the new one) and
the per-block normalisation (one modular inversion) with the digest.
Prints the best and the median over the repeats, per write or per block:
the best is the closest to what the code costs on a shared machine.

With --chain (a chain file, e.g. from `scripts/bench_audit.py --dir DIR`),
also audits it `--repeat` times each with and without the replay keeping the
state digests (alternated; without, the digest rows become findings), and
prints the seconds: what the digest adds to an audit.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import client.audit.replay as replay_module
from client.audit import audit_chain_file
from client.audit.state_digests import DigestTrail
from ledger.state_digest import StateDigest, element_bytes, element_number


def main() -> int:
    """Build the entries and time each operation."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writes", type=int, default=2000, help="writes in one block")
    parser.add_argument("--repeat", type=int, default=5, help="passes over the writes")
    parser.add_argument("--chain", type=Path, help="a chain file to audit with and without")
    args = parser.parse_args()
    n = args.writes
    old = {f"note/{i:064x}": _value(i, "live") for i in range(n)}
    new = {key: _value(i, "spent") for i, key in enumerate(old)}
    elements = [element_bytes(k, v) for k, v in old.items()]
    start = StateDigest.of(old.items())
    empty = StateDigest()
    _time("element number (SHA-256, ChaCha20)", lambda: [element_number(e) for e in elements],
          args.repeat, n, "write")
    _time("insert (key absent before)", lambda: empty.after(old, lambda _k: None),
          args.repeat, n, "write")
    _time("replace (remove old, add new)", lambda: start.after(new, old.get), args.repeat, n,
          "write")
    changed = start.after(new, old.get)
    _time("normalise and digest (once a block)", lambda: changed.normalized().digest(),
          args.repeat, 1, "block")
    if args.chain is not None:
        _audit_cost(args.chain, args.repeat)
    return 0


class _NoDigests(DigestTrail):
    """A trail that keeps nothing: the audit as it was before state digests."""

    def advance(self, writes: object, old: object) -> None:  # type: ignore[override]
        """Ignore the block."""

    def at(self, height: int) -> bytes | None:
        """Know no digest."""
        return None


def _audit_cost(path: Path, repeat: int) -> None:
    runs: dict[str, list[float]] = {"with digests": [], "without": []}
    for _ in range(repeat):
        for name, trail in (("with digests", DigestTrail), ("without", _NoDigests)):
            replay_module.DigestTrail = trail  # type: ignore[misc]
            started = time.perf_counter()
            report = audit_chain_file(path, parallel=True)
            runs[name].append(time.perf_counter() - started)
            if name == "with digests" and report.findings:
                print(f"the audit found {len(report.findings)} problems")
    replay_module.DigestTrail = DigestTrail  # type: ignore[misc]
    for name, seconds in runs.items():
        print(f"audit {name:14s} best {min(seconds):7.2f} s   median "
              f"{statistics.median(seconds):7.2f} s")


def _value(i: int, status: str) -> bytes:
    """Return a canonical note-like value of about 300 bytes."""
    return (f'{{"amount":{1000 + i},"currency":"CNY","financed":false,"frozen":false,'
            f'"holder":"91310000MA00000012","id":"{i:064x}","issuer":"91110000MA0000002P",'
            f'"maturity_date":"2027-01-05","parent_id":null,"root_id":"{i:064x}",'
            f'"status":"{status}"}}').encode()


def _time(name: str, operation: Callable[[], object], repeat: int, per: int, unit: str) -> None:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        operation()
        runs.append((time.perf_counter() - started) / per * 1e6)
    print(f"{name:40s} best {min(runs):9.1f} us/{unit}   median {statistics.median(runs):9.1f}")


if __name__ == "__main__":
    raise SystemExit(main())
