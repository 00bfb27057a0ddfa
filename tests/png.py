"""A small PNG reader for tests: enough to check a screenshot is a real, non-blank picture.

Reads 8-bit truecolour (RGB or RGBA), non-interlaced PNGs, as Chromium
writes its screenshots, with zlib and struct alone, so the tests need no
imaging library.  Rows are unfiltered with the five PNG filter types
(RFC 2083 section 6).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {2: 3, 6: 4}  # colour type -> bytes per pixel at bit depth 8


@dataclass(frozen=True)
class Picture:
    """A decoded picture: size and rows of RGB pixels."""

    width: int
    height: int
    rows: tuple[bytes, ...]  # each width x 3 bytes, RGB
    channels: int

    def count(self, colour: str) -> int:
        """Return how many pixels have exactly the colour '#rrggbb'."""
        rgb = bytes.fromhex(colour.removeprefix("#"))
        return sum(1 for row in self.rows for i in range(0, len(row), 3) if row[i:i + 3] == rgb)

    def colours(self) -> set[tuple[int, int, int]]:
        """Return the set of distinct RGB colours."""
        found: set[tuple[int, int, int]] = set()
        for row in self.rows:
            found.update(zip(row[0::3], row[1::3], row[2::3], strict=True))
        return found


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if not data.startswith(SIGNATURE):
        raise ValueError("not a PNG file")
    chunks, offset = [], len(SIGNATURE)
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        body = data[offset + 8:offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length:offset + 12 + length])
        if zlib.crc32(kind + body) != crc:
            raise ValueError(f"bad CRC in chunk {kind!r}")
        chunks.append((kind, body))
        offset += 12 + length
    return chunks


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(kind: int, line: bytearray, prior: bytes, bpp: int) -> bytearray:
    if kind == 0:
        return line
    if kind == 2:
        return bytearray((x + b) & 0xFF for x, b in zip(line, prior, strict=True))
    out = bytearray(len(line))
    for i, x in enumerate(line):
        a = out[i - bpp] if i >= bpp else 0
        b = prior[i]
        if kind == 1:
            out[i] = (x + a) & 0xFF
        elif kind == 3:
            out[i] = (x + ((a + b) >> 1)) & 0xFF
        elif kind == 4:
            out[i] = (x + _paeth(a, b, prior[i - bpp] if i >= bpp else 0)) & 0xFF
        else:
            raise ValueError(f"unknown PNG filter type {kind}")
    return out


def read_png(data: bytes) -> Picture:
    """Decode a PNG; raise ValueError if it is not an 8-bit RGB/RGBA non-interlaced PNG."""
    chunks = _chunks(data)
    if not chunks or chunks[0][0] != b"IHDR":
        raise ValueError("a PNG starts with IHDR")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if depth != 8 or colour not in CHANNELS or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}, "
                         f"interlace {interlace}")
    bpp = CHANNELS[colour]
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = width * bpp
    if len(raw) != height * (stride + 1):
        raise ValueError("the image data does not match the header's size")
    rows, prior = [], bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        line = _unfilter(raw[start], bytearray(raw[start + 1:start + 1 + stride]), prior, bpp)
        prior = bytes(line)
        rgb = prior if bpp == 3 else bytes(
            b for i in range(0, stride, 4) for b in prior[i:i + 3])
        rows.append(rgb)
    return Picture(width, height, tuple(rows), bpp)


def write_png(width: int, height: int, pixels: list[bytes], filters: list[int]) -> bytes:
    """Encode RGB rows with the given filter type per row (tests of the reader only)."""
    raw = bytearray()
    prior = bytes(width * 3)
    for row, kind in zip(pixels, filters, strict=True):
        raw.append(kind)
        raw += _filter(kind, row, prior)
        prior = row
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))

    return (SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(raw)))
            + chunk(b"IEND", b""))


def _filter(kind: int, row: bytes, prior: bytes) -> bytes:
    out = bytearray(len(row))
    for i, x in enumerate(row):
        a = row[i - 3] if i >= 3 else 0
        b = prior[i]
        c = prior[i - 3] if i >= 3 else 0
        predictor = (0, a, b, (a + b) >> 1, _paeth(a, b, c))[kind]
        out[i] = (x - predictor) & 0xFF
    return bytes(out)
