"""The audit's one-compare check of a stored transaction row agrees with the cell-by-cell one."""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from client.audit.block_checks import TX_COLUMNS, _wrong_cells, stored_as

VALUES = ("ab" * 32, 7, 3, 1203, "receivable", "transfer", True, "ok", "", b'[{"type":"t"}]')


def _cell(value: Any) -> Any:
    return {"b64": base64.b64encode(value).decode()} if isinstance(value, bytes) else value


ODD_CELLS = st.one_of(
    st.none(), st.booleans(), st.integers(-2, 1300), st.floats(allow_nan=False),
    st.text(max_size=3),
    st.sampled_from([1, 0, 1.0, 7.0, 3.0, "7", "ok", "", {"b64": ""}, {"real": "1.0"},
                     {"b64": _cell(VALUES[-1])["b64"], "x": 1}, [], ["ok"], _cell(b"[]")]),
)


@settings(max_examples=500, deadline=None)
@given(st.data(), st.booleans())
def test_the_one_compare_accepts_exactly_the_rows_no_cell_of_which_differs(
        data: st.DataObject, valid: bool) -> None:
    values = (*VALUES[:6], valid, *VALUES[7:])
    row: dict[str, Any] = {c: _cell(v) for c, v in zip(TX_COLUMNS, values, strict=True)}
    row["valid"] = data.draw(st.sampled_from([valid, int(valid)]))
    for column in data.draw(st.lists(st.sampled_from(TX_COLUMNS), max_size=3)):
        if data.draw(st.booleans()):
            row[column] = data.draw(ODD_CELLS)
        else:
            row.pop(column, None)
    expected = dict(zip(TX_COLUMNS, values, strict=True))
    assert stored_as(row, values) == (not _wrong_cells(row, expected))


def test_a_faithful_row_passes_and_a_look_alike_does_not() -> None:
    row = {c: _cell(v) for c, v in zip(TX_COLUMNS, VALUES, strict=True)}
    assert stored_as(row, VALUES) and stored_as({**row, "valid": 1}, VALUES)
    assert not stored_as({**row, "valid": 1.0}, VALUES)
    assert not stored_as({**row, "height": 7.0}, VALUES)
    assert not stored_as({**row, "position": True}, (*VALUES[:2], 1, *VALUES[3:]))
