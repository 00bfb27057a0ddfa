"""Tests for ledger.signed_note (C2SP signed notes) and ledger.checkpoint (tlog checkpoints).

Known answers come from two independent places: the reference implementation's
own test vectors (golang.org/x/mod/sumdb/note, note_test.go: the PeterNeumann
and EnochRoot keys and notes), and a key ID and signature computed here by
hand with hashlib and PyNaCl, so that nothing is checked against itself.
"""

from __future__ import annotations

import base64
import hashlib

import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.attestation import Attestation, NodeInfo, attest
from ledger.checkpoint import (
    ORIGIN_PREFIX,
    BlockRef,
    Checkpoint,
    SignedCheckpoint,
    block_checkpoint,
    check_cosigned,
    check_origin,
    origin_of,
    parse_signed_checkpoint,
    sign_checkpoint,
)
from ledger.crypto import DOMAIN_PREFIX, Domain, PrivateKey, sha256
from ledger.errors import LedgerError, SchemaError, SignatureError
from ledger.signed_note import (
    NoteSignature,
    SignedNote,
    key_id,
    parse_note,
    parse_verifier_key,
    sign_note,
    verifier_key,
    verify_note,
)

# -- golang.org/x/mod/sumdb/note test vectors ------------------------------------------------

PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = ("If you think cryptography is the answer to your problem,\n"
           "then you don't know what your problem is.\n")
PETER_SIG = ("— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqf"
             "qdngotpRZb6KE6RyyBwJnAM=\n")
ENOCH_SIG = ("— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTG"
             "wnWLox33WWd1RvMc+QQ=\n")


def _peter_key() -> PrivateKey:
    """The PeterNeumann signing key: PRIVATE+KEY+name+ID+base64(0x01 || 32-byte seed)."""
    raw = base64.b64decode(PETER_SKEY.split("+", 4)[4])
    assert raw[0] == 1
    return PrivateKey(raw[1:])


def test_go_signer_reproduces_the_published_note_byte_for_byte() -> None:
    signature = sign_note(GO_TEXT, "PeterNeumann", _peter_key())
    assert signature.line() == PETER_SIG
    assert SignedNote(GO_TEXT, (signature,)).encode() == GO_TEXT + "\n" + PETER_SIG


def test_go_verifier_keys_parse_and_are_rebuilt_exactly() -> None:
    name, key = parse_verifier_key(PETER_VKEY)
    assert (name, key) == ("PeterNeumann", _peter_key().public_key)
    assert key_id(name, key).hex() == "c74f20a3"
    assert verifier_key(name, key) == PETER_VKEY
    enoch_name, enoch = parse_verifier_key(ENOCH_VKEY)
    assert key_id(enoch_name, enoch).hex() == "af0cfe78"
    assert verifier_key(enoch_name, enoch) == ENOCH_VKEY


@pytest.mark.parametrize("bad", [
    "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # ID of another key
    "PeterNeumann+c74f20a3+AhRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # not base64 of 33
    "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # unknown algorithm
    "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space in the name
    "PeterNeumann+c74f20a3",
])
def test_mangled_verifier_keys_are_refused(bad: str) -> None:
    with pytest.raises(LedgerError):
        parse_verifier_key(bad)


def test_go_open_semantics_unknown_keys_are_ignored_known_ones_must_verify() -> None:
    peter = dict([parse_verifier_key(PETER_VKEY)])
    both = peter | dict([parse_verifier_key(ENOCH_VKEY)])
    note = parse_note(GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG)
    assert note.text == GO_TEXT
    assert verify_note(note, peter) == {"PeterNeumann"}
    assert verify_note(note, both) == {"PeterNeumann", "EnochRoot"}
    with pytest.raises(SignatureError, match="no signature from a known key"):
        verify_note(note, {})
    broken = GO_TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(SignatureError, match="PeterNeumann does not verify"):
        verify_note(parse_note(broken), peter)
    renamed = parse_note(GO_TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "CarmenSandiego"))
    with pytest.raises(SignatureError):  # same key ID, other name: an unknown key
        verify_note(renamed, peter)


@pytest.mark.parametrize("message", [  # Go's table of malformed notes, plus a few of ours
    GO_TEXT,
    GO_TEXT + "\n",
    GO_TEXT + "\n" + PETER_SIG[:-1],
    "\x01" + GO_TEXT + "\n" + PETER_SIG,
    b"\xff" + (GO_TEXT + "\n" + PETER_SIG).encode(),
    GO_TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Bad Name")[:-1],
    GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
    GO_TEXT + "\n" + PETER_SIG * 101,
    GO_TEXT + "\n" + PETER_SIG.replace("— ", "- "),
    GO_TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Peter+Neumann"),
    GO_TEXT + "\n" + PETER_SIG.replace("AM=", "AN="),  # non-canonical base64: one spelling
    GO_TEXT + "\n" + "— PeterNeumann x08g\n",  # no room for a signature after the key ID
    GO_TEXT.replace("\n", "\r\n", 1) + "\n" + PETER_SIG,
])
def test_malformed_notes_are_refused_with_a_schema_error(message: str | bytes) -> None:
    with pytest.raises(SchemaError):
        parse_note(message)


# -- one vector computed independently: hashlib and PyNaCl, by hand ---------------------------

SEED = sha256(b"checkpoint test node")
ROOT = bytes(range(32))
BLOCK_HASH = "ab" * 32


def test_a_checkpoint_is_the_c2sp_text_and_a_plain_ed25519_signature_over_it() -> None:
    checkpoint = block_checkpoint("test-chain", 5, ROOT, 3, BLOCK_HASH)
    text = ("ledger.receivables/test-chain\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
            f"block 3 {BLOCK_HASH}\n")
    assert checkpoint.text() == text
    signing = nacl.signing.SigningKey(SEED)
    public = bytes(signing.verify_key)
    kid = hashlib.sha256(b"node1\n\x01" + public).digest()[:4]
    sig = signing.sign(text.encode()).signature
    line = "\u2014 node1 " + base64.b64encode(kid + sig).decode() + "\n"
    ours = sign_checkpoint(checkpoint, "node1", PrivateKey(SEED))
    assert ours.line() == line
    assert SignedCheckpoint(checkpoint, (ours,)).encode() == text + "\n" + line


# -- strict parsing of checkpoints -----------------------------------------------------------

def _note(*lines: str) -> str:
    """A checkpoint text from lines, signed by node1, as served."""
    text = "".join(line + "\n" for line in lines)
    return text + "\n" + sign_note(text, "node1", PrivateKey(SEED)).line()


GOOD_ROOT = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(("lines", "problem"), [
    (("ledger.receivables/c", "5"), "origin, a tree size and a root"),
    (("ledger.receivables/c", "05", GOOD_ROOT), "leading zeros"),
    (("ledger.receivables/c", "-5", GOOD_ROOT), "decimal"),
    (("ledger.receivables/c", "\u0665", GOOD_ROOT), "decimal"),  # an Arabic-Indic five
    (("ledger.receivables/c", "9" * 20, GOOD_ROOT), "decimal"),
    (("ledger.receivables/c", "5", GOOD_ROOT[:-4] + "===="), "base64"),
    (("ledger.receivables/c", "5", base64.b64encode(ROOT[:31]).decode()), "not 32 bytes"),
    (("ledger.receivables/c", "5", GOOD_ROOT.replace("=", "")), "base64"),
    (("", "5", GOOD_ROOT), "non-empty"),
])
def test_malformed_checkpoints_are_refused_naming_the_problem(
        lines: tuple[str, ...], problem: str) -> None:
    with pytest.raises(SchemaError, match=problem):
        parse_signed_checkpoint(_note(*lines))


@pytest.mark.parametrize(("extensions", "problem"), [
    ((), "exactly one extension"),
    ((f"block 3 {BLOCK_HASH}", "extra"), "exactly one extension"),
    ((f"block 03 {BLOCK_HASH}",), "block <height>"),
    ((f"block 3 {BLOCK_HASH.upper()}",), "block <height>"),
    ((f"block 3 {BLOCK_HASH} ",), "block <height>"),
    ((f"blocks 3 {BLOCK_HASH}",), "block <height>"),
])
def test_a_ledger_checkpoint_names_exactly_one_block(
        extensions: tuple[str, ...], problem: str) -> None:
    signed = parse_signed_checkpoint(_note("ledger.receivables/c", "5", GOOD_ROOT, *extensions))
    with pytest.raises(SchemaError, match=problem):
        check_origin(signed, "c")


def test_a_checkpoint_of_another_chain_is_refused() -> None:
    signed = parse_signed_checkpoint(_note("ledger.receivables/other", "5", GOOD_ROOT,
                                           f"block 3 {BLOCK_HASH}"))
    assert check_origin(signed, "other") == BlockRef(3, BLOCK_HASH)
    with pytest.raises(SchemaError, match=r"not 'ledger\.receivables/c'"):
        check_origin(signed, "c")


def test_an_empty_extension_line_cannot_be_built() -> None:
    with pytest.raises(SchemaError, match="non-empty"):
        Checkpoint(origin_of("c"), 1, ROOT, ("",))


# -- cosigning and quorum ----------------------------------------------------------------------

def _key(i: int) -> PrivateKey:
    return PrivateKey(sha256(b"node key %d" % i))


def _nodes(orgs: str) -> dict[str, NodeInfo]:
    """Nodes node1.. run by the organisations named by letters, e.g. 'AABC'."""
    return {f"node{i + 1}": NodeInfo(f"node{i + 1}", org, _key(i + 1).public_key)
            for i, org in enumerate(orgs)}


def _cosigned(checkpoint: Checkpoint, numbers: tuple[int, ...]) -> SignedCheckpoint:
    return SignedCheckpoint(checkpoint, tuple(
        sign_checkpoint(checkpoint, f"node{n}", _key(n)) for n in numbers))


CHECKPOINT = block_checkpoint("c", 10, ROOT, 4, BLOCK_HASH)


def test_a_quorum_of_organisations_not_of_nodes_is_needed() -> None:
    nodes = _nodes("AABC")  # three organisations run nodes: a quorum is two
    with pytest.raises(SignatureError, match=r"nodes of 1 organisation.*a quorum is 2"):
        check_cosigned(_cosigned(CHECKPOINT, (1, 2)), "c", nodes)
    assert check_cosigned(_cosigned(CHECKPOINT, (1, 3)), "c", nodes) == {"node1", "node3"}
    assert check_cosigned(_cosigned(CHECKPOINT, (1, 2, 3, 4)), "c", nodes) == set(nodes)


def test_an_unregistered_signer_is_ignored_and_a_bad_registered_one_rejects_the_note() -> None:
    nodes = _nodes("ABC")
    stranger = sign_checkpoint(CHECKPOINT, "node9", _key(9))
    signed = _cosigned(CHECKPOINT, (1, 2))
    assert check_cosigned(SignedCheckpoint(CHECKPOINT, (*signed.signatures, stranger)),
                          "c", nodes) == {"node1", "node2"}
    forged = NoteSignature("node3", key_id("node3", _key(3).public_key),
                           _key(9).sign_unframed(CHECKPOINT.text().encode()))
    with pytest.raises(SignatureError, match="node3 does not verify"):
        check_cosigned(SignedCheckpoint(CHECKPOINT, (*signed.signatures, forged)), "c", nodes)
    other_id = NoteSignature("node3", b"\0\0\0\0", forged.signature)  # another key: ignored
    assert check_cosigned(SignedCheckpoint(CHECKPOINT, (*signed.signatures, other_id)),
                          "c", nodes) == {"node1", "node2"}


def test_a_signature_for_another_checkpoint_does_not_count() -> None:
    nodes = _nodes("AB")
    other = block_checkpoint("c", 11, ROOT, 5, BLOCK_HASH)
    moved = SignedCheckpoint(CHECKPOINT, (*_cosigned(CHECKPOINT, (1,)).signatures,
                                          *_cosigned(other, (2,)).signatures))
    with pytest.raises(SignatureError, match="node2 does not verify"):
        check_cosigned(moved, "c", nodes)


def test_without_registered_nodes_nothing_is_cosigned() -> None:
    with pytest.raises(SignatureError, match="no nodes are registered"):
        check_cosigned(_cosigned(CHECKPOINT, (1,)), "c", {})


def test_note_signatures_are_separated_from_every_domain_tagged_signature() -> None:
    assert not ORIGIN_PREFIX.encode().startswith(DOMAIN_PREFIX)
    assert all(d.value.startswith(DOMAIN_PREFIX) for d in Domain)
    key = _key(1)
    with pytest.raises(SignatureError, match="refusing"):
        key.sign_unframed(Domain.BATCH.value + b"{}")
    tagged = key.sign(Domain.ATTESTATION, b"x")
    with pytest.raises(SignatureError):
        key.public_key.verify_unframed(Domain.ATTESTATION.value + b"x", tagged)
    note_sig = sign_checkpoint(CHECKPOINT, "node1", key).signature
    for domain in Domain:  # a checkpoint signature is no tagged signature of its text
        with pytest.raises(SignatureError):
            key.public_key.verify(domain, CHECKPOINT.text().encode(), note_sig)


# -- the attestation carries the checkpoint signature -----------------------------------------

def test_an_attestation_carries_its_note_signature_strictly() -> None:
    note_sig = sign_checkpoint(CHECKPOINT, "node1", _key(1)).signature
    att = attest(_key(1), "c", 4, BLOCK_HASH, "node1", note_sig)
    wire = att.to_json()
    assert set(wire) == {"chain_id", "height", "hash", "node", "sig", "note_sig"}
    assert Attestation.from_json(wire) == att
    plain = attest(_key(1), "c", 4, BLOCK_HASH, "node1")
    assert "note_sig" not in plain.to_json() and plain.signature == att.signature
    assert Attestation.from_json(plain.to_json()) == plain
    for bad in ({**wire, "extra": 1}, {**wire, "note_sig": 5},
                {**wire, "note_sig": base64.b64encode(note_sig[:63]).decode()},
                {**wire, "note_sig": "not base64!"}):
        with pytest.raises(LedgerError):
            Attestation.from_json(bad)


@pytest.mark.parametrize("node_id", ["node 1", "node+1", "node/1", "", "n" * 65, "nöde",
                                     "node\x001"])
def test_a_node_id_is_a_valid_note_key_name(node_id: str) -> None:
    with pytest.raises(SchemaError, match=r"node('s)? id"):
        NodeInfo.from_json({"id": node_id, "org": "A", "public_key": _key(1).public_key.hex()})


# -- invariants --------------------------------------------------------------------------------

chain_ids = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x2FF), min_size=1,
                    max_size=24)
checkpoints = st.builds(
    block_checkpoint, chain_ids, st.integers(0, 2**63 - 1), st.binary(min_size=32, max_size=32),
    st.integers(0, 2**63 - 1), st.binary(min_size=32, max_size=32).map(bytes.hex))


@settings(max_examples=200, deadline=None)
@given(checkpoint=checkpoints, signers=st.sets(st.integers(1, 4), min_size=1))
def test_a_signed_checkpoint_round_trips(checkpoint: Checkpoint, signers: set[int]) -> None:
    signed = _cosigned(checkpoint, tuple(sorted(signers)))
    parsed = parse_signed_checkpoint(signed.encode())
    assert parsed == signed
    assert Checkpoint.from_text(checkpoint.text()) == checkpoint
    chain_id = checkpoint.origin.removeprefix(ORIGIN_PREFIX)
    nodes = _nodes("ABCD")
    assert check_origin(parsed, chain_id).height >= 0
    if len(signers) >= 3:
        assert check_cosigned(parsed, chain_id, nodes) == {f"node{n}" for n in signers}


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _open(message: bytes, chain_id: str, nodes: dict[str, NodeInfo]) -> frozenset[str]:
    return check_cosigned(parse_signed_checkpoint(message), chain_id, nodes)


@settings(max_examples=400, deadline=None)
@given(checkpoint=checkpoints, signers=st.integers(1, 2), data=st.data())
def test_any_single_bit_flip_is_rejected_when_every_signature_is_needed(
        checkpoint: Checkpoint, signers: int, data: st.DataObject) -> None:
    nodes = _nodes("AB"[:signers])  # one or two organisations: every one must sign
    message = _cosigned(checkpoint, tuple(range(1, signers + 1))).encode().encode()
    chain_id = checkpoint.origin.removeprefix(ORIGIN_PREFIX)
    assert _open(message, chain_id, nodes) == set(nodes)
    bit = data.draw(st.integers(0, len(message) * 8 - 1))
    with pytest.raises(LedgerError):
        _open(_flip(message, bit), chain_id, nodes)


@settings(max_examples=300, deadline=None)
@given(checkpoint=checkpoints, data=st.data())
def test_a_bit_flip_never_yields_another_checkpoint_or_more_signers(
        checkpoint: Checkpoint, data: st.DataObject) -> None:
    nodes = _nodes("ABC")  # a quorum is two of three
    signed = _cosigned(checkpoint, (1, 2, 3))
    message = signed.encode().encode()
    bit = data.draw(st.integers(0, len(message) * 8 - 1))
    flipped = _flip(message, bit)
    try:
        cosigners = _open(flipped, checkpoint.origin.removeprefix(ORIGIN_PREFIX), nodes)
    except LedgerError:
        return
    # Only a flip in a signer's name or key ID survives: that signature is then unknown.
    assert parse_signed_checkpoint(flipped).checkpoint == checkpoint
    assert cosigners < set(nodes)
