"""The raw export: stored rows as chain-file lines, offline and over HTTP, never parsed.

Whatever a database holds (bytes that are no longer JSON, text that is no
longer UTF-8) is exported as it is stored: the export neither fails nor
changes it, and only auditors may read it over HTTP.
"""

from __future__ import annotations

import io
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.chainfile import FORMAT, BadCell, decode_cell, decode_row, encode_cell, encode_row
from node.storage.chain_lines import export_database
from tests.node.support import grant_line, issue_accepted, raw
from tests.nodes import RunningNode, running_node


@given(st.one_of(st.none(), st.booleans(), st.integers(), st.text(), st.binary()))
def test_a_cell_stands_for_exactly_the_stored_value(value: Any) -> None:
    back = decode_cell(orjson.loads(orjson.dumps(encode_cell(value))))
    assert back == value and type(back) is type(value)


def test_a_malformed_cell_is_reported_as_such_not_raised() -> None:
    for cell in ({"b64": "###"}, {"b64": 5}, {"x": 1}, [1, 2], 1.5):
        assert isinstance(decode_cell(cell), BadCell)
    assert decode_row(encode_row({"a": b"\x00", "b": "t"})) == {"a": b"\x00", "b": "t"}
    assert decode_row("not a row") == {}


def _lines(data: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in data.splitlines()]


def _busy_node(n: RunningNode) -> None:
    line = grant_line(n)
    issue_accepted(n, line, "s1")


def _get(n: RunningNode, who: str, path: str) -> Any:
    return raw(n, n.orgs[who], "GET", path)


def test_the_node_streams_its_chain_file_to_auditors_only(tmp_path: Path) -> None:
    with running_node(tmp_path) as n:
        _busy_node(n)
        head = n.service.chain.head.height
        answer = _get(n, "auditor", "/v1/export")
        assert answer.status_code == 200
        lines = _lines(answer.content)
        assert lines[0]["type"] == "meta" and lines[0]["format"] == FORMAT
        assert lines[0]["height"] == head and lines[0]["chain_id"] == "test-chain"
        blocks = [line for line in lines if line["type"] == "block"]
        assert [decode_row(b["block"])["height"] for b in blocks] == list(range(head + 1))
        assert blocks[0]["batch"] is None and all(b["batch"] for b in blocks[1:])
        assert lines[-1] == {"type": "end", "lines": len(lines) - 1, "blocks": head + 1,
                             "rows": lines[-1]["rows"]}
        assert lines[-1]["rows"]["state"] == len(list(n.service.store.state_items()))
        refused = _get(n, "s1", "/v1/export")
        assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
        assert raw(n, None, "GET", "/v1/export").status_code == 401


def test_the_export_pages_blocks_and_tables(tmp_path: Path) -> None:
    with running_node(tmp_path) as n:
        _busy_node(n)
        head = n.service.chain.head.height
        first = _lines(_get(n, "auditor", "/v1/export/blocks?from=0&limit=2").content)
        assert [decode_row(b["block"])["height"] for b in first[:-1]] == [0, 1]
        assert first[-1] == {"type": "page", "next": 2}
        last = _lines(_get(n, "auditor", f"/v1/export/blocks?from={head}&limit=5").content)
        assert len(last) == 2 and last[-1] == {"type": "page", "next": head + 1}
        pages, offset = [], 0
        while offset is not None:
            page = _lines(_get(n, "auditor", f"/v1/export/rows/state?offset={offset}&limit=7")
                          .content)
            pages += page[0]["rows"]
            offset = page[1]["next_offset"]
        assert len(pages) == len(list(n.service.store.state_items()))
        assert _get(n, "auditor", "/v1/export/rows/blocks").status_code == 404
        assert _get(n, "auditor", "/v1/export/rows/nope").status_code == 404
        meta = _lines(_get(n, "auditor", "/v1/export/meta").content)
        assert meta[0]["type"] == "meta" and meta[0]["log_size"] == n.service.chain.log.size
        assert _get(n, "auditor", "/v1/export/blocks?limit=0").status_code == 400


def test_corrupt_rows_are_exported_exactly_as_stored(tmp_path: Path) -> None:
    with running_node(tmp_path) as n:
        _busy_node(n)
        database = tmp_path / "node.db"
        with sqlite3.connect(database) as db:
            envelope = db.execute("SELECT envelope FROM transactions WHERE height = 1")
            broken = b"\xff not json" + envelope.fetchone()[0][10:]
            db.execute("UPDATE transactions SET envelope = ? WHERE height = 1", (broken,))
            db.execute("UPDATE transactions SET reason = ? WHERE height = 2",
                       (b"\xc3\x28 not utf-8",))
            db.execute("UPDATE notes SET amount = 'lots'")
        answer = _get(n, "auditor", "/v1/export")
        assert answer.status_code == 200
        blocks = {decode_row(b["block"])["height"]: b for b in _lines(answer.content)
                  if b["type"] == "block"}
        assert decode_row(blocks[1]["txs"][0])["envelope"] == broken
        assert decode_row(blocks[2]["txs"][0])["reason"] == b"\xc3\x28 not utf-8"
        offline = io.BytesIO()
        export_database(f"sqlite:///{database}", offline)
        same = {decode_row(b["block"])["height"]: b for b in _lines(offline.getvalue())
                if b["type"] == "block"}
        assert same == blocks
        notes = [r for line in _lines(offline.getvalue())
                 if line["type"] == "rows" and line["table"] == "notes" for r in line["rows"]]
        assert notes and all(r["amount"] == "lots" for r in notes)


def test_the_offline_exporter_reads_a_database_without_changing_it(tmp_path: Path) -> None:
    with running_node(tmp_path) as n:
        _busy_node(n)
    database = tmp_path / "node.db"
    with sqlite3.connect(database) as db:
        db.execute("PRAGMA journal_mode=DELETE")
    before = database.read_bytes()
    out = tmp_path / "chain.jsonl"
    done = subprocess.run([sys.executable, "-m", "node", "export", "--database",
                           f"sqlite:///{database}", "--out", str(out)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "exported" in done.stderr
    assert database.read_bytes() == before
    assert _lines(out.read_bytes())[-1]["type"] == "end"
    missing = subprocess.run([sys.executable, "-m", "node", "export", "--database",
                              f"sqlite:///{tmp_path / 'nope.db'}", "--out", str(out)],
                             capture_output=True, text=True, check=False)
    assert missing.returncode == 2 and "no database file" in missing.stderr
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    broken = subprocess.run([sys.executable, "-m", "node", "export", "--database",
                             f"sqlite:///{garbage}", "--out", str(out)],
                            capture_output=True, text=True, check=False)
    assert broken.returncode == 2 and "cannot export" in broken.stderr


@pytest.mark.parametrize("path", ["/v1/export/blocks?from=-1", "/v1/export/rows/state?limit=0",
                                  "/v1/export/rows/state?offset=x"])
def test_bad_export_queries_are_4xx(tmp_path: Path, path: str) -> None:
    with running_node(tmp_path) as n:
        assert _get(n, "auditor", path).status_code == 400


@pytest.mark.postgres
def test_a_postgresql_node_exports_a_chain_that_audits_clean(
    tmp_path: Path, fresh_postgres_url: str
) -> None:
    from client.audit import audit_source

    with running_node(tmp_path, database_url=fresh_postgres_url) as n:
        _busy_node(n)
        streamed = _get(n, "auditor", "/v1/export").content
    offline = io.BytesIO()
    export_database(fresh_postgres_url, offline)
    for data in (streamed, offline.getvalue()):
        blocks = [b for b in _lines(data) if b["type"] == "block"]
        assert decode_row(blocks[1]["txs"][0])["valid"] is True  # a real boolean here
        report = audit_source(_Source(data), parallel=False)
        assert report.passed, [str(f) for f in report.findings]


class _Source:
    label = "memory"

    def __init__(self, data: bytes) -> None:
        self.data = data

    def lines(self) -> Any:
        return iter(io.BytesIO(self.data))
