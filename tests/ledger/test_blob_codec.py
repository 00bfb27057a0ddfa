"""The blob codec gives back exactly what it packed, reads unpacked cells, and rejects damage."""

from __future__ import annotations

import hashlib

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.blob_codec import DEFLATE_V1, BlobCodecError, is_packed, pack, unpack
from ledger.blob_dictionary import DICTIONARY_V1

NOTE = orjson.dumps({
    "amount": 1000000, "created_tx": "be" * 32, "currency": "CNY", "depth": 0,
    "financed": False, "financing": None, "frozen": False, "holder": "91440300MA0000004X",
    "id": "00" * 32, "issuer": "91440300MA0000001L", "maturity_date": "2026-04-05",
    "parent_id": None, "root_id": "00" * 32, "status": "spent"})

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_come_back_exactly(blob: bytes) -> None:
    assert unpack(pack(blob)) == blob


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_canonical_json_comes_back_exactly_and_never_grows(value: object) -> None:
    blob = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    stored = pack(blob)
    assert unpack(stored) == blob
    assert len(stored) <= len(blob)


def test_a_cell_without_the_marker_is_the_blob_itself() -> None:
    """Rows written before packing (canonical JSON never starts with the marker) read as stored."""
    assert unpack(NOTE) == NOTE and not is_packed(NOTE)
    assert unpack(b"") == b""


def test_a_typical_state_value_packs_to_under_half() -> None:
    stored = pack(NOTE)
    assert is_packed(stored) and stored[:1] == DEFLATE_V1
    assert len(stored) < len(NOTE) / 2, (len(stored), len(NOTE))


def test_a_blob_starting_with_the_marker_is_always_packed() -> None:
    assert is_packed(pack(DEFLATE_V1)) and unpack(pack(DEFLATE_V1)) == DEFLATE_V1


@pytest.mark.parametrize("damage", ["cut", "extra", "garbage"])
def test_a_damaged_packed_cell_is_an_error(damage: str) -> None:
    stored = pack(NOTE)
    bad = {"cut": stored[:-3], "extra": stored + b"\x00", "garbage": DEFLATE_V1 + b"\xff" * 8}
    with pytest.raises(BlobCodecError):
        unpack(bad[damage])


def test_the_dictionary_of_version_1_is_the_one_blobs_were_packed_with() -> None:
    """A changed dictionary would make every stored blob unreadable: it needs a new version."""
    assert len(DICTIONARY_V1) == 7930
    assert hashlib.sha256(DICTIONARY_V1).hexdigest() == (
        "c9f4b772d6f3be408eb5ca5898f5751471a251941c52cfe7253656f9366eb7ca")


GOLDEN = bytes.fromhex(  # NOTE as packed when codec version 1 was made: must read back forever
    "01c3d2c442f173522a65104f9819502fcc0c0c4c2260e1664021c01dee0606863e24843dc40388d0"
    "a782c3d0630f00")


def test_a_cell_packed_by_version_1_still_reads() -> None:
    assert unpack(GOLDEN) == NOTE
