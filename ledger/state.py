"""The world state in memory: canonical bytes per key, with versions and decoded records.

The node keeps its committed state in one of these (warmed from its
database), and an auditor re-executing a chain keeps the state it rebuilds
in another, so both run the contracts over the same reader.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, cast

from ledger.canonical import JSONValue, parse_trusted
from ledger.execution import Decoder, Hint


class StateCache:
    """The world state in memory (canonical bytes per key, and the height of its last write)."""

    def __init__(self, items: Iterable[tuple[str, bytes, int]] = ()) -> None:
        self._data: dict[str, bytes] = {}
        self._versions: dict[str, int] = {}
        self._decoded: dict[str, Hint] = {}  # key -> (decoder, the record it decoded)
        for key, value, height in items:
            self._data[key] = value
            self._versions[key] = height

    def decoded(self, key: str, decoder: Decoder) -> Any:
        """Return `decoder(value)` for `key`, decoding each key version only once.

        Decoders build immutable records, so the cached object can be shared.
        A key holds one kind of record, so one decoded form is kept per key
        (another decoder's replaces it).
        """
        known = self._decoded.get(key)
        if known is not None and known[0] == decoder:  # == : a classmethod is bound anew
            return known[1]
        raw = self._data.get(key)
        if raw is None:
            return None
        value = decoder(parse_trusted(raw))
        self._decoded[key] = (decoder, value)
        return value

    def cached(self, key: str) -> Any:
        """Return a record already decoded from the current value at `key`, or None."""
        known = self._decoded.get(key)
        return None if known is None else known[1]

    def version(self, key: str) -> int:
        """Return the height at which `key` last changed (0 if never written)."""
        return self._versions.get(key, 0)

    def get(self, key: str) -> JSONValue | None:
        """Return the value at `key`, or None."""
        raw = self._data.get(key)
        return None if raw is None else parse_trusted(raw)

    def raw(self, key: str) -> bytes | None:
        """Return the canonical bytes at `key`, or None."""
        return self._data.get(key)

    def apply(
        self, writes: dict[str, bytes | None], height: int, hints: dict[str, Hint] | None = None
    ) -> None:
        """Apply block `height`'s writes (None deletes), keeping known decoded records."""
        known = hints or {}
        data, decoded = self._data, self._decoded
        self._versions.update(dict.fromkeys(writes, height))
        if known.keys() == writes.keys() and None not in writes.values():
            # The usual block: every write a record, each with its decoded form;
            # the loop below would do just this, one key at a time.
            data.update(cast(dict[str, bytes], writes))  # no None: checked just above
            decoded.update(known)
            return
        for key, raw in writes.items():
            if raw is None:
                data.pop(key, None)
                decoded.pop(key, None)
                continue
            data[key] = raw
            hint = known.get(key)
            if hint is None:
                decoded.pop(key, None)
            else:
                decoded[key] = hint

    def keys_with_prefix(self, prefix: str) -> list[str]:
        """Return the keys starting with `prefix` (for small registries like members)."""
        return [k for k in self._data if k.startswith(prefix)]

    def items(self) -> Iterator[tuple[str, bytes, int]]:
        """Yield every (key, canonical bytes, height of its last write)."""
        for key, raw in self._data.items():
            yield key, raw, self._versions.get(key, 0)

    def columns_by_key(self) -> tuple[list[str], list[bytes], list[int]]:
        """Return the keys sorted, their canonical bytes and the heights of their last write.

        As three lists, so that each is built in one pass (an auditor
        digests the whole state this way).
        """
        keys = sorted(self._data)
        versions = self._versions
        return keys, list(map(self._data.__getitem__, keys)), [versions.get(k, 0) for k in keys]

    def __len__(self) -> int:
        return len(self._data)
