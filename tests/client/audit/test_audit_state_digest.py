"""The audit checks the node's state digests against its own replay, at the height that differs.

The node keeps the state digest after every block (`state_digests`) and its
running product at the head (`state_accumulator`); both reach the chain file
as `rows` lines.  A clean chain passes, inline and with the verifier
process; a digest or product changed in the file is a `state_digest`
finding naming its block; a database from before digests (no such tables)
is audited as before.  A node compared with the audited chain must serve
the rebuilt digest at its checkpoint's height.
"""

from __future__ import annotations

import base64
import io
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from client.audit import AuditReport, audit_source
from node.storage.chain_lines import export_database
from scripts.sample_chain import build_sample_chain
from tests.client.audit.chain_lines import Lines
from tests.node.support import grant_line
from tests.nodes import running_node


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small sample chain's node database."""
    path = tmp_path_factory.mktemp("digest") / "node.db"
    build_sample_chain(f"sqlite:///{path}", transactions=40, lanes=5)
    return path


def _export(path: Path) -> bytes:
    out = io.BytesIO()
    export_database(f"sqlite:///{path}", out)
    return out.getvalue()


def _records(data: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in data.splitlines()]


def _file(records: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def _rows(records: list[dict[str, Any]], table: str) -> list[dict[str, Any]]:
    return [row for r in records if r.get("type") == "rows" and r.get("table") == table
            for row in r["rows"]]


def _flip(cell: dict[str, str]) -> None:
    raw = bytearray(base64.b64decode(cell["b64"]))
    raw[5] ^= 0x01
    cell["b64"] = base64.b64encode(bytes(raw)).decode()


def _digest_findings(report: AuditReport) -> list[tuple[str, int | None]]:
    return [(f.check, f.block) for f in report.findings]


@pytest.mark.parametrize("parallel", [False, True])
def test_a_clean_chain_has_a_digest_per_block_and_passes(database: Path, parallel: bool) -> None:
    records = _records(_export(database))
    blocks = sum(1 for r in records if r.get("type") == "block")
    assert [row["height"] for row in _rows(records, "state_digests")] == list(range(blocks))
    assert [row["height"] for row in _rows(records, "state_accumulator")] == [blocks - 1]
    report = audit_source(Lines(_file(records)), parallel=parallel)
    assert report.findings == []


@pytest.mark.parametrize("parallel", [False, True])
def test_a_changed_digest_is_found_at_its_block(database: Path, parallel: bool) -> None:
    records = _records(_export(database))
    _flip(_rows(records, "state_digests")[3]["digest"])
    report = audit_source(Lines(_file(records)), parallel=parallel)
    assert _digest_findings(report) == [("state_digest", 3)]
    assert "the stored state digest after block 3" in report.findings[0].message


def test_a_changed_running_product_is_found_at_the_head(database: Path) -> None:
    records = _records(_export(database))
    row = _rows(records, "state_accumulator")[0]
    _flip(row["value"])
    report = audit_source(Lines(_file(records)), parallel=False)
    assert _digest_findings(report) == [("state_digest", row["height"])]


def test_a_digest_for_a_block_that_does_not_exist_is_found(database: Path) -> None:
    records = _records(_export(database))
    _rows(records, "state_digests")[-1]["height"] = 10_000
    report = audit_source(Lines(_file(records)), parallel=False)
    assert [f.check for f in report.findings] == ["state_digest"]
    assert "names block 10000" in report.findings[0].message


def test_a_database_from_before_digests_is_audited_as_before(database: Path,
                                                             tmp_path: Path) -> None:
    older = tmp_path / "older.db"
    shutil.copy(database, older)
    with sqlite3.connect(older) as db:
        db.execute("DROP TABLE state_digests")
        db.execute("DROP TABLE state_accumulator")
    data = _export(older)
    assert b"state_digests" not in data
    assert audit_source(Lines(data), parallel=False).findings == []


def test_a_node_serving_another_state_digest_is_found(tmp_path: Path) -> None:
    with running_node(tmp_path) as n:
        grant_line(n)
        head = n.service.chain.head.height
        clean = _export(tmp_path / "node.db")
        auditor = n.participant("auditor")
        assert audit_source(Lines(clean), nodes=[auditor.node]).findings == []
        with sqlite3.connect(tmp_path / "node.db") as db:  # the node's row, not the file's
            db.execute("UPDATE state_digests SET digest = ? WHERE height = ?", (bytes(32), head))
        report = audit_source(Lines(clean), nodes=[auditor.node])
        auditor.close()
    assert [(f.check, f.block) for f in report.findings] == [("state_digest", head)]
    assert "serves state digest '" + "00" * 32 in report.findings[0].message


def test_a_state_signature_over_another_digest_is_found(database: Path) -> None:
    records = _records(_export(database))
    block = next(r for r in records if r.get("type") == "block" and r["block"]["height"] == 3)
    attestation = block["attestations"][1]
    _flip(attestation["state_signature"])
    report = audit_source(Lines(_file(records)), parallel=False)
    assert _digest_findings(report) == [("state_note", 3)]
    assert (f"{attestation['node_id']}'s signature over the state note of block 3"
            in report.findings[0].message)
