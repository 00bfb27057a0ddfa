"""The global transaction log without every leaf in memory: a frontier over a store.

A node's MerkleLog would hold two hashes per transaction forever.  Roots and
proofs only ever need hashes of perfect subtrees (ledger.merkle.SubtreeLog),
so a `CompactLog` keeps in memory just the frontier (the perfect subtrees
whose sizes add up to the log's size: at most one per bit, enough to append
and to give the current root) and a bounded cache of other subtree hashes,
and reads the rest from a `LeafReader`: the node's database, which keeps
every leaf hash with its transaction and every perfect subtree of
2**STORED_LEVEL leaves or more (a few hundred bytes per thousand leaves).
A subtree below that level is hashed again from its leaves, at most
2**STORED_LEVEL of them, read in one range.

Appending is split in two so that the store can write a block's new
subtrees in the block's own database transaction: `extension` computes them
without changing anything, and `adopt` moves the log on once they are
committed.  Starting over a store of any length reads one subtree per bit
of its size.  Results are byte-identical to MerkleLog's.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ledger.bounded_state import Guard, Unguarded
from ledger.merkle import SubtreeLog, node_hash, root_from_leaf_hashes

STORED_LEVEL = 8  # the store keeps every perfect subtree of 256 leaves or more
SUBTREE_CACHE = 4096  # subtree hashes kept in memory besides the frontier

Node = tuple[int, int, bytes]  # (level, index at that level, hash)


class LeafReader(Protocol):
    """Where a log's leaves and larger perfect subtrees are kept."""

    def leaf_hashes(self, start: int, end: int) -> Sequence[bytes]:
        """Return the leaf hashes at log indexes start..end-1, in order."""

    def subtree_hash(self, level: int, index: int) -> bytes | None:
        """Return the stored hash of perfect subtree `index` of 2**level leaves, or None."""


@dataclass(frozen=True)
class Extension:
    """A log after some appends: its size, its frontier, and the subtrees to store."""

    size: int
    frontier: tuple[Node, ...]  # largest first
    subtrees: tuple[Node, ...]  # completed, of the stored level or above, in order


class CompactLog(SubtreeLog):
    """An append-only RFC 9162 log whose hashes live in a LeafReader, with O(log n) in memory."""

    def __init__(self, reader: LeafReader, size: int, *, stored_level: int = STORED_LEVEL,
                 cache_size: int = SUBTREE_CACHE, lock: Guard | None = None) -> None:
        """Open the log of `size` leaves kept by `reader` (reads one subtree per bit of size).

        The reader keeps every perfect subtree of 2**stored_level leaves or
        more; `lock` guards the subtree cache if several threads ask for
        proofs (default: one thread only).  Raises LookupError if the reader
        lacks a subtree or leaf the log needs.
        """
        if size < 0 or stored_level < 1:
            raise ValueError(f"need a log size >= 0 and a stored level >= 1, got {size} and "
                             f"{stored_level}")
        self._reader = reader
        self._level = stored_level
        self._cache: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self._cache_size = cache_size
        self._lock: Guard = lock if lock is not None else Unguarded()
        self._leaf_block: tuple[int, tuple[bytes, ...]] = (-1, ())
        self._size = size
        self._frontier: tuple[Node, ...] = ()
        self._frontier = tuple(
            (level, index, self._subtree(level, index)) for level, index in _decompose(size))

    @property
    def size(self) -> int:
        """Return the number of leaves in the log."""
        return self._size

    def extension(self, leaf_hashes: Sequence[bytes]) -> Extension:
        """Return the log after appending `leaf_hashes`, changing nothing.

        Each new leaf merges with the frontier's equal-sized subtrees, as a
        binary counter carries; those completed at STORED_LEVEL or above
        are to be stored.
        """
        stack = list(self._frontier)
        size = self._size
        completed: list[Node] = []
        for leaf in leaf_hashes:
            level, index, value = 0, size, leaf
            size += 1
            while stack and stack[-1][0] == level:
                left = stack.pop()
                level, index, value = level + 1, left[1] >> 1, node_hash(left[2], value)
                if level >= self._level:
                    completed.append((level, index, value))
            stack.append((level, index, value))
        return Extension(size, tuple(stack), tuple(completed))

    def adopt(self, extension: Extension) -> None:
        """Move the log on to `extension` (its subtrees now stored); it must extend this log."""
        if extension.size < self._size:
            raise ValueError(f"an extension to {extension.size} leaves does not extend "
                             f"a log of {self._size}")
        with self._lock:
            for level, index, value in extension.subtrees:
                self._remember((level, index), value)
            self._frontier = extension.frontier
            self._size = extension.size

    def _subtree(self, level: int, index: int) -> bytes:
        for f_level, f_index, value in self._frontier:
            if (f_level, f_index) == (level, index):
                return value
        if level >= self._level:
            return self._stored(level, index)
        start = index << level
        return root_from_leaf_hashes(self._leaves(start, start + (1 << level)))

    def _stored(self, level: int, index: int) -> bytes:
        """Return a stored subtree hash, through the cache."""
        with self._lock:
            value = self._cache.get((level, index))
            if value is not None:
                self._cache.move_to_end((level, index))
                return value
        value = self._reader.subtree_hash(level, index)
        if value is None:
            raise LookupError(f"the store lacks the log's subtree {index} at level {level}")
        with self._lock:
            self._remember((level, index), value)
        return value

    def _remember(self, key: tuple[int, int], value: bytes) -> None:
        """Cache a subtree hash, forgetting the least recently used; the caller holds the lock."""
        self._cache[key] = value
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _leaves(self, start: int, end: int) -> tuple[bytes, ...]:
        """Return leaves start..end-1 (within one block of 2**stored_level), reading it once.

        A proof asks for several small subtrees of the same block; the
        block last read is kept (leaves never change, so a shorter, older
        read of a block still answers ranges inside it).
        """
        block = start >> self._level
        first = block << self._level
        known_block, known = self._leaf_block
        if known_block != block or first + len(known) < end:
            known = tuple(self._reader.leaf_hashes(first, min(first + (1 << self._level),
                                                              self._size)))
            if first + len(known) < end:
                raise LookupError(f"the store lacks log leaves {first + len(known)}..{end - 1}")
            self._leaf_block = (block, known)
        return known[start - first:end - first]


def _decompose(size: int) -> list[tuple[int, int]]:
    """Return (level, index) of each perfect subtree in the frontier of `size`, largest first."""
    parts, start = [], 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            parts.append((level, start >> level))
            start += 1 << level
    return parts
