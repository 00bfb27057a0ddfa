"""The console's page benchmark runs end to end on a small chain and prints each page's times."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "bench_console.py"
TIMES = re.compile(r"^(\w[\w ]*?) +\((\w+) (\S+)\): p50 +([\d.]+) ms  p95 +([\d.]+) ms  max +"
                   r"([\d.]+) ms  over (\d+) GETs: p95 (<|>=) 300 ms (MET|MISSED)$", re.M)


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "COLUMNS": "200"})


def test_the_page_benchmark_times_each_page_of_a_served_chain(tmp_path: Path) -> None:
    done = _bench("--txs", "400", "--lanes", "40", "--requests", "5", "--dir", str(tmp_path))
    assert done.returncode in (0, 1), done.stdout + done.stderr
    timed = {m.group(1): m.groups()[1:] for m in TIMES.finditer(done.stdout)}
    assert set(timed) == {"dashboard", "credential", "explorer blocks", "checkpoints",
                          "checkpoints back"}, done.stdout
    for _alias, _path, p50, p95, most, count, _sign, verdict in timed.values():
        assert float(p50) <= float(p95) <= float(most) and count == "5"
        assert verdict == ("MET" if float(p95) < 300 else "MISSED")
    assert done.returncode == (0 if all(v[-1] == "MET" for v in timed.values()) else 1)
    assert timed["credential"][1] == "/credentials/{credential}"
    assert "deep credential" in done.stdout and ": 97 notes, depth 8" in done.stdout
    assert timed["explorer blocks"][:2] == ("auditor", "/explorer")
    assert timed["checkpoints"][:2] == ("auditor", "/explorer/checkpoints")


def test_a_page_is_given_as_name_alias_and_path() -> None:
    done = _bench("--page", "dashboard=nobody:/")
    assert done.returncode == 2 and "give NAME=ALIAS:PATH" in done.stderr
