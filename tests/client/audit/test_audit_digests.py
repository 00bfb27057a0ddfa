"""The stored tables vouched for by digests (client/audit/digests.py): never a different result.

In parallel mode the verifier process sums up the rows lines and the audit
skips the row-by-row table checks when the digests agree.  Whatever the
rows lines hold, the findings must be those of the row-by-row checks, in
the same order; and a clean chain must take the short way.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client.audit import audit_source
from client.audit.digests import ROWS_LINE, StoredTables, listing_digest, note_cells
from client.audit.tables import TableChecks
from tests.client.audit.chain_lines import Lines


@pytest.fixture
def row_checks(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record each time the row-by-row table checks run."""
    calls: list[bool] = []
    finish = TableChecks.finish

    def recorded(self: TableChecks, **kwargs: Any) -> None:
        calls.append(True)
        finish(self, **kwargs)
    monkeypatch.setattr(TableChecks, "finish", recorded)
    return calls


def _same_findings(data: bytes) -> list[str]:
    inline = audit_source(Lines(data), parallel=False)
    ahead = audit_source(Lines(data), parallel=True)
    assert [str(f) for f in ahead.findings] == [str(f) for f in inline.findings]
    assert (ahead.stats.notes, ahead.stats.state_keys) == (inline.stats.notes,
                                                           inline.stats.state_keys)
    return [str(f) for f in inline.findings]


def _rows_lines(lines: list[bytes], table: str) -> list[int]:
    return [i for i, line in enumerate(lines) if line.startswith(ROWS_LINE)
            and f'"table":"{table}"'.encode() in line[:60]]


def _edited(lines: list[bytes], at: int, edit: Any) -> bytes:
    record = json.loads(lines[at])
    edit(record)
    line = json.dumps(record, separators=(",", ":")).encode() + b"\n"
    return b"".join([*lines[:at], line, *lines[at + 1:]])


def test_a_clean_chain_is_vouched_for_by_the_digests(chain_file: bytes,
                                                     row_checks: list[bool]) -> None:
    report = audit_source(Lines(chain_file), parallel=True)
    assert report.passed and report.stats.notes > 0
    assert row_checks == []  # the row-by-row checks were not needed
    assert audit_source(Lines(chain_file), parallel=False).passed
    assert row_checks == [True]  # inline, they run


def test_flags_stored_as_booleans_or_as_0_1_are_both_the_note(chain_file: bytes,
                                                              row_checks: list[bool]) -> None:
    lines = chain_file.splitlines(keepends=True)

    def as_booleans(record: dict[str, Any]) -> None:
        for row in record["rows"]:
            row["financed"], row["frozen"] = bool(row["financed"]), bool(row["frozen"])
    data = _edited(lines, _rows_lines(lines, "notes")[0], as_booleans)
    assert _same_findings(data) == []
    assert row_checks == [True]  # the inline audit only


@pytest.mark.parametrize(("table", "column", "odd"), [
    ("notes", "amount", float), ("notes", "financed", lambda v: 2), ("notes", "height", bool),
    ("notes", "status", lambda v: v.upper()), ("state", "height", lambda v: v + 1),
    ("state", "value", lambda v: {"b64": "AAAA"}), ("state", "key", lambda v: None),
    ("tx_parties", "log_index", lambda v: v + 1), ("tx_parties", "log_index", bool),
    ("nonces", "nonce", lambda v: v + "0"), ("nonces", "signer", lambda v: 7),
    ("records", "status", lambda v: "paid"), ("records", "height", bool),
    ("records", "party_a", lambda v: v[:-1] + "0"), ("records", "date", lambda v: None),
])
def test_a_cell_only_equal_in_another_type_or_changed_is_found_as_row_by_row(
        chain_file: bytes, table: str, column: str, odd: Any) -> None:
    lines = chain_file.splitlines(keepends=True)

    def change(record: dict[str, Any]) -> None:
        record["rows"][1][column] = odd(record["rows"][1][column])
    assert _same_findings(_edited(lines, _rows_lines(lines, table)[0], change))


def test_duplicated_and_missing_rows_are_found_as_row_by_row(chain_file: bytes) -> None:
    lines = chain_file.splitlines(keepends=True)
    for table in ("state", "notes", "tx_parties", "nonces", "records"):
        at = _rows_lines(lines, table)[0]

        def repeat(record: dict[str, Any]) -> None:
            record["rows"].append(record["rows"][0])

        def drop(record: dict[str, Any]) -> None:
            del record["rows"][-1]
        for edit in (repeat, drop):
            _same_findings(_edited(lines, at, edit))


def test_a_records_row_that_lies_names_the_record_and_the_column(chain_file: bytes) -> None:
    # Found by the byte-flip test in CI: the records index (lists, the inbox) was exported
    # but not checked, so a node could serve lists from a table the audit passed.
    lines = chain_file.splitlines(keepends=True)
    at = _rows_lines(lines, "records")[0]
    record = json.loads(lines[at])["rows"][0]

    def mark_paid(rows_line: dict[str, Any]) -> None:
        rows_line["rows"][0]["status"] = "paid"
    findings = _same_findings(_edited(lines, at, mark_paid))
    assert any(f"{record['kind']}/{record['id']}: its stored records row: status differs" in f
               for f in findings), findings

    def forge(rows_line: dict[str, Any]) -> None:
        rows_line["rows"].append({**rows_line["rows"][0], "id": "ab" * 32})
    findings = _same_findings(_edited(lines, at, forge))
    assert any(f"a stored records row ({'ab' * 32}) names no record" in f for f in findings)


def test_a_garbled_rows_line_is_reported_where_it_stands(chain_file: bytes) -> None:
    lines = chain_file.splitlines(keepends=True)
    at = _rows_lines(lines, "notes")[0]
    garbled = b"".join([*lines[:at], b'{"type":"rows",garbled\n', *lines[at:]])
    findings = _same_findings(garbled)
    assert any(f"line {at + 1} is not a JSON object" in f for f in findings)
    twice = b"".join([*lines[:at], b'{"type":"rows","type":"meta"}\n', *lines[at:]])
    assert any("second header line" in f for f in _same_findings(twice))
    block = b"".join([*lines[:at], b'{"type":"rows","type":"block"}\n', *lines[at:]])
    assert any("unknown type 'block'" in f for f in _same_findings(block))


def test_rows_lines_written_otherwise_are_all_checked_row_by_row(
        chain_file: bytes, row_checks: list[bool]) -> None:
    """A rows line the verifier was not given (keys in another order) must not be left out."""
    lines = chain_file.splitlines(keepends=True)
    at = _rows_lines(lines, "state")[-1]
    record = json.loads(lines[at])
    extra = {**record["rows"][0], "key": record["rows"][0]["key"] + "-extra"}
    moved = {"table": "state", "type": "rows", "rows": [extra]}
    end = len(lines) - 1  # after every rows line the verifier is given
    assert lines[end].startswith(b'{"type":"end"')
    data = b"".join([*lines[:end], json.dumps(moved).encode() + b"\n", lines[end]])
    findings = _same_findings(data)
    assert any("-extra is not in the re-executed state" in f for f in findings), findings
    assert row_checks == [True, True]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_byte_flip_in_the_rows_lines_gives_the_row_by_row_findings(
        chain_file: bytes, data: st.DataObject) -> None:
    lines = chain_file.splitlines(keepends=True)
    rows = [i for i, line in enumerate(lines) if line.startswith(ROWS_LINE)]
    at = data.draw(st.sampled_from(rows), label="line")
    position = data.draw(st.integers(0, len(lines[at]) - 2), label="position")
    flipped = bytearray(lines[at])
    flipped[position] ^= data.draw(st.integers(1, 255), label="xor")
    assert _same_findings(b"".join([*lines[:at], bytes(flipped), *lines[at + 1:]]))


def test_stored_note_flags_become_booleans_and_nothing_else_does() -> None:
    row = ("n", "r", None, "h", "i", 1, "CNY", "active", "2026-01-01", 1, 0, 5)
    assert note_cells(row) == (*row[:9], True, False, 5)
    assert note_cells(row)[5] is 1 and type(note_cells(row)[11]) is int  # noqa: F632
    odd = (*row[:9], 2, True, 5)
    assert note_cells(odd) == odd


def test_the_listing_tells_types_apart() -> None:
    assert listing_digest([("a", 1)]) != listing_digest([("a", True)])
    assert listing_digest([("a", 1)]) != listing_digest([("a", "1")])
    assert listing_digest([("a", None)]) != listing_digest([("a", "null")])
    assert listing_digest([("a", 1), ("b", 2)]) != listing_digest([("a", 1, "b", 2)])


def test_unusual_rows_void_the_summary() -> None:
    page = {"type": "rows", "table": "nonces", "rows": [{"signer": "s", "nonce": "n"}]}
    tables = StoredTables()
    tables.take(json.dumps(page).encode())
    assert tables.summary() is not None
    for odd in ({**page, "rows": [{"signer": "s", "nonce": 1}]}, {**page, "rows": "x"},
                {**page, "rows": [["s", "n"]]}, {**page, "type": "orphans"}):
        tables = StoredTables()
        tables.take(json.dumps(odd).encode())
        assert tables.summary() is None, odd
    tables = StoredTables()
    tables.take(b'{"type":"rows",')
    assert tables.summary() is None


@pytest.mark.parametrize("height", [0, 2, "1", None, True])
def test_a_kept_batch_row_naming_another_height_is_found(chain_file: bytes, height: Any) -> None:
    # Found by the byte-flip property in CI: '"height":1' flipped to '"height":0' in a
    # block line's batch row passed, as the audit read only the batch's bytes.
    lines = chain_file.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines)
              if line.startswith(b'{"type":"block"') and b'"batch":{"height":1,' in line)

    def move(record: dict[str, Any]) -> None:
        record["batch"]["height"] = height
    findings = _same_findings(_edited(lines, at, move))
    assert any(f"the kept batch's row says height {height!r}, not this block's 1" in f
               for f in findings), findings


@pytest.mark.parametrize(("table", "old", "new"), [
    ("notes", b'"parent_id":null', b'"qarent_id":null'),
    ("nonces", b'"nonce":', b'"nonce":"x","extra":'),
    ("state", b'"height":', b'"heigth":'),
])
def test_a_row_with_other_columns_is_a_finding(chain_file: bytes, table: str, old: bytes,
                                              new: bytes) -> None:
    """A renamed or added column is a `source` finding, not read past because its value matched.

    Found by the byte-flip test: `"parent_id":null` renamed `"qarent_id":null` read as
    a null parent and gave no finding at all.
    """
    lines = chain_file.splitlines(keepends=True)
    at = next(i for i in _rows_lines(lines, table) if old in lines[i])
    tampered = b"".join([*lines[:at], lines[at].replace(old, new, 1), *lines[at + 1:]])
    findings = _same_findings(tampered)
    assert any(f"a {table} row has the columns" in f for f in findings), findings
