"""A digest of the whole world state, kept up to date block by block at a constant cost.

A snapshot of the state is only worth cosigning if every node, and an
auditor replaying from genesis, can name it by one short value without
hashing the whole state at each block.  So the digest is a multiset hash
over the state's (key, value) elements: adding or removing one element
costs a constant amount of work, and the result does not depend on the
order the elements arrived in.

The multiset hash is MuHash3072, exactly as Bitcoin Core computes its
UTXO-set hash (`src/crypto/muhash.cpp`, in `gettxoutsetinfo`), chosen over
LtHash (Facebook's lattice hash) because:
- its security rests on the discrete logarithm in a 3072-bit prime field
  (about 128 bits), well studied, while LtHash's parameter choices were
  revised after publication;
- Bitcoin Core publishes known answers for it, which this module
  reproduces (tests/ledger/test_state_digest.py), so any other
  implementation (an auditor in another language) can be checked against
  an independent one;
- in Python the state is two integers below 2^3072 and each update is one
  big-integer multiplication modulo the prime (no vector of lanes).

Each element is a number: SHA-256 of its bytes, expanded to 384 bytes by
ChaCha20 (ledger.crypto.chacha20_keystream), read little-endian.  The
multiset is the product of its elements modulo P = 2^3072 - 1103717; adding
multiplies the numerator, removing multiplies the denominator, so a removal
costs no inversion until the digest is taken.  The digest is the SHA-256
of the normalised product (numerator / denominator mod P, 384 bytes
little-endian), as Bitcoin's `Finalize`.

Our element is ELEMENT_TAG, the key's UTF-8 length (4 bytes big-endian),
the key, then the value's canonical bytes (docs/FORMATS.md): the tag keeps
these numbers apart from any other use of the same hash, the length makes
the key's end unambiguous (a value is whatever follows).  The height of a
key's last write is left out: the digest names the state contracts read,
so two histories reaching the same state give the same digest, and a value
rewritten unchanged changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import gmpy2

from ledger.crypto import chacha20_keystream, sha256

PRIME = 2**3072 - 1103717
NUMBER_SIZE = 384  # bytes of a number below 2^3072
DIGEST_SIZE = 32
ELEMENT_TAG = b"receivables-ledger/v1/state-element\n"
ALGORITHM = "muhash3072-sha256/v1"  # the name the API and the chain file give this digest
_PRIME = gmpy2.mpz(PRIME)


def _mulmod(a: int, b: int) -> int:
    """Return a * b mod P, by GMP: about a quarter of the time CPython's integers take."""
    return int(gmpy2.mpz(a) * b % _PRIME)


def element_bytes(key: str, value: bytes) -> bytes:
    """Return the bytes that stand for the state entry `key` = `value` (canonical bytes)."""
    raw_key = key.encode("utf-8")
    return ELEMENT_TAG + len(raw_key).to_bytes(4, "big") + raw_key + value


def element_number(data: bytes) -> int:
    """Return MuHash3072's number for the element `data` (Bitcoin Core's `ToNum3072`)."""
    return int.from_bytes(chacha20_keystream(sha256(data), NUMBER_SIZE), "little")


@dataclass(frozen=True)
class StateDigest:
    """A multiset of state entries as MuHash3072's numerator and denominator (immutable).

    Two digests are equal as multisets when their `digest()` is; compare
    those, not the fields (the same multiset has many fractions).
    """

    numerator: int = 1
    denominator: int = 1

    @classmethod
    def of(cls, items: Iterable[tuple[str, bytes]]) -> StateDigest:
        """Return the digest of a whole state given as (key, canonical bytes) pairs."""
        product = gmpy2.mpz(1)  # kept in GMP's form from one element to the next
        for key, value in items:
            product = product * element_number(element_bytes(key, value)) % _PRIME
        return cls(int(product), 1)

    def union(self, other: StateDigest) -> StateDigest:
        """Return the digest of both multisets together (parts of a state digested apart)."""
        return StateDigest(_mulmod(self.numerator % PRIME, other.numerator % PRIME),
                           _mulmod(self.denominator % PRIME, other.denominator % PRIME))

    @classmethod
    def from_accumulator(cls, data: bytes) -> StateDigest:
        """Return the digest kept as `accumulator()` bytes; raise ValueError if not 384 bytes."""
        if len(data) != NUMBER_SIZE:
            raise ValueError(f"a state accumulator is {NUMBER_SIZE} bytes, not {len(data)}")
        return cls(int.from_bytes(data, "little") % PRIME, 1)

    def after(self, writes: Mapping[str, bytes | None],
              old: Callable[[str], bytes | None]) -> StateDigest:
        """Return the digest once a block's `writes` (None deletes) replace the values `old` gives.

        `old(key)` is the key's canonical bytes before the block (None if
        absent); an unchanged value costs nothing.
        """
        added, removed = self.numerator, self.denominator
        for key, value in writes.items():
            previous = old(key)
            if previous == value:
                continue
            if previous is not None:
                removed = _mulmod(removed, element_number(element_bytes(key, previous)))
            if value is not None:
                added = _mulmod(added, element_number(element_bytes(key, value)))
        return StateDigest(added, removed)

    def normalized(self) -> StateDigest:
        """Return the same multiset reduced, over 1 (one modular inversion, unless over 1)."""
        if self.denominator == 1:
            return self if self.numerator < PRIME else StateDigest(self.numerator % PRIME, 1)
        return StateDigest(self.numerator * pow(self.denominator, -1, PRIME) % PRIME, 1)

    def accumulator(self) -> bytes:
        """Return the normalised product, 384 bytes little-endian: what a node keeps at its head."""
        return self.normalized().numerator.to_bytes(NUMBER_SIZE, "little")

    def digest(self) -> bytes:
        """Return the 32-byte digest: SHA-256 of `accumulator()` (Bitcoin's `Finalize`)."""
        return sha256(self.accumulator())


def normalized_all(digests: Sequence[StateDigest]) -> list[StateDigest]:
    """Return each of `digests` normalised, with one modular inversion for all of them.

    Montgomery's trick: invert the product of the denominators once, then
    peel each one's inverse off with two products; for an auditor that
    needs every block's digest, this costs a few products per block
    instead of an inversion.
    """
    prefix = [1]
    for d in digests:
        prefix.append(_mulmod(prefix[-1], d.denominator % PRIME))
    inverse = pow(prefix[-1], -1, PRIME)
    out: list[StateDigest] = [StateDigest()] * len(digests)
    for i in range(len(digests) - 1, -1, -1):
        d = digests[i]
        out[i] = StateDigest(_mulmod(d.numerator % PRIME, _mulmod(inverse, prefix[i])), 1)
        inverse = _mulmod(inverse, d.denominator % PRIME)
    return out
