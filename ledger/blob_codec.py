"""The stored form of the large blobs a node keeps: envelopes, event lists, state values.

They are canonical JSON, full of field names, contract names and statuses
that every record repeats, so a node stores them deflated against a preset
dictionary of exactly those fragments (ledger/blob_dictionary.py): about a
third of their size.  What is hashed, signed, served and exported is always
the exact canonical bytes; only the database cell is packed.

A packed cell is one marker byte naming the codec, then the raw deflate
stream.  Canonical JSON never starts with the marker (0x01), so a cell
without it is the blob itself: rows written before packing, or a blob that
would not get smaller, read back as they are.  Packing is deterministic for
one zlib build, but nothing relies on that: unpacking is what must be exact.
"""

from __future__ import annotations

import zlib

from ledger.blob_dictionary import DICTIONARY_V1

DEFLATE_V1 = b"\x01"  # marker of codec version 1: raw deflate against DICTIONARY_V1
LEVEL = 6  # on blobs of a few hundred bytes 9 packs no better, 1 is 15% worse for 17% less time
# Raw deflate (no zlib header or checksum: the audit compares contents) in an 8 KiB window,
# which holds the whole dictionary; a 32 KiB window and the default memory level packed no
# better and cost up to five times as long, allocating half a megabyte per blob.
WINDOW_BITS = -13
MEMORY_LEVEL = 6
INFLATE_WINDOW_BITS = -15  # reads a raw deflate stream of any window
_PRIMED = zlib.compressobj(LEVEL, zlib.DEFLATED, WINDOW_BITS, MEMORY_LEVEL, zdict=DICTIONARY_V1)


class BlobCodecError(ValueError):
    """Raised when a cell marked as packed is not a complete deflate stream of one blob."""


def pack(blob: bytes) -> bytes:
    """Return the stored form of `blob`: packed if that is shorter, else `blob` itself.

    Any bytes round-trip through `unpack`; a blob that itself starts with
    the marker is always packed, so its first byte cannot be mistaken.
    """
    packer = _PRIMED.copy()  # the dictionary already loaded: a third of the time of a fresh one
    packed = DEFLATE_V1 + packer.compress(blob) + packer.flush()
    if len(packed) < len(blob) or blob[:1] == DEFLATE_V1:
        return packed
    return blob


def unpack(stored: bytes) -> bytes:
    """Return the blob a stored cell holds (a cell without the marker is the blob).

    Raises BlobCodecError if a packed cell does not inflate to one whole
    stream with nothing after it.
    """
    if stored[:1] != DEFLATE_V1:
        return stored
    unpacker = zlib.decompressobj(INFLATE_WINDOW_BITS, zdict=DICTIONARY_V1)
    try:
        blob = unpacker.decompress(stored[1:])
    except zlib.error as exc:
        raise BlobCodecError(f"a packed blob does not inflate: {exc}") from exc
    if not unpacker.eof or unpacker.unused_data:
        raise BlobCodecError("a packed blob is cut short or has bytes after its end")
    return blob


def is_packed(stored: bytes) -> bool:
    """Return whether a stored cell is in a packed form (rather than the blob itself)."""
    return stored[:1] == DEFLATE_V1
