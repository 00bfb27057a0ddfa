"""`ledger bench --network`: a short run on a fresh network, which it starts and stops."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from client.local_consortium.bench_network import run_network_bench
from client.local_consortium.network import any_running, network_down
from tests.etcd import need_etcd

pytestmark = [pytest.mark.etcd, pytest.mark.slow]  # a whole network up and down


def test_network_bench_measures_final_figures_and_stops_the_network(tmp_path: Path) -> None:
    need_etcd()
    out = io.StringIO()
    try:
        result = run_network_bench(directory=tmp_path, seconds=3, batch=20, clients=2,
                                   rate=None, password=None,
                                   console=Console(file=out, width=120))
    finally:
        leftover = network_down(tmp_path) if (tmp_path / "network.json").exists() else []
    assert leftover == []  # the bench stopped the network it started
    assert not any_running(json.loads((tmp_path / "network.json").read_text()))
    assert result["network_left_running"] is False
    assert 0 < result["final_tx"] <= result["submitted_tx"]
    assert result["final_tx_per_s"] > 0 and result["raw_ed25519_verify_per_s"] > 0
    assert 0 <= result["final_latency_p50_ms"] <= result["final_latency_p99_ms"]
    assert result["final_to_verify_ratio"] > 0
    assert str(result["final_tx"]) in out.getvalue()
