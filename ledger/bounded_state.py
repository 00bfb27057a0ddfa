"""The world state over a durable store, with a bounded in-memory cache of its working set.

A node that ran for years holds millions of state keys, nearly all of them
settled history that no transaction will read again; keeping them all in
memory (ledger.state.StateCache) makes a node's memory and start-up grow
with its chain.  `BoundedState` answers the same reads as a StateCache but
keeps only the most recently used keys, and asks a `StateBacking` (the
node's database, which already holds every committed value) for the rest.
The backing is injected, so this module does no I/O itself.

It gives the same answers as a full StateCache of the same writes: a value
and its version (the height of its last write) are the store's; a key
deleted while in the cache keeps the deleting height as its version until
it is evicted, then reads as never written (version 0).  A simulation whose
reads saw version 0 for an absent key and finds 0 again saw the same value
(none), so its result stands either way.

Thread safety: the node's committer, its admission (simulating under the
chain's lock) and its query threads read at once, so every access to the
cache holds one lock, and a miss reads the backing under it: a write
applied after a block's commit can then never be overtaken by an older
value fetched before that commit.  The lock is injected (a `Guard`: the
node passes a threading.Lock), as ledger/ stays free of threads.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from ledger.canonical import JSONValue, parse_trusted
from ledger.execution import Decoder, Hint

MIN_CAPACITY = 1


class Guard(Protocol):
    """A lock: held by `with`, by one thread at a time (threading.Lock is one)."""

    def __enter__(self) -> Any:
        """Wait for and take the lock."""

    def __exit__(self, kind: Any, value: Any, traceback: Any, /) -> Any:
        """Release the lock."""


class Unguarded:
    """A Guard for a reader used by one thread only (tests, tools): it guards nothing."""

    def __enter__(self) -> None:
        """Do nothing."""

    def __exit__(self, kind: Any, value: Any, traceback: Any, /) -> None:
        """Do nothing."""


class StateBacking(Protocol):
    """Where the committed world state lives: every key's canonical bytes and version."""

    def state_entry(self, key: str) -> tuple[bytes, int] | None:
        """Return (canonical bytes, height of the last write) of `key`, or None if absent."""

    def state_keys_with_prefix(self, prefix: str) -> list[str]:
        """Return every present key starting with `prefix`, sorted."""


Cold = Callable[[str, Hint | None], bool]


def never_cold(_key: str, _hint: Hint | None) -> bool:
    """Keep every written key hot (the default when no rule says which records are done with)."""
    return False


class BoundedState:
    """The committed world state: a least-recently-used cache of keys over a StateBacking.

    `cold(key, hint)` tells, for a write, whether the record is finished
    with (a spent or settled note): such a write leaves the cache at once,
    and its value is read from the backing if it is ever asked for again.
    """

    def __init__(self, backing: StateBacking, capacity: int, cold: Cold = never_cold,
                 lock: Guard | None = None) -> None:
        """Create the state over `backing`, keeping at most `capacity` keys (>= 1) in memory.

        `lock` guards the cache if several threads read it (default: one thread only).
        """
        if capacity < MIN_CAPACITY:
            raise ValueError(f"a state cache needs room for at least {MIN_CAPACITY} key")
        self._backing = backing
        self._capacity = capacity
        self._cold = cold
        self._entries: OrderedDict[str, tuple[bytes | None, int]] = OrderedDict()
        self._decoded: dict[str, Hint] = {}
        self._lock: Guard = lock if lock is not None else Unguarded()

    @property
    def capacity(self) -> int:
        """Return how many keys the cache keeps at most."""
        return self._capacity

    def cached_keys(self) -> int:
        """Return how many keys the cache holds now."""
        return len(self._entries)

    def _entry(self, key: str) -> tuple[bytes | None, int]:
        """Return (bytes or None, version) of `key`; the caller holds the lock."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            return entry
        stored = self._backing.state_entry(key)
        entry = (None, 0) if stored is None else stored
        self._entries[key] = entry
        self._evict()
        return entry

    def _evict(self) -> None:
        """Drop the least recently used keys beyond capacity; the caller holds the lock."""
        while len(self._entries) > self._capacity:
            key, _ = self._entries.popitem(last=False)
            self._decoded.pop(key, None)

    def decoded(self, key: str, decoder: Decoder) -> Any:
        """Return `decoder(value)` for `key`, decoding each cached key version only once."""
        with self._lock:
            raw = self._entry(key)[0]
            known = self._decoded.get(key)
            if known is not None and known[0] == decoder:  # == : a classmethod is bound anew
                return known[1]
            if raw is None:
                return None
            value = decoder(parse_trusted(raw))
            if key in self._entries:
                self._decoded[key] = (decoder, value)
            return value

    def cached(self, key: str) -> Any:
        """Return a record already decoded from the current value at `key`, or None."""
        with self._lock:
            known = self._decoded.get(key)
        return None if known is None else known[1]

    def version(self, key: str) -> int:
        """Return the height at which `key` last changed (0 if never written)."""
        with self._lock:
            return self._entry(key)[1]

    def get(self, key: str) -> JSONValue | None:
        """Return the value at `key`, or None."""
        raw = self.raw(key)
        return None if raw is None else parse_trusted(raw)

    def raw(self, key: str) -> bytes | None:
        """Return the canonical bytes at `key`, or None."""
        with self._lock:
            return self._entry(key)[0]

    def apply(
        self, writes: dict[str, bytes | None], height: int, hints: dict[str, Hint] | None = None
    ) -> None:
        """Apply block `height`'s writes (None deletes), already committed to the backing.

        Finished records (`cold`) leave the cache; the others become its
        most recently used keys, with their decoded records if known.
        """
        known = hints or {}
        with self._lock:
            entries, decoded = self._entries, self._decoded
            for key, raw in writes.items():
                hint = known.get(key)
                if raw is not None and self._cold(key, hint):
                    entries.pop(key, None)
                    decoded.pop(key, None)
                    continue
                entries[key] = (raw, height)
                entries.move_to_end(key)
                if hint is None or raw is None:
                    decoded.pop(key, None)
                else:
                    decoded[key] = hint
            self._evict()

    def keys_with_prefix(self, prefix: str) -> list[str]:
        """Return the keys starting with `prefix` (for small registries like members)."""
        return self._backing.state_keys_with_prefix(prefix)
