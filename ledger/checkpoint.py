"""Signed checkpoints of the global transaction log (C2SP tlog-checkpoint).

A checkpoint is the log's tree head at one size, bound to the block that
produced it, as a C2SP signed note (ledger/signed_note.py):

    ledger.receivables/<chain id>
    <tree size, decimal>
    <root hash, standard base64>
    block <height> <header hash, hex>

    — <node id> <base64(key ID || Ed25519 signature over the four lines above)>

Each registered node cosigns the checkpoint of every block it attests, with
its attestation key and its node id as key name.  A checkpoint cosigned by
nodes of a quorum of organisations (more than half of those running nodes,
`ledger.attestation.quorum_size`) is what a light client trusts, and two
such checkpoints that no consistency proof joins are evidence of a fork,
signed by the very nodes that made it.

Domain separation: note signatures are plain Ed25519 over the note text, as
the standard requires, not over a `Domain` tag.  The text starts with the
origin "ledger.receivables/", while every tagged message starts with
"receivables-ledger/v1/" (`ledger.crypto.DOMAIN_PREFIX`), so no checkpoint
signature can be taken for a transaction, batch, request or attestation
signature of the same node key, nor the other way round.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ledger.attestation import NodeInfo, quorum_size
from ledger.crypto import PrivateKey, b64decode, b64encode
from ledger.errors import SchemaError, SignatureError
from ledger.merkle import HASH_SIZE
from ledger.signed_note import (
    NoteSignature,
    SignedNote,
    check_text,
    parse_note,
    sign_note,
    verify_note,
)

ORIGIN_PREFIX = "ledger.receivables/"
MAX_NUMBER = 2**63 - 1  # sizes and heights, as the node stores them
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")
_BLOCK_LINE = re.compile(r"block (0|[1-9][0-9]{0,18}) ([0-9a-f]{64})")


def origin_of(chain_id: str) -> str:
    """Return the checkpoint origin line of chain `chain_id`."""
    return ORIGIN_PREFIX + chain_id


def _decimal(text: str, what: str) -> int:
    """Parse a decimal without leading zeros (ASCII digits only); raise SchemaError if not."""
    if not _DECIMAL.fullmatch(text) or int(text) > MAX_NUMBER:
        raise SchemaError(f"the checkpoint's {what} is not a decimal number without leading "
                          f"zeros: {text[:40]!r}")
    return int(text)


@dataclass(frozen=True)
class BlockRef:
    """The block a checkpoint was taken at: its height and header hash."""

    height: int
    hash: str

    def line(self) -> str:
        """Return the extension line naming this block."""
        return f"block {self.height} {self.hash}"


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: origin, tree size, root hash and optional extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.size <= MAX_NUMBER or len(self.root) != HASH_SIZE:
            raise SchemaError("a checkpoint has a size of 0 to 2**63-1 and a 32-byte root")
        for line in (self.origin, *self.extensions):
            if not line or "\n" in line:
                raise SchemaError("checkpoint origin and extension lines are non-empty lines")
        check_text(self.text())

    def text(self) -> str:
        """Return the note text: every line followed by a newline."""
        lines = (self.origin, str(self.size), b64encode(self.root), *self.extensions)
        return "".join(line + "\n" for line in lines)

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        """Parse a checkpoint note text strictly; raise SchemaError naming the problem."""
        check_text(text)
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise SchemaError("a checkpoint has an origin, a tree size and a root hash line")
        origin, size, root, *extensions = lines
        try:
            raw_root = b64decode(root, what="the checkpoint's root hash")
        except SignatureError as exc:
            raise SchemaError(str(exc)) from exc
        if len(raw_root) != HASH_SIZE:
            raise SchemaError("the checkpoint's root hash is not 32 bytes")
        return cls(origin, _decimal(size, "tree size"), raw_root, tuple(extensions))

    def block(self) -> BlockRef:
        """Return the block this checkpoint names; raise SchemaError unless exactly one."""
        if len(self.extensions) != 1:
            raise SchemaError("a ledger checkpoint has exactly one extension line, its block")
        match = _BLOCK_LINE.fullmatch(self.extensions[0])
        if match is None:
            raise SchemaError("a ledger checkpoint's extension is 'block <height> <hash hex>'")
        return BlockRef(_decimal(match[1], "block height"), match[2])


def block_checkpoint(chain_id: str, size: int, root: bytes, height: int,
                     block_hash: str) -> Checkpoint:
    """Return the checkpoint of chain `chain_id` after block `height`."""
    return Checkpoint(origin_of(chain_id), size, root, (BlockRef(height, block_hash).line(),))


def sign_checkpoint(checkpoint: Checkpoint, name: str, key: PrivateKey) -> NoteSignature:
    """Cosign `checkpoint` as `name` (a node id) with that node's key."""
    if not checkpoint.origin.startswith(ORIGIN_PREFIX):
        raise SchemaError(f"only checkpoints of origin {ORIGIN_PREFIX}... are signed here")
    return sign_note(checkpoint.text(), name, key)


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint with the signatures carried in its note (not yet verified)."""

    checkpoint: Checkpoint
    signatures: tuple[NoteSignature, ...]

    def note(self) -> SignedNote:
        """Return the signed note."""
        return SignedNote(self.checkpoint.text(), self.signatures)

    def encode(self) -> str:
        """Return the signed note as text."""
        return self.note().encode()


def parse_signed_checkpoint(message: str | bytes) -> SignedCheckpoint:
    """Parse a signed checkpoint strictly (syntax only); raise SchemaError naming the problem."""
    note = parse_note(message)
    return SignedCheckpoint(Checkpoint.from_text(note.text), note.signatures)


def check_origin(signed: SignedCheckpoint, chain_id: str) -> BlockRef:
    """Return the block of a checkpoint of chain `chain_id`; raise SchemaError otherwise."""
    if signed.checkpoint.origin != origin_of(chain_id):
        raise SchemaError(f"the checkpoint's origin is {signed.checkpoint.origin!r}, "
                          f"not {origin_of(chain_id)!r}")
    return signed.checkpoint.block()


def verify_cosigners(signed: SignedCheckpoint, nodes: Mapping[str, NodeInfo]) -> frozenset[str]:
    """Return the ids of the registered nodes whose signatures verify.

    Signatures of unknown keys are ignored; a registered node's signature
    that fails raises SignatureError, as does a checkpoint no node signed.
    """
    return verify_note(signed.note(), {n.id: n.public_key for n in nodes.values()})


def check_cosigned(signed: SignedCheckpoint, chain_id: str,
                   nodes: Mapping[str, NodeInfo]) -> frozenset[str]:
    """Return the cosigning node ids if a quorum of organisations signed; raise otherwise.

    Checks the origin and block line (SchemaError), every registered
    node's signature present (SignatureError), and that the nodes whose
    signatures verify belong to more than half of the organisations that
    run nodes (SignatureError naming how many signed and how many are needed).
    """
    check_origin(signed, chain_id)
    if not nodes:
        raise SignatureError("no nodes are registered, so no quorum can cosign a checkpoint")
    cosigners = verify_cosigners(signed, nodes)
    orgs = {nodes[n].org for n in cosigners}
    need = quorum_size(nodes.values())
    if len(orgs) < need:
        raise SignatureError(f"the checkpoint is cosigned by nodes of {len(orgs)} "
                             f"organisation(s); a quorum is {need}")
    return cosigners
