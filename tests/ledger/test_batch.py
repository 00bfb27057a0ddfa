"""ledger.batch: signed batches round-trip, and any change to one is rejected."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.attestation import NodeInfo
from ledger.batch import (
    DecodedBatch,
    SignedBatch,
    decode_batch,
    is_signed,
    open_batch,
    sign_batch,
)
from ledger.crypto import Domain, PrivateKey, PublicKey, sha256
from ledger.errors import LedgerError, SchemaError, SignatureError

KEY = PrivateKey(sha256(b"batch test key"))
OTHER = PrivateKey(sha256(b"another node"))
BODY = b'{"chain_id":"c","proposer":"node1","time":"2026-01-01T00:00:00Z","txs":[]}'


def test_a_signed_batch_opens_to_what_was_signed_and_verifies() -> None:
    wire = sign_batch(BODY, "node1", KEY).encode()
    assert is_signed(wire)
    batch = open_batch(wire)
    assert (batch.node_id, batch.body) == ("node1", BODY)
    batch.verify(KEY.public_key)


def test_another_nodes_key_does_not_verify() -> None:
    batch = open_batch(sign_batch(BODY, "node1", KEY).encode())
    with pytest.raises(SignatureError):
        batch.verify(OTHER.public_key)


def test_an_unsigned_batch_is_not_taken_for_a_signed_one() -> None:
    assert not is_signed(BODY)
    with pytest.raises(SchemaError, match="no signature line"):
        open_batch(BODY)


@pytest.mark.parametrize("wire", [
    b"ledger-batch/1 node1\n{}",
    b"ledger-batch/1 node1 not-base64!\n{}",
    b"ledger-batch/1  AAAA\n{}",
    b"ledger-batch/1 node1 " + b"A" * 400,
])
def test_malformed_signature_lines_are_rejected(wire: bytes) -> None:
    with pytest.raises(SchemaError):
        open_batch(wire)


def test_a_node_id_with_a_space_cannot_sign() -> None:
    with pytest.raises(SchemaError):
        sign_batch(BODY, "node 1", KEY)


@settings(max_examples=300)
@given(st.data())
def test_any_bit_flip_in_a_signed_batch_is_rejected(data: st.DataObject) -> None:
    wire = bytearray(sign_batch(BODY, "node1", KEY).encode())
    index = data.draw(st.integers(0, len(wire) - 1))
    wire[index] ^= 1 << data.draw(st.integers(0, 7))
    keys = {"node1": KEY.public_key}  # any other name is another node, with another key
    try:
        batch = open_batch(bytes(wire))
        batch.verify(keys.get(batch.node_id, OTHER.public_key))
    except LedgerError:
        return
    pytest.fail(f"a flipped batch was accepted: {bytes(wire)!r}")


def test_the_wire_form_names_the_signer_first() -> None:
    batch = SignedBatch("node7", bytes(64), b"{}")
    assert batch.encode().startswith(b"ledger-batch/1 node7 ")


def test_decode_batch_takes_a_verdict_only_when_it_is_true() -> None:
    """An auditor's verifier may vouch for a batch signature; a doubt means checking here."""
    nodes = {"node1": NodeInfo("node1", "91440300MA0000001L", KEY.public_key)}
    forged = SignedBatch("node1", OTHER.sign(Domain.BATCH, BODY), BODY).encode()
    asked: list[bytes] = []

    def decode(data: bytes, verdict: bool | None) -> DecodedBatch:
        def verified(batch: SignedBatch, key: PublicKey) -> bool:
            asked.append(key.raw)
            return verdict is True
        return decode_batch(data, chain_id="c", nodes=nodes, previous_time="2026-01-01T00:00:00Z",
                            loads=orjson.loads, verified=None if verdict is None else verified)

    plain = decode(forged, None)
    assert plain.problem == "signature does not verify" and plain.proposer == "unknown"
    assert decode(forged, False) == plain  # a False verdict: checked here, same refusal
    assert decode(forged, True).problem is None  # only a True verdict is taken on trust
    assert asked == [KEY.public_key.raw] * 2
    genuine = sign_batch(BODY, "node1", KEY).encode()
    assert decode(genuine, None) == decode(genuine, False) == decode(genuine, True)
    assert decode(genuine, None).signer == "node1"
