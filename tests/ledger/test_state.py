"""ledger.state: each key version is decoded once, however the decoder is named."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ledger.execution import Overlay
from ledger.state import StateCache


class _Counted:
    """A record type whose classmethod decoder counts its calls."""

    calls = 0

    def __init__(self, value: Any) -> None:
        self.value = value

    @classmethod
    def from_json(cls, value: Any) -> _Counted:
        cls.calls += 1
        return cls(value)


def test_a_classmethod_decoder_decodes_a_key_once() -> None:
    """`Record.from_json` is a new bound method at every access; it still hits the cache."""
    state = StateCache([("k", b'{"a":1}', 3)])
    before = _Counted.calls
    first = state.decoded("k", _Counted.from_json)
    assert state.decoded("k", _Counted.from_json) is first
    assert _Counted.calls == before + 1 and state.cached("k") is first


def test_a_write_replaces_the_decoded_record_with_its_hint_or_drops_it() -> None:
    state = StateCache([("k", b'{"a":1}', 3), ("j", b'{"b":2}', 3)])
    state.decoded("k", _Counted.from_json)
    state.decoded("j", _Counted.from_json)
    hinted = _Counted({"a": 2})
    state.apply({"k": b'{"a":2}', "j": b'{"b":3}'}, 4, {"k": (_Counted.from_json, hinted)})
    assert state.decoded("k", _Counted.from_json) is hinted
    assert state.cached("j") is None and state.decoded("j", _Counted.from_json).value == {"b": 3}
    assert (state.version("k"), state.raw("j")) == (4, b'{"b":3}')


def test_another_decoder_gets_its_own_decoding() -> None:
    state = StateCache([("k", b'{"a":1}', 3)])
    record = state.decoded("k", _Counted.from_json)
    assert state.decoded("k", dict) == {"a": 1}
    assert state.decoded("k", _Counted.from_json) is not record  # decoded again: one form kept


def test_an_overlay_hint_is_found_again_whatever_bound_method_names_its_decoder() -> None:
    overlay = Overlay(StateCache())
    record = _Counted({"a": 1})
    overlay.put_raw("k", b'{"a":1}', hint=(_Counted.from_json, record))
    before = _Counted.calls
    assert overlay.decoded("k", _Counted.from_json) is record
    assert _Counted.calls == before


def test_the_state_lists_by_key_with_values_and_heights_in_step() -> None:
    state = StateCache([("b", b"2", 4), ("a", b"1", 3)])
    state.apply({"c": b"3", "a": None, "d": b"4"}, 7)
    assert state.columns_by_key() == (["b", "c", "d"], [b"2", b"3", b"4"], [4, 7, 7])
    assert list(zip(*state.columns_by_key(), strict=True)) == sorted(state.items())


_KEYS = st.sampled_from([f"k{i}" for i in range(8)])
_RAW = st.sampled_from([b"1", b"2", b'"x"', b"[]"])


@given(initial=st.dictionaries(_KEYS, _RAW), writes=st.dictionaries(_KEYS, st.none() | _RAW),
       hint_all=st.booleans(), hinted=st.sets(_KEYS))
def test_applying_writes_gives_what_one_write_at_a_time_would(
    initial: dict[str, bytes], writes: dict[str, bytes | None], hint_all: bool,
    hinted: set[str],
) -> None:
    """The whole-block shortcut (every write a record with its hint) changes nothing."""
    state = StateCache((k, v, 1) for k, v in initial.items())
    for key in initial:
        state.decoded(key, _Counted.from_json)
    hints = {k: (_Counted.from_json, _Counted(k)) for k in writes
             if hint_all or k in hinted}
    state.apply(writes, 2, hints)
    expected = {**initial, **writes}
    for key in {*initial, *writes}:
        value = expected[key]
        assert state.raw(key) == value
        assert state.version(key) == (2 if key in writes else 1)
        record = state.cached(key)
        if value is None or (key in writes and key not in hints):
            assert record is None
        elif key in hints:
            assert record is hints[key][1]
        else:
            assert record is not None and record.value == state.get(key)
