"""ledger.state_digest: Bitcoin Core's MuHash3072 known answers, our element's, and the algebra."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.state_digest import (
    NUMBER_SIZE,
    PRIME,
    StateDigest,
    _mulmod,
    element_bytes,
    element_number,
    normalized_all,
)

# Bitcoin Core, src/test/crypto_tests.cpp, BOOST_AUTO_TEST_CASE(muhash_tests).
# `uint256S("...")` literals print a digest byte-reversed ("display order").
CORE_0_TIMES_1_OVER_2 = "10d312b100cbd32ada024a6646e40d3482fcff103668d2625f10002a607d5863"
# `ser_exp`: FromInt(1) * FromInt(2) serialised as numerator || denominator,
# each 384 bytes little-endian; the numerator here, the denominator is 1.
CORE_1_TIMES_2_NUMERATOR = "".join([
    "1fa093295ea30a6a3acdc7b3f770fa538eff537528e990e2910e40bbcfd7f6696b1256901929094694b56316de342f593303",
    "dd12ac43e06dce1be1ff8301c845beb15468fff0ef002dbf80c29f26e6452bccc91b5cb9437ad410d2a67ea847887fa3c6",
    "a6553309946880fe20db2c73fe0641adbd4e86edfee0d9f8cd0ee1230898873dc13ed8ddcaf045c80faa082774279007a2",
    "253f8922ee3ef361d378a6af3ddaf180b190ac97e556888c36b3d1fb1c85aab9ccd46e3deaeb7b7cf5db067a7e9ff86b65",
    "8cf3acd6662bbcce37232daa753c48b794356c020090c831a8304416e2aa7ad633c0ddb2f11be1be316a81be7f7e472071",
    "c042cb68faef549c221ebff209273638b741aba5a81675c45a5fa92fea4ca821d7a324cb1e1a2ccd3b76c4228ec8066dad",
    "2a5df6e1bd0de45c7dd5de8070bdb46db6c554cf9aefc9b7b2bbf9f75b1864d9f95005314593905c0109b71f703d49944a",
    "e94477b51dac10a816bb6d1c700bafabc8bd86fac8df24be519a2f2836b16392e18036cb13e48c5c",
])
# The overflow case: a numerator of 384 0xff bytes (above P), denominator 1.
CORE_OVERFLOW = "3a31e6903aff0de9f62f9a9f7f8b861de76ce2cda09822b90014319ae5dc2271"

# Ours (docs/FORMATS.md): the empty state is Bitcoin's empty MuHash; then two entries.
EMPTY_STATE = "c85525462fdcf30a2c18d6f4b92923000974355c2477f59594d2c205a1d25add"
TWO_ENTRIES = [("member/91350200MA2XYZ0001", b'{"name":"a"}'), ("note/00ff", b'{"amount":100}')]
TWO_ENTRIES_DIGEST = "6548fe8d75480a0e44cfa5dcf6993dcf208fb114977d6f29303b089336fef18f"


def _core_from_int(i: int) -> int:
    """Return Core's test element FromInt(i): 32 bytes, `i` then zeros."""
    return element_number(bytes([i]) + bytes(31))


def test_core_vector_one_element_over_another() -> None:
    digest = StateDigest(_core_from_int(0) * _core_from_int(1) % PRIME, _core_from_int(2)).digest()
    assert digest[::-1].hex() == CORE_0_TIMES_1_OVER_2


def test_core_vector_serialised_product() -> None:
    product = StateDigest(_core_from_int(1) * _core_from_int(2) % PRIME, 1)
    assert len(CORE_1_TIMES_2_NUMERATOR) == 2 * NUMBER_SIZE
    assert product.accumulator().hex() == CORE_1_TIMES_2_NUMERATOR


def test_core_vector_numerator_above_the_prime() -> None:
    overflow = StateDigest(int.from_bytes(b"\xff" * NUMBER_SIZE, "little"), 1)
    assert overflow.digest().hex() == CORE_OVERFLOW


def test_the_empty_state_is_the_empty_multiset() -> None:
    one = (1).to_bytes(NUMBER_SIZE, "little")
    assert StateDigest().digest().hex() == EMPTY_STATE == hashlib.sha256(one).hexdigest()


def test_our_element_encoding_and_a_known_state() -> None:
    tag = b"receivables-ledger/v1/state-element\n"
    assert element_bytes("k", b"v") == tag + b"\x00\x00\x00\x01" + b"k" + b"v"
    assert element_bytes("é", b"") == tag + b"\x00\x00\x00\x02" + "é".encode()
    assert StateDigest.of(TWO_ENTRIES).digest().hex() == TWO_ENTRIES_DIGEST


def test_the_key_length_keeps_key_and_value_apart() -> None:
    """("ab", "c") and ("a", "bc") concatenate alike; their elements differ."""
    assert StateDigest.of([("ab", b"c")]).digest() != StateDigest.of([("a", b"bc")]).digest()


def test_the_accumulator_round_trips_and_is_checked() -> None:
    state = StateDigest.of(TWO_ENTRIES)
    assert StateDigest.from_accumulator(state.accumulator()).digest() == state.digest()
    try:
        StateDigest.from_accumulator(bytes(10))
    except ValueError as exc:
        assert "384 bytes" in str(exc)
    else:
        raise AssertionError("a short accumulator was taken")


_keys = st.text(min_size=1, max_size=12)
_values = st.binary(min_size=1, max_size=24)
_states = st.dictionaries(_keys, _values, max_size=8)


@settings(max_examples=40, deadline=None)
@given(_states.map(lambda s: list(s.items())).flatmap(
    lambda items: st.tuples(st.just(items), st.permutations(items))))
def test_the_order_of_entries_does_not_matter(
    orders: tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]]
) -> None:
    items, shuffled = orders
    assert StateDigest.of(items).digest() == StateDigest.of(shuffled).digest()


@settings(max_examples=40, deadline=None)
@given(_states, _keys, _values)
def test_adding_then_removing_an_entry_is_the_identity(
    state: dict[str, bytes], key: str, value: bytes
) -> None:
    base = {k: v for k, v in state.items() if k != key}
    before = StateDigest.of(base.items())
    added = before.after({key: value}, base.get)
    removed = added.after({key: None}, {**base, key: value}.get)
    assert added.digest() != before.digest()
    assert removed.digest() == before.digest()


_blocks = st.lists(st.dictionaries(_keys, st.none() | _values, max_size=6), max_size=6)


@settings(max_examples=40, deadline=None)
@given(_blocks)
def test_a_digest_kept_block_by_block_is_the_digest_of_the_state(
    blocks: list[dict[str, bytes | None]]
) -> None:
    state: dict[str, bytes] = {}
    running = StateDigest()
    for writes in blocks:
        running = running.after(writes, state.get).normalized()
        for key, value in writes.items():
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
        assert running.digest() == StateDigest.of(state.items()).digest()


_below_2_3072 = st.integers(0, 2**3072 - 1) | st.sampled_from([0, 1, PRIME - 1, PRIME, 2**3072 - 1])


@settings(max_examples=200, deadline=None)
@given(_below_2_3072, _below_2_3072)
def test_the_folding_product_is_the_product_modulo_the_prime(a: int, b: int) -> None:
    assert _mulmod(a, b) == a * b % PRIME


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(_below_2_3072, st.integers(1, PRIME - 1)), max_size=5))
def test_normalising_together_is_normalising_each(fractions: list[tuple[int, int]]) -> None:
    digests = [StateDigest(n, d) for n, d in fractions]
    assert normalized_all(digests) == [d.normalized() for d in digests]
