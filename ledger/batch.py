"""Signed batches: what a node hands to the ordering engine.

A batch is the JSON body the proposing node built (chain id, proposer, time,
transactions), preceded by one line naming the proposing node and its
Ed25519 signature over the exact body bytes:

    ledger-batch/1 <node id> <signature, base64>\\n<body bytes>

The signature is over `Domain.BATCH` + body, and the body names the chain,
so a batch signed for one consortium means nothing in another.  Signing the
exact bytes (not a re-serialisation) lets every node check a batch without
re-encoding it.  An ordering member that injects or alters a batch cannot
sign it as a registered node, so every node rejects it identically.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.crypto import Domain, PrivateKey, PublicKey, b64decode, b64encode
from ledger.errors import SchemaError, SignatureError

SIGNED_BATCH_TAG = b"ledger-batch/1 "
MAX_HEADER_LINE = 256


@dataclass(frozen=True)
class SignedBatch:
    """A batch body with the id of the node that signed it and the signature."""

    node_id: str
    signature: bytes
    body: bytes

    def encode(self) -> bytes:
        """Return the wire form handed to the ordering engine."""
        line = SIGNED_BATCH_TAG + f"{self.node_id} {b64encode(self.signature)}\n".encode("ascii")
        return line + self.body

    def verify(self, key: PublicKey) -> None:
        """Raise SignatureError unless `key` signed this body."""
        key.verify(Domain.BATCH, self.body, self.signature)


def sign_batch(body: bytes, node_id: str, key: PrivateKey) -> SignedBatch:
    """Sign `body` as node `node_id`."""
    if not node_id or " " in node_id or not node_id.isascii():
        raise SchemaError("a node id is non-empty ASCII without spaces")
    return SignedBatch(node_id, key.sign(Domain.BATCH, body), body)


def is_signed(data: bytes) -> bool:
    """Return whether `data` carries a batch signature line."""
    return data.startswith(SIGNED_BATCH_TAG)


def open_batch(data: bytes) -> SignedBatch:
    """Split a signed batch into its parts; raise SchemaError if it is malformed."""
    if not is_signed(data):
        raise SchemaError("the batch carries no signature line")
    end = data.find(b"\n", 0, MAX_HEADER_LINE)
    if end < 0:
        raise SchemaError("the batch signature line does not end")
    try:
        node_id, signature = data[len(SIGNED_BATCH_TAG):end].decode("ascii").split(" ")
        raw_signature = b64decode(signature, what="the batch signature")
    except (UnicodeDecodeError, ValueError, SignatureError) as exc:
        raise SchemaError("the batch signature line is malformed") from exc
    if not node_id:
        raise SchemaError("the batch signature line names no node")
    return SignedBatch(node_id, raw_signature, data[end + 1:])
