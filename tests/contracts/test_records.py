"""contracts.records: the fast encode and evolve give exactly what the plain forms give."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.records import (
    Note,
    NoteStatus,
    Receivable,
    ReceivableStatus,
    encode,
    evolve,
    to_json,
)
from ledger.canonical import canonical_bytes
from ledger.errors import EncodingError

ids = st.text("0123456789abcdef", min_size=1, max_size=8)
texts = st.one_of(st.text(max_size=6), st.sampled_from(["核心", "\u2028", "\x00\"\\"]))
notes = st.builds(
    Note, id=ids, root_id=ids, parent_id=st.none() | ids, holder=texts,
    amount=st.integers(0, 2**53 - 1), currency=texts, issuer=texts, maturity_date=texts,
    depth=st.integers(0, 9), status=st.sampled_from(NoteStatus), financed=st.booleans(),
    frozen=st.booleans(), created_tx=ids, financing=st.none() | ids)
receivables = st.builds(
    Receivable, id=ids, issuer=texts, first_holder=texts, face=st.integers(0, 2**53 - 1),
    currency=texts, issue_date=texts, maturity_date=texts, accept_by=texts, credit_line=ids,
    trade=st.dictionaries(texts, st.integers(-(2**53) + 1, 2**53 - 1) | texts, max_size=3),
    status=st.sampled_from(ReceivableStatus), long_tenor=st.booleans(),
    paid=st.integers(0, 10**12), live=st.lists(ids, max_size=4).map(tuple))
# values a buggy contract could put in a field: the wrong type for some field
odd_values = st.one_of(st.integers(-(2**60), 2**60), st.floats(allow_nan=False), st.booleans(),
                       st.none(), st.text(max_size=3), st.lists(ids, max_size=2),
                       st.sampled_from(["\ud800", NoteStatus.SPENT]))


def _plain(record: Any) -> bytes:
    return canonical_bytes(to_json(record))


@settings(max_examples=300, deadline=None)
@given(st.one_of(notes, receivables), st.data())
def test_encode_and_evolve_agree_with_the_plain_forms(record: Any, data: st.DataObject) -> None:
    assert encode(record) == _plain(record)
    field = data.draw(st.sampled_from(sorted(to_json(record))))
    value = data.draw(odd_values)
    changed = evolve(record, **{field: value})
    assert changed == replace(record, **{field: value})
    assert record != changed or getattr(record, field) == value  # the original is untouched
    try:
        expected = _plain(changed)
    except EncodingError:
        with pytest.raises(EncodingError):
            encode(changed)
        return
    assert encode(changed) == expected


def test_evolve_refuses_a_name_that_is_not_a_field() -> None:
    note = Note(id="1", root_id="1", parent_id=None, holder="h", amount=1, currency="CNY",
                issuer="i", maturity_date="2027-01-01", depth=0, status=NoteStatus.ACTIVE)
    with pytest.raises(TypeError, match="Note has no field colour"):
        evolve(note, colour="red")
