"""ledger.bounded_state: a small cache over a store answers as the whole state in memory does."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.bounded_state import BoundedState
from ledger.execution import Hint
from ledger.state import StateCache


class DictStore:
    """A StateBacking over a dict, committed before the state applies a block (as a node does)."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[bytes, int]] = {}
        self.reads = 0

    def state_entry(self, key: str) -> tuple[bytes, int] | None:
        self.reads += 1
        return self.rows.get(key)

    def state_keys_with_prefix(self, prefix: str) -> list[str]:
        return sorted(k for k in self.rows if k.startswith(prefix))

    def commit(self, writes: dict[str, bytes | None], height: int) -> None:
        for key, raw in writes.items():
            if raw is None:
                self.rows.pop(key, None)
            else:
                self.rows[key] = (raw, height)


def _decode(value: Any) -> tuple[str, Any]:
    return ("decoded", value)


def _done(key: str, hint: Hint | None) -> bool:
    return hint is not None and hint[1] == ("decoded", {"done": True})


KEYS = [f"k/{i}" for i in range(12)]
VALUES = [None, b'{"a":1}', b'{"a":2}', b'{"done":true}']
BLOCK = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=6)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 8), st.lists(st.tuples(BLOCK, st.lists(st.sampled_from(KEYS))),
                                   max_size=12))
def test_bounded_state_answers_as_the_full_state(capacity: int, blocks: list[Any]) -> None:
    """Over random blocks and reads: the same values, records and versions as a StateCache.

    The one allowed difference: a deleted key forgotten by the cache reads
    as never written (version 0), where the full state remembers the height.
    """
    store, full = DictStore(), StateCache()
    state = BoundedState(store, capacity, cold=_done)
    for height, (writes, reads) in enumerate(blocks, start=1):
        hints = {k: (_decode, ("decoded", _json(v))) for k, v in writes.items() if v}
        store.commit(writes, height)
        state.apply(writes, height, hints)
        full.apply(writes, height, hints)
        for key in reads + KEYS:
            assert state.raw(key) == full.raw(key) and state.get(key) == full.get(key)
            assert state.decoded(key, _decode) == full.decoded(key, _decode)
            if full.raw(key) is None:
                assert state.version(key) in (0, full.version(key))
            else:
                assert state.version(key) == full.version(key)
        assert state.cached_keys() <= capacity


def _json(raw: bytes) -> Any:
    import json
    return json.loads(raw)


def test_finished_records_leave_the_cache_and_stay_readable() -> None:
    store = DictStore()
    state = BoundedState(store, 10, cold=_done)
    writes: dict[str, bytes | None] = {"k/1": b'{"done":true}', "k/2": b'{"a":1}'}
    store.commit(writes, 4)
    state.apply(writes, 4, {k: (_decode, ("decoded", _json(v))) for k, v in writes.items()
                            if v is not None})
    assert state.cached_keys() == 1
    assert state.get("k/1") == {"done": True} and state.version("k/1") == 4


def test_a_hit_does_not_ask_the_store_and_a_miss_asks_once() -> None:
    store = DictStore()
    store.commit({"k/1": b'{"a":1}'}, 2)
    state = BoundedState(store, 4)
    assert state.get("k/1") == {"a": 1} and state.version("k/1") == 2
    assert state.raw("k/9") is None and state.raw("k/9") is None
    assert store.reads == 2


def test_the_cache_needs_room_for_a_key() -> None:
    with pytest.raises(ValueError, match="at least 1 key"):
        BoundedState(DictStore(), 0)
