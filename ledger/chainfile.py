"""The chain file: a node database's rows as JSON Lines, exactly as stored.

An export never interprets what it reads: every stored value becomes a
*cell* that says what the database held, so a corrupt value travels to the
auditor intact and shows up there as a finding, not as a crash on the way.

    text      -> a JSON string
    integer   -> a JSON integer (booleans stay JSON booleans)
    NULL      -> null
    bytes     -> {"b64": "<standard base64>"}   (also text that is not valid UTF-8)
    huge int  -> {"int": "<decimal>"}            (beyond 64 bits; no column of ours holds one)
    real      -> {"real": "<repr>"}              (no column of ours is real; kept anyway)

Line types, in file order: one `meta`, one `block` per block (its row, its
batch row, its transaction rows and its attestation rows), `rows` pages of
the other tables, `orphans` (rows whose block row is missing) and a final
`end` with the counts, so a truncated file is noticed.  docs/FORMATS.md
("The chain file") describes each line.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ledger.canonical import JSONValue

FORMAT = "receivables-ledger-chain/2"
READABLE_FORMATS = ("receivables-ledger-chain/1", FORMAT)  # 2: kept batches packed (batch_pack)
Cell = bytes | str | int | bool | None
ROW_PAGE = 1000  # rows per `rows` line
INT64 = (-(2**63), 2**63 - 1)

BLOCK_TABLE = "blocks"
BATCH_TABLE = "block_batches"
TX_TABLE = "transactions"
ATTESTATION_TABLE = "attestations"
STATE_TABLE = "state"
NOTE_TABLE = "notes"
PARTY_TABLE = "tx_parties"
NONCE_TABLE = "nonces"
STATE_DIGEST_TABLE = "state_digests"  # height, digest (32 bytes): the state digest after a block
STATE_ACCUMULATOR_TABLE = "state_accumulator"  # id, height, value: the head's running product
PER_BLOCK_TABLES = (BATCH_TABLE, TX_TABLE, ATTESTATION_TABLE)


@dataclass(frozen=True)
class BadCell:
    """A cell the file does not spell correctly (say, broken base64); never equal to a value."""

    text: str


def encode_cell(value: Any) -> JSONValue:
    """Return the JSON form of one stored value (see the module docstring)."""
    if isinstance(value, int) and not isinstance(value, bool) and not INT64[0] <= value <= INT64[1]:
        return {"int": str(value)}  # wider than any column of ours; JSON readers may not cope
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
    return {"real": repr(value)}  # a float, or anything else a driver might hand back


_PLAIN = frozenset({str, int, bool, type(None)})


def decode_cell(value: Any) -> Cell | BadCell:
    """Return the stored value a cell stands for; BadCell if the cell itself is malformed."""
    if type(value) in _PLAIN:
        return value  # type: ignore[no-any-return]
    if type(value) is dict and len(value) == 1 and type(value.get("b64")) is str:
        try:
            return binascii.a2b_base64(value["b64"], strict_mode=True)
        except (binascii.Error, ValueError):
            pass
    if type(value) is dict and len(value) == 1 and type(value.get("int")) is str:
        try:
            return int(value["int"])
        except ValueError:
            pass
    return BadCell(repr(value)[:200])


def encode_row(row: Mapping[str, Any]) -> dict[str, JSONValue]:
    """Return a stored row (column -> value) with every value as a cell."""
    return {column: encode_cell(value) for column, value in row.items()}


def decode_row(value: Any) -> dict[str, Cell | BadCell]:
    """Return a row of cells as column -> stored value ({} if it is not an object)."""
    if not isinstance(value, dict):
        return {}
    return {str(column): cell if type(cell) in _PLAIN else decode_cell(cell)
            for column, cell in value.items()}
