"""Benchmark ledger.canonical on real values: encoding records and events, parsing bodies and state.

    python scripts/bench_canonical.py --db DIR/sample-100000.db [--repeat 7]

The values come from a sample chain's database (`scripts/bench_audit.py
--dir DIR` builds one): every seventh state value (and the record it
decodes to), every fifth transaction's events and body.  Prints, per
operation, the best and the median of the per-item time over the repeats:
the best is the closest to what the code costs on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts.records import KEY_PREFIX, encode, from_json
from ledger.blob_codec import unpack
from ledger.canonical import canonical_bytes, parse_canonical, parse_trusted


def main() -> int:
    """Load the sample values and time each operation."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True, help="a sample chain's SQLite file")
    parser.add_argument("--repeat", type=int, default=7, help="passes over the values")
    args = parser.parse_args()
    if not args.db.exists():
        parser.error(f"no database at {args.db}")
    db = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    kinds = {prefix: kind for kind, prefix in KEY_PREFIX.items()}
    state = [(key, unpack(value)) for n, (key, value) in enumerate(db.execute(
        "SELECT key, value FROM state LIMIT 140000")) if n % 7 == 0]
    records = [from_json(kinds[key.split("/", 1)[0] + "/"], json.loads(value))
               for key, value in state if key.split("/", 1)[0] + "/" in kinds]
    rows = [(unpack(events), unpack(envelope)) for events, envelope in db.execute(
        "SELECT events, envelope FROM transactions WHERE rowid % 5 = 0 LIMIT 20000")]
    events = [json.loads(row[0]) for row in rows]
    bodies = [json.loads(row[1])["body"].encode("utf-8") for row in rows]
    _time("records.encode(record)", encode, records, args.repeat)
    _time("canonical_bytes(events)", canonical_bytes, events, args.repeat)
    _time("parse_canonical(tx body)", parse_canonical, bodies, args.repeat)
    _time("parse_trusted(state value)", parse_trusted, [v for _, v in state], args.repeat)
    return 0


def _time(name: str, operation: Callable[[Any], Any], items: Sequence[Any], repeat: int) -> None:
    per_item = []
    for _ in range(repeat):
        started = time.perf_counter()
        for item in items:
            operation(item)
        per_item.append((time.perf_counter() - started) / len(items) * 1e6)
    print(f"{name:28} best {min(per_item):5.2f} us, median {statistics.median(per_item):5.2f} us"
          f" ({len(items):,} values)")


if __name__ == "__main__":
    sys.exit(main())
