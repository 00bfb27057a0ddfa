"""Tests for ledger.state_note: a block's state digest as a note a quorum of nodes cosigns."""

from __future__ import annotations

import base64

import pytest

from ledger.attestation import Attestation, NodeInfo, attest
from ledger.checkpoint import Checkpoint
from ledger.crypto import PrivateKey, sha256
from ledger.errors import LedgerError, SchemaError, SignatureError
from ledger.signed_note import NoteSignature, parse_note
from ledger.state_note import (
    SignedStateNote,
    StateNote,
    check_state_cosigned,
    parse_signed_state_note,
    sign_state_note,
)

BLOCK_HASH = "ab" * 32
DIGEST = sha256(b"some state")
NOTE = StateNote("test-chain", 7, BLOCK_HASH, DIGEST)


def _key(i: int) -> PrivateKey:
    return PrivateKey(sha256(f"state note key {i}".encode()))


# four nodes of three organisations: a quorum is two organisations
NODES = {f"node{i}": NodeInfo(f"node{i}", org, _key(i).public_key)
         for i, org in ((1, "A"), (2, "A"), (3, "B"), (4, "C"))}


def _signed(*names: str, note: StateNote = NOTE) -> SignedStateNote:
    return SignedStateNote(note, tuple(sign_state_note(note, n, _key(int(n[-1]))) for n in names))


def test_the_note_text_is_exactly_as_documented() -> None:
    assert NOTE.text() == ("ledger.receivables/test-chain\n"
                           f"state 7 {BLOCK_HASH}\n"
                           f"muhash3072-sha256/v1 {DIGEST.hex()}\n")
    assert StateNote.from_text(NOTE.text(), "test-chain") == NOTE


def test_a_quorum_of_organisations_makes_a_note_trusted() -> None:
    signed = parse_signed_state_note(_signed("node1", "node3").encode(), "test-chain")
    assert check_state_cosigned(signed, NODES) == {"node1", "node3"}


def test_two_nodes_of_one_organisation_are_not_a_quorum() -> None:
    with pytest.raises(SignatureError, match=r"1 organisation.*a quorum is 2"):
        check_state_cosigned(_signed("node1", "node2"), NODES)


def test_a_tampered_digest_or_signature_is_refused() -> None:
    signed = _signed("node1", "node3")
    other = StateNote("test-chain", 7, BLOCK_HASH, sha256(b"another state"))
    with pytest.raises(SignatureError, match="does not verify"):
        check_state_cosigned(SignedStateNote(other, signed.signatures), NODES)
    bad = signed.signatures[0]
    flipped = NoteSignature(bad.name, bad.key_id, bytes([bad.signature[0] ^ 1]) + bad.signature[1:])
    with pytest.raises(SignatureError, match="node1 does not verify"):
        check_state_cosigned(SignedStateNote(NOTE, (flipped, signed.signatures[1])), NODES)
    assert not NOTE.verifies(_key(1).public_key, flipped.signature)


def test_a_note_of_another_chain_or_shape_does_not_parse() -> None:
    text = _signed("node1").encode()
    with pytest.raises(SchemaError, match="origin"):
        parse_signed_state_note(text, "other-chain")
    for bad in (NOTE.text().replace("state 7", "state 07"),
                NOTE.text().replace("muhash3072", "lthash"),
                NOTE.text() + "extra\n",
                NOTE.text().replace(DIGEST.hex(), DIGEST.hex().upper())):
        with pytest.raises(SchemaError):
            StateNote.from_text(bad, "test-chain")


def test_a_state_note_is_never_a_checkpoint() -> None:
    with pytest.raises(SchemaError):
        Checkpoint.from_text(parse_note(_signed("node1").encode()).text)


def test_an_attestation_carries_its_state_signature_strictly() -> None:
    state_sig = sign_state_note(NOTE, "node1", _key(1)).signature
    att = attest(_key(1), "test-chain", 7, BLOCK_HASH, "node1", None, state_sig)
    wire = att.to_json()
    assert set(wire) == {"chain_id", "height", "hash", "node", "sig", "state_sig"}
    assert Attestation.from_json(wire) == att
    assert attest(_key(1), "test-chain", 7, BLOCK_HASH, "node1").signature == att.signature
    for bad in ({**wire, "state_sig": 5},
                {**wire, "state_sig": base64.b64encode(state_sig[:63]).decode()},
                {**wire, "state_sig": "not base64!"}):
        with pytest.raises(LedgerError):
            Attestation.from_json(bad)
