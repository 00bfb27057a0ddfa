"""Tests for ledger.merkle against RFC 9162 itself and the CT/transparency-dev vectors."""

from __future__ import annotations

import functools
import hashlib
import random
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.errors import LedgerError
from ledger.merkle import (
    EMPTY_ROOT,
    LEAF_PREFIX,
    NODE_PREFIX,
    MerkleLog,
    ProofError,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

# ---------------------------------------------------------------------------
# A literal, recursive reference implementation of RFC 9162 §2.1 over DATA.
# Ranges [lo, hi) index into DATA; m is relative to lo, as in the RFC text.
# ---------------------------------------------------------------------------

MAX_SIZE = 300
DATA = [b"entry-%d" % i for i in range(MAX_SIZE)]


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """The largest power of two strictly smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@functools.cache
def ref_mth(lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi])."""
    n = hi - lo
    if n == 0:
        return _sha256(b"")
    if n == 1:
        return _sha256(b"\x00" + DATA[lo])
    k = _k(n)
    return _sha256(b"\x01" + ref_mth(lo, lo + k) + ref_mth(lo + k, hi))


def ref_path(m: int, lo: int, hi: int) -> list[bytes]:
    """PATH(m, D[lo:hi])."""
    n = hi - lo
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*ref_path(m, lo, lo + k), ref_mth(lo + k, hi)]
    return [*ref_path(m - k, lo + k, hi), ref_mth(lo, lo + k)]


def ref_subproof(m: int, lo: int, hi: int, b: bool) -> list[bytes]:
    """SUBPROOF(m, D[lo:hi], b)."""
    n = hi - lo
    if m == n:
        return [] if b else [ref_mth(lo, hi)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, lo, lo + k, b), ref_mth(lo + k, hi)]
    return [*ref_subproof(m - k, lo + k, hi, False), ref_mth(lo, lo + k)]


def ref_proof(m: int, n: int) -> list[bytes]:
    """PROOF(m, D[n])."""
    return ref_subproof(m, 0, n, True)


LEAF_HASHES = [leaf_hash(d) for d in DATA]
LOG = MerkleLog()
LOG.extend(LEAF_HASHES)

# ---------------------------------------------------------------------------
# Known-answer vectors: transparency-dev/merkle testonly/constants.go and
# proof/verify_test.go (the same data as certificate-transparency-go).
# ---------------------------------------------------------------------------

VECTOR_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
VECTOR_ROOTS = [
    bytes.fromhex(h)
    for h in [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]
VECTOR_NODES = [
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]
# (index, size, proof); the Go vectors number leaves from 1, these from 0.
VECTOR_INCLUSION = [
    (0, 1, []),
    (0, 8, ["96a296d2", "5f083f0a", "6b47aaf2"]),
    (5, 8, ["bc1a0643", "ca854ea1", "d37ee418"]),
    (2, 3, ["fac54203"]),
    (1, 5, ["6e340b9c", "5f083f0a", "bc1a0643"]),
]
# (first, second, proof)
VECTOR_CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d2", "5f083f0a", "6b47aaf2"]),
    (6, 8, ["0ebc5d34", "ca854ea1", "d37ee418"]),
    (2, 5, ["5f083f0a", "bc1a0643"]),
    (6, 7, ["0ebc5d34", "b08693ec", "d37ee418"]),
]
_ALL_VECTOR_HASHES = {bytes.fromhex(h) for level in VECTOR_NODES for h in level}


def _vh(prefix: str) -> bytes:
    """Expand an 8-hex-digit prefix to the one full vector hash it names."""
    (match,) = [h for h in _ALL_VECTOR_HASHES if h.hex().startswith(prefix)]
    return match


def _vector_log() -> MerkleLog:
    log = MerkleLog()
    log.extend(leaf_hash(d) for d in VECTOR_LEAVES)
    return log


def test_prefixes_and_hash_functions() -> None:
    assert LEAF_PREFIX == b"\x00"
    assert NODE_PREFIX == b"\x01"
    assert leaf_hash(b"x") == _sha256(b"\x00x")
    assert node_hash(b"a" * 32, b"b" * 32) == _sha256(b"\x01" + b"a" * 32 + b"b" * 32)
    assert EMPTY_ROOT == VECTOR_ROOTS[0]
    assert issubclass(ProofError, LedgerError)


@pytest.mark.parametrize("size", range(9))
def test_known_roots(size: int) -> None:
    log = _vector_log()
    hashes = [leaf_hash(d) for d in VECTOR_LEAVES[:size]]
    assert log.root(size) == VECTOR_ROOTS[size]
    assert root_from_leaf_hashes(hashes) == VECTOR_ROOTS[size]


def test_known_perfect_subtrees() -> None:
    hashes = [leaf_hash(d) for d in VECTOR_LEAVES]
    for level, nodes in enumerate(VECTOR_NODES):
        width = 1 << level
        for i, expected in enumerate(nodes):
            chunk = hashes[i * width : (i + 1) * width]
            assert root_from_leaf_hashes(chunk).hex() == expected


@pytest.mark.parametrize(("index", "size", "prefixes"), VECTOR_INCLUSION)
def test_known_inclusion_proofs(index: int, size: int, prefixes: list[str]) -> None:
    expected = tuple(_vh(p) for p in prefixes)
    log = _vector_log()
    assert log.inclusion_proof(index, size) == expected
    verify_inclusion(log.leaf(index), index, size, expected, VECTOR_ROOTS[size])


@pytest.mark.parametrize(("first", "second", "prefixes"), VECTOR_CONSISTENCY)
def test_known_consistency_proofs(first: int, second: int, prefixes: list[str]) -> None:
    expected = tuple(_vh(p) for p in prefixes)
    assert _vector_log().consistency_proof(first, second) == expected
    verify_consistency(first, second, VECTOR_ROOTS[first], VECTOR_ROOTS[second], expected)


# --------------------------- cross-checks against the RFC reference ---------------------------


def test_roots_match_reference_for_every_size() -> None:
    log = MerkleLog()
    assert log.root() == ref_mth(0, 0)
    for size in range(1, MAX_SIZE + 1):
        assert log.append(LEAF_HASHES[size - 1]) == size - 1
        assert log.size == size
        assert log.root() == ref_mth(0, size)
    for size in range(MAX_SIZE + 1):
        assert LOG.root(size) == ref_mth(0, size)
        assert root_from_leaf_hashes(LEAF_HASHES[:size]) == ref_mth(0, size)


def _sampled(n: int, rng: random.Random) -> set[int]:
    """Pick the edge values and a few random ones from range(n)."""
    return {0, 1 % n, n // 2, n - 2 if n > 1 else 0, n - 1, *rng.sample(range(n), min(n, 4))}


def _check_inclusion(index: int, size: int) -> None:
    proof = LOG.inclusion_proof(index, size)
    assert list(proof) == ref_path(index, 0, size)
    verify_inclusion(LOG.leaf(index), index, size, proof, ref_mth(0, size))


def _check_consistency(first: int, second: int) -> None:
    proof = LOG.consistency_proof(first, second)
    assert list(proof) == ref_proof(first, second)
    verify_consistency(first, second, ref_mth(0, first), ref_mth(0, second), proof)


def test_inclusion_proofs_match_reference() -> None:
    rng = random.Random(9162)
    for size in range(1, MAX_SIZE + 1):
        indices = range(size) if size <= 64 else _sampled(size, rng)
        for index in indices:
            _check_inclusion(index, size)


def test_consistency_proofs_match_reference() -> None:
    rng = random.Random(6962)
    for second in range(1, MAX_SIZE + 1):
        firsts = range(1, second + 1) if second <= 64 else {f + 1 for f in _sampled(second, rng)}
        for first in firsts:
            _check_consistency(first, second)


# ------------------------------------- hypothesis --------------------------------------------

FAST = settings(max_examples=300, deadline=None)
sizes = st.integers(min_value=1, max_value=MAX_SIZE)
bits = st.integers(min_value=0, max_value=8 * 32 - 1)


def _flip(h: bytes, bit: int) -> bytes:
    b = bytearray(h)
    b[bit // 8] ^= 1 << (bit % 8)
    return bytes(b)


def _rejects(verifier: Callable[..., None], *args: object) -> None:
    with pytest.raises(ProofError):
        verifier(*args)


def _garbled(proof: Sequence[bytes], extra: bytes) -> list[list[bytes]]:
    """Truncated, extended and reordered variants of a proof (none equal to it)."""
    p = list(proof)
    out = [[*p, extra], [extra, *p], [*p, b""], [b"", *p]]
    if p:
        out += [p[:-1], p[1:], [*p, p[-1]], [p[0], *p]]
    if len(p) > 1 and p[0] != p[1]:
        out.append([p[1], p[0], *p[2:]])
    return out


@FAST
@given(st.data())
def test_inclusion_round_trip_and_tampering(data: st.DataObject) -> None:
    size = data.draw(sizes)
    index = data.draw(st.integers(0, size - 1))
    leaf, root, proof = LOG.leaf(index), LOG.root(size), LOG.inclusion_proof(index, size)
    verify_inclusion(leaf, index, size, proof, root)
    assert root_from_inclusion_proof(leaf, index, size, proof) == root
    bit = data.draw(bits)
    _rejects(verify_inclusion, _flip(leaf, bit), index, size, proof, root)
    _rejects(verify_inclusion, leaf, index, size, proof, _flip(root, bit))
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        bad = [*proof[:i], _flip(proof[i], bit), *proof[i + 1 :]]
        _rejects(verify_inclusion, leaf, index, size, bad, root)
    for garbled in _garbled(proof, root):
        _rejects(verify_inclusion, leaf, index, size, garbled, root)


@FAST
@given(st.data())
def test_inclusion_rejects_wrong_index_or_size(data: st.DataObject) -> None:
    size = data.draw(sizes)
    index = data.draw(st.integers(0, size - 1))
    leaf, root, proof = LOG.leaf(index), LOG.root(size), LOG.inclusion_proof(index, size)
    other = data.draw(st.integers(-1, size).filter(lambda i: i != index))
    _rejects(verify_inclusion, leaf, other, size, proof, root)
    for wrong in (size * 2, size // 2, index):
        _rejects(verify_inclusion, leaf, index, wrong, proof, root)
    # Claiming another size, even with that size's true root, fails too.
    if index + 1 < MAX_SIZE:
        x = data.draw(st.integers(index + 1, MAX_SIZE - 1))
        other_size = x + (x >= size)  # any size that still holds index, except size
        _rejects(verify_inclusion, leaf, index, other_size, proof, LOG.root(other_size))


@FAST
@given(st.data())
def test_consistency_round_trip_and_tampering(data: st.DataObject) -> None:
    second = data.draw(st.integers(2, MAX_SIZE))
    first = data.draw(st.integers(1, second - 1))
    r1, r2, proof = LOG.root(first), LOG.root(second), LOG.consistency_proof(first, second)
    verify_consistency(first, second, r1, r2, proof)
    bit = data.draw(bits)
    _rejects(verify_consistency, first, second, _flip(r1, bit), r2, proof)
    _rejects(verify_consistency, first, second, r1, _flip(r2, bit), proof)
    _rejects(verify_consistency, first, second, r2, r1, proof)
    i = data.draw(st.integers(0, len(proof) - 1))
    bad = [*proof[:i], _flip(proof[i], bit), *proof[i + 1 :]]
    _rejects(verify_consistency, first, second, r1, r2, bad)
    for garbled in [*_garbled(proof, r1), *_garbled(proof, r2), []]:
        _rejects(verify_consistency, first, second, r1, r2, garbled)


@FAST
@given(st.data())
def test_consistency_rejects_wrong_sizes(data: st.DataObject) -> None:
    second = data.draw(st.integers(2, MAX_SIZE))
    first = data.draw(st.integers(1, second - 1))
    r1, r2, proof = LOG.root(first), LOG.root(second), LOG.consistency_proof(first, second)
    for f in (first - 1, first + 1, first ^ 2, 0, second, second + 1):
        _rejects(verify_consistency, f, second, r1, r2, proof)
    for s in (second * 2, second // 2, first):
        _rejects(verify_consistency, first, s, r1, r2, proof)
    # Claiming another second size, even with that size's true root, fails too.
    if first + 1 < MAX_SIZE:
        x = data.draw(st.integers(first + 1, MAX_SIZE - 1))
        other = x + (x >= second)  # any size above first, except second
        _rejects(verify_consistency, first, other, r1, LOG.root(other), proof)


# ------------------------------------- edge cases --------------------------------------------


def test_empty_log() -> None:
    log = MerkleLog()
    assert log.size == 0
    assert log.root() == log.root(0) == EMPTY_ROOT == root_from_leaf_hashes([])
    assert log.consistency_proof(0, 0) == ()


def test_trivial_consistency() -> None:
    for n in (0, 1, 5, 8):
        assert LOG.consistency_proof(n, n) == ()
        verify_consistency(n, n, LOG.root(n), LOG.root(n), [])
    _rejects(verify_consistency, 3, 3, LOG.root(3), LOG.root(3), [LOG.root(3)])
    _rejects(verify_consistency, 3, 3, LOG.root(3), LOG.root(4), [])
    _rejects(verify_consistency, 0, 4, EMPTY_ROOT, LOG.root(4), [])
    _rejects(verify_consistency, 4, 3, LOG.root(4), LOG.root(3), [])
    _rejects(verify_consistency, -1, 3, LOG.root(3), LOG.root(3), [])


def test_mismatch_message_names_both_roots() -> None:
    proof = LOG.inclusion_proof(3, 10)
    wrong = LOG.root(11)
    with pytest.raises(ProofError) as excinfo:
        verify_inclusion(LOG.leaf(3), 3, 10, proof, wrong)
    assert wrong.hex() in str(excinfo.value)
    assert LOG.root(10).hex() in str(excinfo.value)


@pytest.mark.parametrize(
    ("verifier", "args", "message"),
    [
        (
            verify_inclusion,
            (LOG.leaf(0)[:31], 0, 2, [LOG.leaf(1)], LOG.root(2)),
            "leaf hash must be 32",
        ),
        (
            verify_inclusion,
            (LOG.leaf(0), 0, 2, [LOG.leaf(1)], LOG.root(2) + b"\0"),
            "root must be 32",
        ),
        (verify_inclusion, (LOG.leaf(0), 0, 2, [LOG.leaf(1)[:16]], LOG.root(2)), "proof\\[0\\]"),
        (verify_inclusion, (LOG.leaf(0), 0, 0, [], EMPTY_ROOT), "out of range"),
        (verify_inclusion, (LOG.leaf(0), -1, 2, [LOG.leaf(1)], LOG.root(2)), "out of range"),
        (verify_inclusion, (LOG.leaf(0), 0, 2, [LOG.leaf(1)] * 2, LOG.root(2)), "too long"),
        (verify_inclusion, (LOG.leaf(0), 0, 3, [LOG.leaf(1)], LOG.root(3)), "too short"),
        (verify_consistency, (1, 2, b"", LOG.root(2), [LOG.leaf(1)]), "first root"),
        (verify_consistency, (1, 2, LOG.root(1), LOG.root(2), [b"\0" * 31]), "proof\\[0\\]"),
        (verify_consistency, (1, 2, LOG.root(1), LOG.root(2), []), "empty"),
        (verify_consistency, (2, 1, LOG.root(2), LOG.root(1), []), "first <= second"),
        (verify_consistency, (0, 2, EMPTY_ROOT, LOG.root(2), []), "meaningless"),
        (verify_consistency, (1, 2, LOG.root(1), LOG.root(2), [LOG.leaf(1)] * 2), "too long"),
        (verify_consistency, (1, 3, LOG.root(1), LOG.root(3), [LOG.leaf(1)]), "too short"),
    ],
)
def test_verifier_failures_say_what_failed(
    verifier: Callable[..., None], args: tuple[object, ...], message: str
) -> None:
    with pytest.raises(ProofError, match=message):
        verifier(*args)


def test_single_leaf_tree() -> None:
    leaf = LOG.leaf(0)
    verify_inclusion(leaf, 0, 1, [], leaf)
    _rejects(verify_inclusion, leaf, 0, 1, [], EMPTY_ROOT)


@pytest.mark.parametrize(
    "call",
    [
        lambda log: log.leaf(-1),
        lambda log: log.leaf(10),
        lambda log: log.root(-1),
        lambda log: log.root(11),
        lambda log: log.inclusion_proof(10, 10),
        lambda log: log.inclusion_proof(-1, 10),
        lambda log: log.inclusion_proof(0, 11),
        lambda log: log.inclusion_proof(0, 0),
        lambda log: log.consistency_proof(0, 5),
        lambda log: log.consistency_proof(6, 5),
        lambda log: log.consistency_proof(-1, 5),
        lambda log: log.consistency_proof(5, 11),
        lambda log: log.append(b"short"),
    ],
)
def test_log_misuse_raises_value_error(call: Callable[[MerkleLog], object]) -> None:
    log = MerkleLog()
    log.extend(LEAF_HASHES[:10])
    with pytest.raises(ValueError):
        call(log)


def test_work_is_logarithmic(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    real = merkle.node_hash

    def counting(left: bytes, right: bytes) -> bytes:
        nonlocal calls
        calls += 1
        return real(left, right)

    monkeypatch.setattr(merkle, "node_hash", counting)
    log = MerkleLog()
    log.extend(LEAF_HASHES[:255] * 8)  # 2040 leaves
    assert calls == 2040 - bin(2040).count("1")
    assert sum(len(level) for level in log._levels) < 2 * 2040
    for op in (
        lambda: log.root(),
        lambda: log.root(1999),
        lambda: log.inclusion_proof(1000, 2039),
        lambda: log.consistency_proof(1001, 2039),
    ):
        calls = 0
        op()
        assert calls <= 2 * 11
