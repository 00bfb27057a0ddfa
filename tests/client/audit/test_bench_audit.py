"""The audit benchmark script runs end to end and reports every repeated run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "bench_audit.py"


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "COLUMNS": "200"})


def test_a_repeated_benchmark_prints_each_rate_then_best_median_and_worst(tmp_path: Path) -> None:
    done = _bench("--txs", "400", "--lanes", "100", "--dir", str(tmp_path), "--repeat", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    rates = [int(r.replace(",", "")) for r in
             re.findall(r"([\d,]+) transactions verified per second \(", done.stdout)]
    assert len(rates) == 2 and done.stdout.count("audit PASSED") == 2
    summary = re.search(r"2 audits: best ([\d,]+), median ([\d,]+), worst ([\d,]+)", done.stdout)
    assert summary is not None
    best, median, worst = (int(g.replace(",", "")) for g in summary.groups())
    assert best == max(rates) and worst == min(rates) and worst <= median <= best


def test_a_repeat_below_one_is_refused() -> None:
    done = _bench("--repeat", "0")
    assert done.returncode == 2 and "--repeat must be at least 1" in done.stderr
