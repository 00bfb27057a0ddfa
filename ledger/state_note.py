"""The state note: a block's world-state digest as a C2SP signed note, cosigned by the nodes.

A snapshot of the state (rows at a final height) is trusted by a new node
or an auditor only if a quorum of the consortium named it first.  Every
registered node signs, with its attestation, the note

    ledger.receivables/<chain id>
    state <height> <header hash, hex>
    muhash3072-sha256/v1 <state digest, 64 hex digits>

    — <node id> <base64(key ID || Ed25519 signature over the three lines above)>

for every block it attests (`state_sig` in the attestation), so every final
height can be a snapshot height: one more Ed25519 signature per block.

The origin line is the checkpoint's (ledger/checkpoint.py), but the second
line is never a decimal number, so no state note parses as a checkpoint and
no checkpoint as a state note; both are unframed note signatures, which
begin "ledger.receivables/" and so never pass for a domain-tagged message
("receivables-ledger/v1/...") of the same node key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ledger.attestation import NodeInfo, quorum_size
from ledger.checkpoint import MAX_NUMBER, origin_of
from ledger.crypto import PrivateKey, PublicKey
from ledger.errors import SchemaError, SignatureError
from ledger.signed_note import (
    NoteSignature,
    SignedNote,
    check_text,
    parse_note,
    sign_note,
    verify_note,
)
from ledger.state_digest import ALGORITHM, DIGEST_SIZE

_STATE_LINE = re.compile(r"state (0|[1-9][0-9]{0,18}) ([0-9a-f]{64})")
_DIGEST_LINE = re.compile(re.escape(ALGORITHM) + r" ([0-9a-f]{64})")


@dataclass(frozen=True)
class StateNote:
    """Chain `chain_id`'s world state after block `height` (header `block_hash`) has `digest`."""

    chain_id: str
    height: int
    block_hash: str
    digest: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.height <= MAX_NUMBER or len(self.digest) != DIGEST_SIZE:
            raise SchemaError("a state note has a height of 0 to 2**63-1 and a 32-byte digest")
        if not re.fullmatch(r"[0-9a-f]{64}", self.block_hash):
            raise SchemaError("a state note's block hash is 64 lowercase hex digits")
        check_text(self.text())

    def text(self) -> str:
        """Return the note text, three lines each ending in a newline."""
        return (f"{origin_of(self.chain_id)}\nstate {self.height} {self.block_hash}\n"
                f"{ALGORITHM} {self.digest.hex()}\n")

    @classmethod
    def from_text(cls, text: str, chain_id: str) -> StateNote:
        """Parse a state note of chain `chain_id` strictly; raise SchemaError naming the problem."""
        check_text(text)
        lines = text[:-1].split("\n")
        if len(lines) != 3:
            raise SchemaError("a state note has exactly three lines: origin, state, digest")
        if lines[0] != origin_of(chain_id):
            raise SchemaError(f"the state note's origin is {lines[0][:80]!r}, "
                              f"not {origin_of(chain_id)!r}")
        state = _STATE_LINE.fullmatch(lines[1])
        if state is None or int(state[1]) > MAX_NUMBER:
            raise SchemaError("a state note's second line is 'state <height> <header hash hex>'")
        digest = _DIGEST_LINE.fullmatch(lines[2])
        if digest is None:
            raise SchemaError(f"a state note's third line is '{ALGORITHM} <digest hex>'")
        return cls(chain_id, int(state[1]), state[2], bytes.fromhex(digest[1]))

    def verifies(self, public_key: PublicKey, signature: bytes) -> bool:
        """Return whether `signature` is `public_key`'s plain Ed25519 signature of this note."""
        try:
            public_key.verify_unframed(self.text().encode("utf-8"), signature)
        except SignatureError:
            return False
        return True


def sign_state_note(note: StateNote, name: str, key: PrivateKey) -> NoteSignature:
    """Cosign `note` as `name` (a node id) with that node's key."""
    return sign_note(note.text(), name, key)


@dataclass(frozen=True)
class SignedStateNote:
    """A state note with the signatures carried in it (not yet verified)."""

    note: StateNote
    signatures: tuple[NoteSignature, ...]

    def encode(self) -> str:
        """Return the signed note as text."""
        return SignedNote(self.note.text(), self.signatures).encode()


def parse_signed_state_note(message: str | bytes, chain_id: str) -> SignedStateNote:
    """Parse a signed state note of chain `chain_id` (syntax only); raise SchemaError if not one."""
    signed = parse_note(message)
    return SignedStateNote(StateNote.from_text(signed.text, chain_id), signed.signatures)


def check_state_cosigned(signed: SignedStateNote,
                         nodes: Mapping[str, NodeInfo]) -> frozenset[str]:
    """Return the cosigning node ids if nodes of a quorum of organisations signed; raise otherwise.

    The quorum is the finality rule's (`ledger.attestation.quorum_size`):
    more than half of the organisations that run registered nodes.  A
    registered node's signature that fails rejects the note
    (SignatureError), signatures of unknown keys are ignored, and too few
    organisations raise SignatureError naming how many signed and how many
    are needed.
    """
    if not nodes:
        raise SignatureError("no nodes are registered, so no quorum can cosign a state note")
    cosigners = verify_note(SignedNote(signed.note.text(), signed.signatures),
                            {n.id: n.public_key for n in nodes.values()})
    orgs = {nodes[n].org for n in cosigners}
    need = quorum_size(nodes.values())
    if len(orgs) < need:
        raise SignatureError(f"the state note of block {signed.note.height} is cosigned by nodes "
                             f"of {len(orgs)} organisation(s); a quorum is {need}")
    return cosigners
