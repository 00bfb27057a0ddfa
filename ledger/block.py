"""Blocks: an ordered batch of transactions and a header that commits to it.

The header binds the block to its predecessor (`prev_hash`), to its place in
the ordering service (`position`), to the exact transactions (`tx_root`), to
what executing them produced (`result_root`: each transaction's validity and
state writes, so two nodes that computed different results produce different
headers) and to the size of the global transaction log after the block.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ledger.canonical import JSONValue, canonical_bytes, parse_trusted
from ledger.canonical import encode_string as _encode_string
from ledger.crypto import sha256_hex
from ledger.errors import SchemaError
from ledger.merkle import LEAF_PREFIX, leaf_hash, root_from_leaf_hashes

GENESIS_PREV_HASH = "00" * 32
_INT_FIELDS = frozenset({"height", "position", "tx_count", "log_size"})
HEADER_FIELDS = (
    "chain_id",
    "height",
    "prev_hash",
    "position",
    "proposer",
    "time",
    "tx_count",
    "tx_root",
    "result_root",
    "log_size",
)


@dataclass(frozen=True)
class BlockHeader:
    """The signed-over summary of one block."""

    chain_id: str
    height: int
    prev_hash: str
    position: int
    proposer: str
    time: str
    tx_count: int
    tx_root: str
    result_root: str
    log_size: int

    def to_json(self) -> dict[str, JSONValue]:
        """Return the header as a JSON-ready dict."""
        return {name: getattr(self, name) for name in HEADER_FIELDS}

    def canonical(self) -> bytes:
        """Return the canonical bytes that are hashed and signed."""
        return canonical_bytes(self.to_json())

    def hash(self) -> str:
        """Return the header hash (the block hash), hex."""
        return sha256_hex(self.canonical())

    @classmethod
    def from_json(cls, value: Any) -> BlockHeader:
        """Build a header from JSON; raise SchemaError if a field is missing or mistyped."""
        if not isinstance(value, dict) or set(value) != set(HEADER_FIELDS):
            raise SchemaError(f"a block header has exactly the fields {', '.join(HEADER_FIELDS)}")
        for name in HEADER_FIELDS:
            expected = int if name in _INT_FIELDS else str
            if not isinstance(value[name], expected) or isinstance(value[name], bool):
                raise SchemaError(f"header field {name} must be {expected.__name__}")
        return cls(**value)


@dataclass(frozen=True)
class TxResult:
    """What executing one transaction produced: validity, reason and state writes."""

    tx_id: str
    valid: bool
    code: str
    reason: str
    writes: tuple[tuple[str, JSONValue], ...] = ()  # decoded; see decoded_writes()
    events: tuple[JSONValue, ...] = field(default=())
    encoded_writes: tuple[tuple[str, bytes | None], ...] | None = field(
        default=None, compare=False, repr=False
    )

    def decoded_writes(self) -> tuple[tuple[str, JSONValue], ...]:
        """Return the writes as (key, value or None), decoding encoded writes if need be."""
        if self.encoded_writes is None:
            return self.writes
        return tuple((k, None if raw is None else parse_trusted(raw))
                     for k, raw in self.encoded_writes)

    def to_json(self) -> dict[str, JSONValue]:
        """Return the result as a JSON-ready dict (writes as [key, value|null] pairs)."""
        return {
            "tx": self.tx_id,
            "valid": self.valid,
            "code": self.code,
            "reason": self.reason,
            "writes": [[k, v] for k, v in self.decoded_writes()],
            "events": list(self.events),
        }

    @cached_property
    def events_bytes(self) -> bytes:
        """Return the canonical bytes of the events list (encoded once, used twice)."""
        return canonical_bytes(list(self.events))

    def canonical(self) -> bytes:
        """Return the canonical bytes of `to_json()`.

        When the writes are at hand already encoded, they and the events are
        spliced in rather than encoded again: canonical JSON is compositional,
        and the keys are written in their sorted order (code, events, reason,
        tx, valid, writes).
        """
        if self.encoded_writes is None:
            return canonical_bytes(self.to_json())
        return b"".join(self._spliced())

    def leaf(self) -> bytes:
        """Return the Merkle leaf hash of this result for `result_root`."""
        if self.encoded_writes is None:
            return leaf_hash(self.canonical())
        digest = hashlib.sha256(LEAF_PREFIX)  # leaf_hash, without copying the bytes once more
        digest.update(b"".join(self._spliced()))
        return digest.digest()

    def _spliced(self) -> list[bytes]:
        """Return the pieces of the canonical bytes, with the encoded writes as they are."""
        pieces = [b'{"code":', _text_bytes(self.code), b',"events":', self.events_bytes,
                  b',"reason":', _text_bytes(self.reason), b',"tx":', _text_bytes(self.tx_id),
                  b',"valid":', b"true" if self.valid else b"false", b',"writes":[']
        for index, (key, raw) in enumerate(self.encoded_writes or ()):
            pieces += (b",[" if index else b"[", _text_bytes(key), b",",
                       b"null" if raw is None else raw, b"]")
        pieces.append(b"]}")
        return pieces


def _text_bytes(value: Any) -> bytes:
    """Return canonical_bytes(value), directly for a str (its escaped form, as UTF-8)."""
    if type(value) is not str:
        return canonical_bytes(value)
    try:
        return _encode_string(value).encode("utf-8")
    except UnicodeEncodeError:
        return canonical_bytes(value)  # raises EncodingError, as canonical_bytes does


def tx_root(envelope_leaves: list[bytes]) -> str:
    """Return the hex RFC 9162 root over the canonical bytes of the block's envelopes."""
    return root_from_leaf_hashes([leaf_hash(data) for data in envelope_leaves]).hex()


def result_root(results: list[TxResult]) -> str:
    """Return the hex RFC 9162 root over the block's transaction results."""
    return root_from_leaf_hashes([r.leaf() for r in results]).hex()


def next_header(
    previous: BlockHeader, *, position: int, proposer: str, time: str,
    results: list[TxResult], envelope_bytes: list[bytes] | None = None,
    leaves: list[bytes] | None = None,
) -> BlockHeader:
    """Return the header of the block after `previous` with these transactions and results.

    The block's envelopes are given by their canonical bytes
    (`envelope_bytes`) or, if the caller has them already, their log leaf
    hashes (`leaves`), in block order; the global log grows by one entry
    per transaction.
    """
    if leaves is not None:
        hashes = leaves
    elif envelope_bytes is not None:
        hashes = [leaf_hash(data) for data in envelope_bytes]
    else:
        raise ValueError("give the envelopes' canonical bytes or their leaf hashes")
    return BlockHeader(
        chain_id=previous.chain_id, height=previous.height + 1, prev_hash=previous.hash(),
        position=position, proposer=proposer, time=time, tx_count=len(hashes),
        tx_root=root_from_leaf_hashes(hashes).hex(),
        result_root=result_root(results),
        log_size=previous.log_size + len(hashes),
    )
