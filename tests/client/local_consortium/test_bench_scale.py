"""The scale benchmark runs end to end on two tiny chains and prints every figure and verdict."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.bench_scale import Figures, Load, verdicts

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "bench_scale.py"
NUMBER = r"([\d,.]+)"
VERDICT = re.compile(r"^(.+): (MET|MISSED)$", re.M)


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=280, env={**os.environ, "COLUMNS": "200"})


def _numbers(pattern: str, text: str) -> list[tuple[float, ...]]:
    return [tuple(float(g.replace(",", "")) for g in m.groups())
            for m in re.finditer(pattern, text, re.M)]


@pytest.mark.slow  # builds and loads two chains, ~25 s
def test_two_tiny_sizes_give_each_figure_the_ratios_and_a_verdict_per_criterion(
        tmp_path: Path) -> None:
    done = _bench("--sizes", "300,600", "--lanes", "20", "--load-minutes", "0.1",
                  "--clients", "1", "--batch", "5", "--etcd-members", "1",
                  "--keep", str(tmp_path))
    out = done.stdout
    assert done.returncode in (0, 1), out + done.stderr
    sizes = _numbers(rf"^== {NUMBER} transactions ==$", out)
    assert len(sizes) == 2 and sizes[0][0] < sizes[1][0]
    per_tx = _numbers(rf"^database: {NUMBER} MB, {NUMBER} bytes per transaction$", out)
    assert len(per_tx) == 2 and all(b > 0 for _, b in per_tx)
    assert len(_numbers(rf"^  transactions +{NUMBER} MB +{NUMBER} B/tx$", out)) == 2
    assert len(_numbers(rf"^start-up: {NUMBER} s", out)) == 2
    rss = _numbers(rf"^node RSS: {NUMBER} MB after start, {NUMBER} MB after", out)
    assert len(rss) == 2 and all(start > 0 and loaded > 0 for start, loaded in rss)
    committed = _numbers(rf"^committed: {NUMBER} transactions in {NUMBER} s = {NUMBER} tx/s$",
                         out)
    assert len(committed) == 2 and all(count > 0 for count, _, _ in committed)
    assert len(_numbers(rf"^reads under load: holdings p99 {NUMBER} ms, note p99 {NUMBER} ms "
                        rf"over {NUMBER} reads$", out)) == 2
    assert len(_numbers(rf"^etcd member RSS \(MB\): {NUMBER} after start, {NUMBER} after load$",
                        out)) == 2
    assert out.count("audit: ") == 2 and out.count(", passed") == 2
    assert re.search(r"^node RSS after load [\d.]+, after start [\d.]+; start-up [\d.]+; "
                     r"committed tx/s [\d.]+; bytes per transaction [\d.]+", out, re.M), out
    verdicts = dict(VERDICT.findall(out))
    assert len(verdicts) == 5, out
    assert done.returncode == (0 if set(verdicts.values()) == {"MET"} else 1)
    assert sorted(p.name for p in tmp_path.glob("chain-*.db")) == ["chain-300.db", "chain-600.db"]


def test_sizes_that_are_not_numbers_are_refused() -> None:
    done = _bench("--sizes", "100k")
    assert done.returncode == 2 and "give sizes as 100000,1000000" in done.stderr


def _figures(txs: int, rss: int, startup: float, committed: int, db_bytes: int) -> Figures:
    load = Load(committed, 100.0, 1.0, 1.0, 10, (), rss)
    return Figures(txs, 0.0, db_bytes, {}, startup, rss, rss, load, (), (), 1.0, 1, True)


def test_each_criterion_is_judged_and_comparisons_need_two_sizes() -> None:
    small = _figures(100_000, 400_000_000, 5.0, 30_000, 140_000_000)
    large = _figures(1_000_000, 470_000_000, 9.0, 25_000, 1_400_000_000)
    assert [met for _, met in verdicts([small, large])] == [True, True, True, True, True]
    slow = _figures(1_000_000, 600_000_000, 12.0, 20_000, 1_600_000_000)
    assert [met for _, met in verdicts([small, slow])] == [False, False, False, False, False]
    assert [met for _, met in verdicts([small])] == [True, None, True, None, True]
