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

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ledger.attestation import NodeInfo
from ledger.crypto import Domain, PrivateKey, PublicKey, b64decode, b64encode
from ledger.errors import LedgerError, SchemaError, SignatureError
from ledger.timefmt import parse_timestamp
from ledger.tx import Envelope, parse_envelope

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


Loads = Callable[[bytes], Any]
ParseEnvelope = Callable[[Any], Envelope | None]


@dataclass(frozen=True)
class DecodedBatch:
    """What an ordered batch contributes to the next block, by the network's rules.

    `problem` says why the whole batch was refused (it then gives an empty
    block proposed by "unknown" at the previous block's time); `signer` is
    the registered node that signed it (None on an embedded chain);
    `dropped` counts transactions left out because they did not parse or
    named another chain.
    """

    proposer: str
    time: str
    envelopes: tuple[Envelope, ...]
    signer: str | None = None
    problem: str | None = None
    dropped: int = 0


def parse_or_none(wire: Any) -> Envelope | None:
    """Return the parsed envelope, or None for anything that does not parse."""
    try:
        return parse_envelope(wire)
    except Exception:  # any unparseable transaction is dropped, identically everywhere
        return None


Verified = Callable[[SignedBatch, PublicKey], bool]


def decode_batch(
    data: bytes, *, chain_id: str, nodes: Mapping[str, NodeInfo], previous_time: str,
    loads: Loads, parse: ParseEnvelope = parse_or_none, verified: Verified | None = None,
) -> DecodedBatch:
    """Decode an ordered batch as every node (and every auditor) must.

    A chain with registered `nodes` takes only batches signed by one of
    them over a body that names that node and this chain; an embedded chain
    (no nodes) takes unsigned batches too.  A refused batch becomes an empty
    block (proposer "unknown", time `previous_time`).  Transactions that do
    not parse, or name another chain, are dropped.  `loads` is the JSON
    parser the network agreed on (orjson's, in node and auditor alike), so
    odd bytes are judged the same everywhere.  `verified(batch, key)` may
    say that this very signature by `key` over these bytes was verified
    already (an auditor's verifier process); anything but True is checked
    here.  Never raises for bad data.
    """
    try:
        signer, body = _authentic_body(data, nodes, verified)
        value = loads(body)
        proposer, batch_time, txs = value["proposer"], value["time"], value["txs"]
        parse_timestamp(batch_time)
        if signer is not None and (proposer, value["chain_id"]) != (signer, chain_id):
            raise LedgerError(f"the batch signed by {signer} names another proposer or chain")
    except (ValueError, KeyError, TypeError, LedgerError) as exc:
        return DecodedBatch("unknown", previous_time, (), problem=str(exc) or type(exc).__name__)
    envelopes = []
    wires = txs if isinstance(txs, list) else []
    for wire in wires:
        envelope = parse(wire)
        if envelope is not None and envelope.body.chain_id == chain_id:
            envelopes.append(envelope)
    return DecodedBatch(str(proposer), batch_time, tuple(envelopes), signer,
                        dropped=len(wires) - len(envelopes))


def _authentic_body(data: bytes, nodes: Mapping[str, NodeInfo],
                    verified: Verified | None) -> tuple[str | None, bytes]:
    """Return (signing node, body) if the batch is acceptable; raise LedgerError if not."""
    if not nodes:  # an embedded chain: one node, no ordering members to distrust
        return None, open_batch(data).body if is_signed(data) else data
    batch = open_batch(data)
    node = nodes.get(batch.node_id)
    if node is None:
        raise LedgerError(f"the batch is signed by {batch.node_id!r}, not a registered node")
    if verified is None or verified(batch, node.public_key) is not True:
        batch.verify(node.public_key)
    return batch.node_id, batch.body
