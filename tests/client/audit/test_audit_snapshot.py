"""`ledger audit --snapshot FILE`: a snapshot checked against the full replay of the chain."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from client.audit import audit_chain_file
from node.snapshot.take import take_snapshot
from node.storage.chain_lines import export_database
from scripts.sample_chain import build_sample_chain


@pytest.fixture(scope="module")
def chain_and_snapshot(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Return a sample chain file and the snapshot of the same database at its head."""
    folder = tmp_path_factory.mktemp("audit-snapshot")
    url = f"sqlite:///{folder / 'node.db'}"
    build_sample_chain(url, transactions=300, lanes=15)
    with (folder / "chain.jsonl").open("wb") as out:
        export_database(url, out)
    take_snapshot(url, folder / "snapshot.jsonl", wait_s=0)
    return folder / "chain.jsonl", folder / "snapshot.jsonl"


def test_a_true_snapshot_audits_clean(chain_and_snapshot: tuple[Path, Path]) -> None:
    chain, snapshot = chain_and_snapshot
    report = audit_chain_file(chain, snapshots=[snapshot])
    assert report.passed, [str(f) for f in report.findings]


def test_a_changed_state_value_is_a_snapshot_finding(
    chain_and_snapshot: tuple[Path, Path], tmp_path: Path
) -> None:
    chain, snapshot = chain_and_snapshot
    lines = [orjson.loads(line) for line in snapshot.read_bytes().splitlines()]
    state = next(line for line in lines if line["type"] == "state")
    state["rows"][0][2] = state["rows"][0][2][:-1] + ',"extra":1}'  # one value changed
    forged = tmp_path / "forged.jsonl"
    forged.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    report = audit_chain_file(chain, snapshots=[forged])
    assert [f.check for f in report.findings] == ["snapshot"]
    assert "its state rows digest to" in report.findings[0].message
    assert "the rebuilt state's digest after block" in report.findings[0].message
