"""ledger.tx: signed envelopes parse back exactly, and every malformed one is refused."""

from __future__ import annotations

import base64
import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import MAX_DEPTH, canonical_bytes
from ledger.crypto import Domain, b64encode, sha256_hex
from ledger.errors import EncodingError, LedgerError, SchemaError, SignatureError
from ledger.membership import make_uscc
from ledger.tx import (
    MAX_BODY_BYTES,
    MAX_SIGNERS,
    Envelope,
    Signature,
    TxBody,
    envelope_from_checked,
    parse_envelope,
    sign_body,
    tx_id_of,
)
from tests.ledger.txkit import ALICE, BOB, CAROL, KEYS, body_json, key_of, signed, wire, wire_for


def test_round_trip() -> None:
    envelope = signed(args={"amount_fen": 123_456, "memo": "核心企业 😀"})
    again = parse_envelope(json.loads(json.dumps(envelope.to_json())))
    assert again == envelope
    assert again.tx_id == envelope.tx_id
    assert again.body_bytes == envelope.body_bytes
    assert again.canonical() == envelope.canonical() == canonical_bytes(envelope.to_json())
    again.verify(key_of)


def test_tx_id_is_sha256_of_body_bytes() -> None:
    envelope = signed()
    assert envelope.body_bytes == canonical_bytes(body_json())
    assert envelope.tx_id == sha256_hex(envelope.body_bytes) == tx_id_of(envelope.body_bytes)
    assert signed(nonce="00000000000000a2").tx_id != envelope.tx_id


def test_signatures_do_not_change_tx_id() -> None:
    one = parse_envelope(wire_for(body_json(signers=[ALICE])))
    assert one.tx_id == signed(signers=[ALICE]).tx_id


@pytest.mark.parametrize("text", [
    json.dumps(body_json()),                                   # spaces after separators
    json.dumps(body_json(), separators=(",", ":")),            # insertion order, not sorted
    json.dumps(body_json(), sort_keys=True, indent=1),
    canonical_bytes(body_json()).decode() + "\n",
    json.dumps(body_json(args={"memo": "é"}), sort_keys=True, separators=(",", ":")),  # \u00e9
])
def test_non_canonical_body_rejected(text: str) -> None:
    with pytest.raises(EncodingError):
        parse_envelope(wire(text, [ALICE, BOB]))


def _without(field: str) -> dict[str, Any]:
    value = body_json()
    del value[field]
    return value


@pytest.mark.parametrize("field", sorted(body_json()))
def test_missing_body_field_rejected(field: str) -> None:
    with pytest.raises(SchemaError, match=f"missing field.*{field}"):
        parse_envelope(wire_for(_without(field)))


def test_extra_body_field_rejected() -> None:
    with pytest.raises(SchemaError, match=r"unknown field.*memo"):
        parse_envelope(wire_for(body_json(memo="x")))


@pytest.mark.parametrize("overrides", [
    {"nonce": "00000000000000a"}, {"nonce": "0" * 65}, {"nonce": "00000000000000A1"},
    {"nonce": "00000000000000g1"}, {"nonce": ""}, {"nonce": 1234567},
    {"nonce": " 0000000000000000"},
    {"contract": "Demo"}, {"contract": "1demo"}, {"contract": ""}, {"action": "put-it"},
    {"action": "x" * 65}, {"chain_id": ""}, {"chain_id": 7}, {"args": []}, {"args": "x"},
])
def test_bad_body_fields_rejected(overrides: dict[str, Any]) -> None:
    with pytest.raises(SchemaError):
        parse_envelope(wire_for(body_json(**overrides)))


@pytest.mark.parametrize("overrides", [
    {"nonce": "0123456789abcdef\n"}, {"contract": "demo\n"}, {"action": "put\n"},
])
def test_trailing_newline_in_identifiers_rejected(overrides: dict[str, Any]) -> None:
    with pytest.raises(SchemaError):
        parse_envelope(wire_for(body_json(**overrides)))


@pytest.mark.parametrize("stamp", [
    "2026-01-05 08:00:00Z", "2026-01-05T08:00:00", "2026-01-05T08:00:00+00:00",
    "2026-01-05T08:00:00.000Z", "2026-02-30T08:00:00Z", "2026-01-05T24:00:00Z",
    "2026-01-05t08:00:00z", "2026-01-05", "", None, 1767600000,
])
@pytest.mark.parametrize("field", ["not_before", "not_after"])
def test_bad_timestamps_rejected(field: str, stamp: Any) -> None:
    with pytest.raises(SchemaError, match=field):
        parse_envelope(wire_for(body_json(**{field: stamp})))


def test_window_must_not_be_reversed() -> None:
    with pytest.raises(SchemaError, match="not_after must not be earlier"):
        parse_envelope(wire_for(body_json(not_before="2026-01-05T08:00:01Z",
                                          not_after="2026-01-05T08:00:00Z")))
    same = "2026-01-05T08:00:00Z"
    assert parse_envelope(wire_for(body_json(not_before=same, not_after=same)))


def test_non_ascii_digits_in_window_rejected() -> None:
    with pytest.raises(SchemaError):
        parse_envelope(wire_for(body_json(not_after="\u0662\u0660\u0662\u0666-01-06T08:00:00Z")))


@pytest.mark.parametrize(("signers", "message"), [
    ([], "non-empty"), ("x", "non-empty"), ([ALICE, ALICE], "repeat"), ([ALICE, ""], "USCC"),
    ([ALICE, 5], "USCC"), ([f"org{i}" for i in range(MAX_SIGNERS + 1)], "at most"),
    ([ALICE, "\u0000x"], "USCC"), ([ALICE.lower()], "USCC"), ([ALICE[:-1] + "0"], "USCC"),
])
def test_bad_signers_rejected(signers: Any, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        parse_envelope(wire(canonical_bytes(body_json(signers=signers)), [ALICE]))


def test_max_signers_accepted_by_body_parser() -> None:
    many = [make_uscc(f"91310000MA{i:07d}") for i in range(MAX_SIGNERS)]
    assert TxBody.from_json(body_json(signers=many)).signers == tuple(many)


def test_extra_signature_from_unlisted_signer_rejected() -> None:
    text = canonical_bytes(body_json(signers=[ALICE]))
    with pytest.raises(SignatureError, match=f"extra signature from {BOB}"):
        parse_envelope(wire(text, [ALICE, BOB]))


def test_duplicate_signature_rejected() -> None:
    value = wire(canonical_bytes(body_json()), [ALICE, BOB])
    value["signatures"].append(value["signatures"][0])  # type: ignore[union-attr]
    with pytest.raises(SignatureError, match="more than once"):
        parse_envelope(value)


def test_missing_signature_rejected_by_verify() -> None:
    envelope = parse_envelope(wire(canonical_bytes(body_json()), [BOB]))
    with pytest.raises(SignatureError, match=f"missing signature of {ALICE}"):
        envelope.verify(key_of)


def test_forged_signature_rejected() -> None:
    value = signed().to_json()
    sig = bytearray(base64.b64decode(value["signatures"][1]["sig"]))  # type: ignore[index]
    sig[10] ^= 0x04
    value["signatures"][1]["sig"] = b64encode(bytes(sig))  # type: ignore[index]
    with pytest.raises(SignatureError, match=f"signature of {BOB} does not verify"):
        parse_envelope(value).verify(key_of)


def test_signature_by_wrong_key_rejected() -> None:
    text = canonical_bytes(body_json())
    value = wire(text, [ALICE, BOB], keys={ALICE: KEYS[ALICE], BOB: KEYS[CAROL]})
    with pytest.raises(SignatureError, match=f"signature of {BOB} does not verify"):
        parse_envelope(value).verify(key_of)


def test_signature_for_other_domain_rejected() -> None:
    envelope = signed(signers=[ALICE])
    sig = KEYS[ALICE].sign(Domain.REQUEST, envelope.body_bytes)
    value = {"body": envelope.body_bytes.decode(), "signatures": [
        {"signer": ALICE, "sig": b64encode(sig)}]}
    with pytest.raises(SignatureError):
        parse_envelope(value).verify(key_of)


def test_signer_not_a_member_rejected() -> None:
    envelope = signed()
    with pytest.raises(SignatureError, match=f"signer {BOB} is not a member"):
        envelope.verify(lambda uscc: key_of(uscc) if uscc == ALICE else None)


def test_sign_body_needs_every_key() -> None:
    with pytest.raises(SignatureError, match=f"no key to sign for {BOB}"):
        sign_body(TxBody.from_json(body_json()), {ALICE: KEYS[ALICE]})


def _sized_body(size: int) -> bytes:
    base = len(canonical_bytes(body_json(args={"pad": ""})))
    data = canonical_bytes(body_json(args={"pad": "x" * (size - base)}))
    assert len(data) == size
    return data


def test_body_size_limit() -> None:
    assert parse_envelope(wire(_sized_body(MAX_BODY_BYTES), [ALICE, BOB]))
    with pytest.raises(SchemaError, match="exceeds"):
        parse_envelope(wire(_sized_body(MAX_BODY_BYTES + 1), [ALICE, BOB]))


@pytest.mark.parametrize("value", [
    [], "x", None, {"body": canonical_bytes(body_json()).decode()},
    {"body": 5, "signatures": []}, {"body": "{}", "signatures": [], "extra": 1},
])
def test_malformed_wire_rejected(value: Any) -> None:
    with pytest.raises(SchemaError):
        parse_envelope(value)


@pytest.mark.parametrize("signatures", [
    [], None, [{"signer": ALICE}], [{"signer": ALICE, "sig": 5}], [[ALICE, "x"]],
    [{"signer": ALICE, "sig": "not base64!"}], [{"signer": ALICE, "sig": "QQ==", "x": 1}],
])
def test_malformed_signatures_rejected(signatures: Any) -> None:
    value = {"body": canonical_bytes(body_json(signers=[ALICE])).decode(),
             "signatures": signatures}
    with pytest.raises((SchemaError, SignatureError)):
        parse_envelope(value)


def test_non_canonical_base64_signature_is_rejected() -> None:
    envelope = signed(signers=[ALICE])
    value = envelope.to_json()
    text = value["signatures"][0]["sig"]  # type: ignore[index]
    assert text.endswith("==")
    # the last data character of a 64-byte signature carries 4 unused bits
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    twin = text[:-3] + alphabet[alphabet.index(text[-3]) ^ 1] + "=="
    value["signatures"][0]["sig"] = twin  # type: ignore[index]
    with pytest.raises(SignatureError, match="canonical base64"):
        parse_envelope(value)


def _nested_args_body(arrays: int) -> bytes:
    """Return canonical body bytes whose args hold `arrays` nested lists (+2 levels around)."""
    return canonical_bytes(body_json(args={})).replace(
        b'"args":{}', b'"args":{"x":' + b"[" * arrays + b"]" * arrays + b"}")


def test_deeply_nested_args_are_refused_by_the_depth_limit() -> None:
    fits = MAX_DEPTH - 2  # the body and its args are the two outer levels
    envelope = parse_envelope(wire(_nested_args_body(fits), [ALICE, BOB]))
    assert str(envelope.body.args["x"]).count("[") == fits
    for arrays in (fits + 1, 600):
        with pytest.raises(EncodingError, match=f"^documents may nest at most {MAX_DEPTH} "):
            parse_envelope(wire(_nested_args_body(arrays), [ALICE, BOB]))


ENVELOPE = signed(args={"amount_fen": 5, "memo": "发票 №1"})


def _rejected(value: dict[str, Any]) -> bool:
    try:
        parse_envelope(value).verify(key_of)
    except LedgerError:
        return True
    return False


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_body_bit_flip_is_rejected(data: st.DataObject) -> None:
    raw = bytearray(ENVELOPE.body_bytes)
    bit = data.draw(st.integers(0, len(raw) * 8 - 1))
    raw[bit // 8] ^= 1 << (bit % 8)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "surrogateescape")
    value = ENVELOPE.to_json()
    value["body"] = text
    assert _rejected(value)


@settings(max_examples=200, deadline=None)
@given(which=st.integers(0, 1), bit=st.integers(0, 64 * 8 - 1))
def test_any_signature_bit_flip_is_rejected(which: int, bit: int) -> None:
    sig = bytearray(ENVELOPE.signatures[which].signature)
    sig[bit // 8] ^= 1 << (bit % 8)
    value = ENVELOPE.to_json()
    value["signatures"][which]["sig"] = b64encode(bytes(sig))  # type: ignore[index]
    assert _rejected(value)


@settings(max_examples=200)
@given(st.text(max_size=40), st.lists(st.binary(min_size=64, max_size=64), min_size=1,
                                      max_size=3))
def test_envelope_canonical_bytes_are_the_canonical_encoding_of_its_wire_form(
    text: str, sigs: list[bytes]
) -> None:
    body_bytes = text.encode("utf-8")
    signatures = tuple(Signature(f"signer-{i}-{text[:5]}", s) for i, s in enumerate(sigs))
    envelope = Envelope(body_bytes, None, signatures)  # type: ignore[arg-type]
    assert envelope.canonical() == canonical_bytes(envelope.to_json())


_ARG_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=10)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8), _ARG_VALUES, max_size=5),
       st.sampled_from([[ALICE], [ALICE, BOB], [CAROL, BOB, ALICE]]))
def test_envelope_from_checked_builds_what_parse_envelope_builds(
        args: dict[str, Any], signers: list[str]) -> None:
    """The auditor's rebuild of a checked wire envelope equals the parsed one, in every part."""
    envelope = signed(args=args, signers=signers)
    value = json.loads(json.dumps(envelope.to_json()))
    parsed = parse_envelope(value)
    for loads in (json.loads, orjson.loads):
        rebuilt = envelope_from_checked(value, loads, tx_id=parsed.tx_id, leaf=parsed.leaf)
        assert rebuilt == parsed and rebuilt.body == parsed.body
        assert (rebuilt.tx_id, rebuilt.leaf, rebuilt.canonical()) == (
            parsed.tx_id, parsed.leaf, parsed.canonical())
        assert type(rebuilt.body.signers) is tuple and rebuilt.body.args == parsed.body.args
        assert vars(rebuilt.body).keys() == vars(parsed.body).keys()
        assert [vars(s) for s in rebuilt.signatures] == [vars(s) for s in parsed.signatures]
        fresh = envelope_from_checked(value, loads)
        assert (fresh.tx_id, fresh.leaf) == (parsed.tx_id, parsed.leaf)
        rebuilt.verify(key_of)
