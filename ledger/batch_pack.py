"""A kept batch without the transactions its block stores anyway: each envelope's bytes once.

A block keeps the exact signed batch it was made from (so anyone can check
the batch signature and derive the block again) and, beside it, every
transaction's canonical envelope.  The batch carries those same envelopes
in its wire form (`{"body": ..., "signatures": [{"signer": ..., "sig": ...}]}`,
as the proposing node's mempool writes it with orjson), so storing both
would keep every envelope twice.  `pack_batch` cuts each stored
transaction's wire bytes out of the batch and leaves a reference in its
place; `unpack_batch` puts the exact bytes back from the stored envelopes.

    skeleton: the batch bytes with the cut-out wires removed
    refs:     36 bytes per cut: offset in the skeleton (unsigned 32-bit,
              big-endian) and the transaction id (32 bytes), in offset
              order; naming the transaction, not its place in the block,
              lets a damaged or missing row be named when the batch
              cannot be rebuilt

A wire is cut only where its bytes, rebuilt from the canonical envelope,
are found verbatim in the batch, so whatever a batch holds (an envelope
written another way, a duplicate, garbage) is kept as it was, and packing
then unpacking always gives the batch back byte for byte.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence

import orjson

REF = struct.Struct(">I32s")


class UnpackError(ValueError):
    """Raised when a packed batch cannot be put back together from the stored envelopes.

    `tx_id` names the transaction whose envelope was missing or unusable,
    where that was the reason.
    """

    def __init__(self, message: str, tx_id: str | None = None) -> None:
        super().__init__(message)
        self.tx_id = tx_id


def wire_of(envelope: bytes) -> bytes | None:
    """Return the batch wire form of a canonical envelope, or None if it is not one.

    The wire form is what `Envelope.to_json()` gives, written by orjson:
    the same body text, each signature as signer then sig.
    """
    try:
        value = orjson.loads(envelope)
        signatures = value["signatures"]
        if not isinstance(value["body"], str) or not isinstance(signatures, list):
            return None
        wire = {"body": value["body"],
                "signatures": [{"signer": s["signer"], "sig": s["sig"]} for s in signatures]}
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return orjson.dumps(wire)


def pack_batch(batch: bytes, envelopes: Sequence[tuple[str, bytes]]) -> tuple[bytes, bytes]:
    """Return (skeleton, refs) of `batch`, cutting out the wires of `envelopes` (block order).

    `envelopes` are (transaction id in hex, canonical envelope) pairs.

    Envelopes are looked for in order, each after the previous cut; one
    not found verbatim is simply left in the skeleton.
    """
    parts: list[bytes] = []
    refs: list[bytes] = []
    cursor = kept = 0
    for tx_id, envelope in envelopes:
        wire = wire_of(envelope)
        at = -1 if wire is None else batch.find(wire, cursor)
        if wire is None or at < 0:
            continue
        parts.append(batch[cursor:at])
        kept += at - cursor
        refs.append(REF.pack(kept, bytes.fromhex(tx_id)))
        cursor = at + len(wire)
    parts.append(batch[cursor:])
    return b"".join(parts), b"".join(refs)


def unpack_batch(skeleton: bytes, refs: bytes, envelope_of: Callable[[str], bytes | None]) -> bytes:
    """Return the batch `pack_batch` packed, with the envelopes `envelope_of(tx id)` gives.

    Raises UnpackError if `refs` is malformed (length, offsets out of order
    or beyond the skeleton) or names a transaction without a usable envelope.
    """
    if len(refs) % REF.size:
        raise UnpackError(f"the batch references are {len(refs)} bytes, not a multiple of "
                          f"{REF.size}")
    parts: list[bytes] = []
    cursor = 0
    for offset, raw_id in REF.iter_unpack(refs):
        if not cursor <= offset <= len(skeleton):
            raise UnpackError(f"a batch reference points at offset {offset}, outside "
                              f"{cursor}..{len(skeleton)}")
        tx_id = raw_id.hex()
        envelope = envelope_of(tx_id)
        wire = None if envelope is None else wire_of(envelope)
        if wire is None:
            raise UnpackError(f"the batch names transaction {tx_id}, which its block stores "
                              "no usable envelope of", tx_id)
        parts += (skeleton[cursor:offset], wire)
        cursor = offset
    parts.append(skeleton[cursor:])
    return b"".join(parts)
