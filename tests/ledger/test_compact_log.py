"""ledger.compact_log: a frontier over stored subtrees gives MerkleLog's roots and proofs."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.compact_log import CompactLog, Extension
from ledger.merkle import MerkleLog, leaf_hash, verify_consistency, verify_inclusion
from tests.ledger.test_merkle import VECTOR_CONSISTENCY, VECTOR_INCLUSION, VECTOR_LEAVES, _vh


class DictLeaves:
    """A LeafReader over dicts, written the way a node's store writes a block."""

    def __init__(self) -> None:
        self.leaves: list[bytes] = []
        self.subtrees: dict[tuple[int, int], bytes] = {}
        self.leaf_reads = 0

    def leaf_hashes(self, start: int, end: int) -> Sequence[bytes]:
        self.leaf_reads += 1
        return self.leaves[start:end]

    def subtree_hash(self, level: int, index: int) -> bytes | None:
        return self.subtrees.get((level, index))

    def commit(self, leaves: Sequence[bytes], extension: Extension) -> None:
        self.leaves.extend(leaves)
        self.subtrees.update({(lv, i): h for lv, i, h in extension.subtrees})


def _append(log: CompactLog, store: DictLeaves, leaves: Sequence[bytes]) -> None:
    extension = log.extension(leaves)
    store.commit(leaves, extension)
    log.adopt(extension)


def _vector_logs(stored_level: int) -> tuple[CompactLog, DictLeaves]:
    store = DictLeaves()
    log = CompactLog(store, 0, stored_level=stored_level)
    _append(log, store, [leaf_hash(d) for d in VECTOR_LEAVES])
    return log, store


@pytest.mark.parametrize("stored_level", [1, 2, 3, 8])
def test_known_proofs(stored_level: int) -> None:
    """The RFC 9162 known-answer vectors, whichever subtrees come from the store."""
    log, store = _vector_logs(stored_level)
    reopened = CompactLog(store, len(VECTOR_LEAVES), stored_level=stored_level)
    for each in (log, reopened):
        for index, size, prefixes in VECTOR_INCLUSION:
            assert each.inclusion_proof(index, size) == tuple(_vh(p) for p in prefixes)
        for first, second, prefixes in VECTOR_CONSISTENCY:
            assert each.consistency_proof(first, second) == tuple(_vh(p) for p in prefixes)


def test_only_subtrees_at_the_stored_level_or_above_are_stored() -> None:
    store = DictLeaves()
    log = CompactLog(store, 0, stored_level=2)
    _append(log, store, [leaf_hash(bytes([i])) for i in range(11)])
    assert sorted(store.subtrees) == [(2, 0), (2, 1), (3, 0)]
    assert len(log._frontier) == 3  # 8 + 2 + 1 leaves


def test_an_extension_changes_nothing_until_adopted() -> None:
    store = DictLeaves()
    log = CompactLog(store, 0, stored_level=1)
    root = log.root()
    extension = log.extension([leaf_hash(b"a"), leaf_hash(b"b")])
    assert (log.size, log.root()) == (0, root)
    assert extension.size == 2 and extension.subtrees[0][:2] == (1, 0)


def test_a_store_without_a_needed_subtree_is_refused() -> None:
    _log, store = _vector_logs(2)
    del store.subtrees[(3, 0)]
    with pytest.raises(LookupError, match="subtree 0 at level 3"):
        CompactLog(store, 8, stored_level=2)


def test_the_stored_level_must_be_positive() -> None:
    with pytest.raises(ValueError, match="stored level >= 1"):
        CompactLog(DictLeaves(), 0, stored_level=0)


def test_a_proof_reads_each_block_of_leaves_once() -> None:
    """Every subtree below the stored level in a proof lies in one block: one read."""
    store = DictLeaves()
    log = CompactLog(store, 0, stored_level=4)
    _append(log, store, [leaf_hash(i.to_bytes(4, "big")) for i in range(1000)])
    reopened = CompactLog(store, 1000, stored_level=4)
    before = store.leaf_reads
    reopened.inclusion_proof(517, 1000)
    assert store.leaf_reads - before == 1


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.lists(st.integers(0, 40), min_size=1, max_size=8), st.data())
def test_roots_and_proofs_match_merkle_log(stored_level: int, batches: list[int],
                                           data: st.DataObject) -> None:
    """Appended in blocks, reopened after any block: always MerkleLog's roots and proofs."""
    store, full = DictLeaves(), MerkleLog()
    log = CompactLog(store, 0, stored_level=stored_level)
    for count in batches:
        leaves = [leaf_hash(f"{full.size}-{i}".encode()) for i in range(count)]
        _append(log, store, leaves)
        full.extend(leaves)
        if data.draw(st.booleans()):
            log = CompactLog(store, full.size, stored_level=stored_level)
        assert log.size == full.size and log.root() == full.root()
    if full.size == 0:
        return
    size = data.draw(st.integers(1, full.size))
    index = data.draw(st.integers(0, size - 1))
    first = data.draw(st.integers(1, size))
    proof = log.inclusion_proof(index, size)
    assert proof == full.inclusion_proof(index, size)
    verify_inclusion(full.leaf(index), index, size, proof, full.root(size))
    assert log.leaf(index) == full.leaf(index)
    consistency = log.consistency_proof(first, size)
    assert consistency == full.consistency_proof(first, size)
    verify_consistency(first, size, full.root(first), full.root(size), consistency)
