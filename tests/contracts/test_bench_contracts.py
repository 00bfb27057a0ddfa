"""The contracts benchmark records its workload, replays it and prints the cost per transaction."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_contracts.py"


def test_the_benchmark_replays_every_recorded_transaction_and_prints_best_and_median() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--rounds", "2", "--passes", "2"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    found = re.fullmatch(r"(\d+) transactions, 2 passes: best ([\d.]+) µs per transaction, "
                         r"median ([\d.]+)\n", done.stdout)
    assert found is not None, done.stdout
    # a credit line, then 8 transactions a round
    assert int(found[1]) == 1 + 2 * 8 and float(found[2]) <= float(found[3])
