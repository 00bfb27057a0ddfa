"""RFC 9162 (Certificate Transparency v2) Merkle trees for the ledger.

A block commits to its transactions with `root_from_leaf_hashes` (its
tx_root), and a `MerkleLog` over the chain lets a node hand any client a short
proof that an entry is in the log (inclusion) or that today's log extends the
one the client saw before (consistency).  The verifiers are pure functions, so
auditors and SDK clients can check proofs without trusting the node.  Tree
shape, hashing and proof formats follow RFC 9162 §2.1 exactly, so proofs
interoperate with transparency-dev/merkle and certificate-transparency-go.

A root authenticates its tree size only through the signed checkpoint that
carries both: verifiers must take (size, root) pairs from one trusted
checkpoint, never a size from one place and a root from another.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from ledger.errors import ProofError as ProofError  # re-exported for verifier callers

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 9162 leaf hash SHA-256(0x00 || data)."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 interior hash SHA-256(0x01 || left || right)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """Compute the Merkle tree hash (RFC 9162 MTH) of a list of leaf hashes.

    Pairs neighbours level by level and carries an odd last node up unchanged,
    which yields exactly the RFC's left-perfect tree shape.
    """
    level = list(leaf_hashes)
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _split(n: int) -> int:
    """Return the largest power of two strictly less than `n` (requires n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_hash(value: bytes, what: str, error: type[Exception]) -> None:
    """Raise `error` unless `value` is a HASH_SIZE-byte bytes object."""
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise error(f"{what} must be {HASH_SIZE} bytes")


class SubtreeLog:
    """Roots and RFC 9162 proofs of an append-only log, from the hashes of its perfect subtrees.

    Subclasses say how many leaves there are (`size`) and where the hash of
    the perfect subtree of 2**k leaves starting at leaf i * 2**k comes from
    (`_subtree`): all in memory (MerkleLog), or a frontier and a store
    (ledger.compact_log).  Every root and proof is built from those hashes
    alone, so both give byte-identical answers.
    """

    @property
    def size(self) -> int:
        """Return the number of leaves in the log."""
        raise NotImplementedError

    def _subtree(self, level: int, index: int) -> bytes:
        """Return the hash of perfect subtree `index` of 2**level leaves (it lies within size)."""
        raise NotImplementedError

    def leaf(self, index: int) -> bytes:
        """Return the leaf hash at `index`. Requires 0 <= index < self.size."""
        if not 0 <= index < self.size:
            raise ValueError(f"leaf index {index} out of range for log size {self.size}")
        return self._subtree(0, index)

    def root(self, size: int | None = None) -> bytes:
        """Return the root of the first `size` leaves (default: all).

        Requires 0 <= size <= self.size; size 0 gives SHA-256 of the empty string.
        """
        size = self.size if size is None else size
        self._check_size(size)
        return EMPTY_ROOT if size == 0 else self._range_hash(0, size)

    def inclusion_proof(self, index: int, size: int) -> tuple[bytes, ...]:
        """Return the RFC 9162 inclusion path (PATH) for leaf `index` in the tree of `size`.

        Requires 0 <= index < size <= self.size.  Hashes are ordered from the
        leaf's sibling up to the child of the root.
        """
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} out of range for tree size {size}")
        path: list[bytes] = []
        lo, hi = 0, size
        while hi - lo > 1:
            mid = lo + _split(hi - lo)
            if index < mid:
                path.append(self._range_hash(mid, hi))
                hi = mid
            else:
                path.append(self._range_hash(lo, mid))
                lo = mid
        return tuple(reversed(path))

    def consistency_proof(self, first: int, second: int) -> tuple[bytes, ...]:
        """Return the RFC 9162 consistency proof (PROOF) from tree `first` to tree `second`.

        Requires 0 <= first <= second <= self.size.  When first == second the
        proof is empty (the roots must simply be equal), for any size including
        0.  A proof from the empty tree to a non-empty one is meaningless, so
        0 == first < second raises ValueError, as transparency-dev/merkle does.
        """
        self._check_size(second)
        if not 0 <= first <= second:
            raise ValueError(f"need 0 <= first <= second, got first={first} second={second}")
        if first == second:
            return ()
        if first == 0:
            raise ValueError("a consistency proof from the empty tree is meaningless")
        proof: list[bytes] = []
        lo, hi, complete = 0, second, True
        while first != hi:
            mid = lo + _split(hi - lo)
            if first <= mid:
                proof.append(self._range_hash(mid, hi))
                hi = mid
            else:
                proof.append(self._range_hash(lo, mid))
                lo, complete = mid, False
        if not complete:
            proof.append(self._range_hash(lo, hi))
        return tuple(reversed(proof))

    def _check_size(self, size: int) -> None:
        """Raise ValueError unless 0 <= size <= self.size."""
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} out of range for log size {self.size}")

    def _range_hash(self, lo: int, hi: int) -> bytes:
        """Return MTH of leaves [lo, hi) from stored perfect subtrees in O(log n).

        Requires lo < hi <= self.size and lo a multiple of the smallest power
        of two >= hi - lo, which holds for every range in the RFC recursion.
        """
        parts: list[bytes] = []
        while lo < hi:
            k = (hi - lo).bit_length() - 1
            parts.append(self._subtree(k, lo >> k))
            lo += 1 << k
        acc = parts.pop()
        while parts:
            acc = node_hash(parts.pop(), acc)
        return acc


class MerkleLog(SubtreeLog):
    """Keep an append-only, in-memory Merkle log with O(log n) roots and proofs.

    `_levels[k][i]` is the hash of the perfect subtree of 2**k leaves starting
    at leaf i * 2**k; level 0 holds the leaf hashes.  Appending fills in every
    perfect subtree the new leaf completes (amortised O(1) hashing), so the
    log stores about 2n hashes and never rehashes old leaves.  The auditor
    keeps one; a node keeps a CompactLog (ledger.compact_log) over its store.
    """

    def __init__(self) -> None:
        """Create an empty log."""
        self._levels: list[list[bytes]] = [[]]

    @property
    def size(self) -> int:
        """Return the number of leaves in the log."""
        return len(self._levels[0])

    def _subtree(self, level: int, index: int) -> bytes:
        return self._levels[level][index]

    def append(self, leaf_hash: bytes) -> int:
        """Append one leaf hash (32 bytes) and return its index."""
        _check_hash(leaf_hash, "leaf hash", ValueError)
        index = self.size
        self._levels[0].append(leaf_hash)
        level, i, node = 0, index, leaf_hash
        while i % 2 == 1:
            node = node_hash(self._levels[level][i - 1], node)
            level, i = level + 1, i // 2
            if level == len(self._levels):
                self._levels.append([])
            self._levels[level].append(node)
        return index

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append each leaf hash in order."""
        for h in leaf_hashes:
            self.append(h)


def _mismatch(what: str, expected: bytes, computed: bytes) -> ProofError:
    """Build the ProofError for a root that does not match."""
    return ProofError(f"{what} mismatch: expected {expected.hex()}, computed {computed.hex()}")


def _check_proof_hashes(proof: Sequence[bytes]) -> None:
    """Raise ProofError unless every proof element is a 32-byte hash."""
    for i, h in enumerate(proof):
        _check_hash(h, f"proof[{i}]", ProofError)


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """Compute the root implied by an inclusion proof (RFC 9162 §2.1.3.2, steps 1-4).

    Requires 0 <= index < size; raises ProofError if not, if any hash is not
    32 bytes, or if the proof has the wrong length for (index, size).
    """
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} out of range for tree size {size}")
    _check_hash(leaf_hash, "leaf hash", ProofError)
    _check_proof_hashes(proof)
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofError(f"inclusion proof too long for index {index} in size {size}")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError(f"inclusion proof too short for index {index} in size {size}")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that `leaf_hash` is leaf `index` of the tree of `size` with `root`.

    Returns None on success and raises ProofError on any failure.
    """
    _check_hash(root, "root", ProofError)
    computed = root_from_inclusion_proof(leaf_hash, index, size, proof)
    if computed != root:
        raise _mismatch("inclusion proof root", root, computed)


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of `second` with `second_root` extends the one of `first`.

    Follows RFC 9162 §2.1.4.2.  first == second succeeds only with an empty
    proof and equal roots; 0 == first < second is rejected as meaningless.
    Returns None on success and raises ProofError on any failure.
    """
    _check_hash(first_root, "first root", ProofError)
    _check_hash(second_root, "second root", ProofError)
    _check_proof_hashes(proof)
    if not 0 <= first <= second:
        raise ProofError(f"need 0 <= first <= second, got first={first} second={second}")
    if first == second:
        if proof:
            raise ProofError("consistency proof between equal sizes must be empty")
        if first_root != second_root:
            raise _mismatch("root for equal sizes", first_root, second_root)
        return
    if first == 0:
        raise ProofError("a consistency proof from the empty tree is meaningless")
    fr, sr = _roots_from_consistency_path(first, second, first_root, proof)
    if fr != first_root:
        raise _mismatch("first root", first_root, fr)
    if sr != second_root:
        raise _mismatch("second root", second_root, sr)


def _roots_from_consistency_path(
    first: int, second: int, first_root: bytes, proof: Sequence[bytes]
) -> tuple[bytes, bytes]:
    """Recompute (first root, second root) from a proof, RFC 9162 §2.1.4.2 steps 1-6.

    Requires 0 < first < second; raises ProofError if the proof has the wrong length.
    """
    if not proof:
        raise ProofError("consistency proof is empty")
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(f"consistency proof too long for sizes {first} -> {second}")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError(f"consistency proof too short for sizes {first} -> {second}")
    return fr, sr
