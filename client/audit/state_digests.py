"""The state digests a node kept, checked against the digests of the state the audit rebuilt.

A node keeps the digest of its world state after every block, and the
running product at its head (ledger/state_digest.py); a future snapshot
is named by such a digest, so a wrong one must not pass an audit.  The
replay keeps the same digest block by block (`DigestTrail`, normalised 64
blocks at a time, so a block costs a few products rather than an
inversion), and each stored row is compared with the rebuilt digest at its
height: a difference is a `state_digest` finding naming that block.  A
height without a row is not a finding (a database older than digests kept
none for its earlier blocks); a chain file of version 1 without the tables
is audited as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from client.audit.report import AuditReport
from ledger.chainfile import STATE_ACCUMULATOR_TABLE, STATE_DIGEST_TABLE, decode_cell
from ledger.crypto import sha256
from ledger.state_digest import DIGEST_SIZE, StateDigest, normalized_all

NORMALISE_EVERY = 64  # blocks whose digests wait to be normalised together
DIGEST_ROWS_LINES = tuple(  # how the exporter starts a page of these tables' rows
    f'{{"type":"rows","table":"{t}",'.encode() for t in (STATE_DIGEST_TABLE,
                                                           STATE_ACCUMULATOR_TABLE))


class DigestTrail:
    """The rebuilt state's digest after each block, 32 bytes a block."""

    def __init__(self) -> None:
        self.running = StateDigest()
        self._waiting: list[StateDigest] = []
        self._done = bytearray()  # the digest after block h at [32h, 32h + 32)

    def advance(self, writes: Mapping[str, bytes | None],
                old: Callable[[str], bytes | None]) -> None:
        """Take the next block's writes; `old(key)` gives the value before them."""
        self.running = self.running.after(writes, old)
        self._waiting.append(self.running)
        if len(self._waiting) >= NORMALISE_EVERY:
            self._normalise()

    def _normalise(self) -> None:
        if not self._waiting:
            return
        done = normalized_all(self._waiting)
        for digest in done:
            self._done += digest.digest()
        self.running, self._waiting = done[-1], []

    def at(self, height: int) -> bytes | None:
        """Return the rebuilt digest after block `height`, or None past the rebuilt head."""
        self._normalise()
        if not 0 <= height < len(self._done) // DIGEST_SIZE:
            return None
        return bytes(self._done[height * DIGEST_SIZE:(height + 1) * DIGEST_SIZE])


class StateDigestChecks:
    """Collects the stored digest rows as they come; compares them once the chain is rebuilt."""

    def __init__(self, report: AuditReport) -> None:
        self.report = report
        self.pages: list[tuple[str, Any]] = []  # (table, the line's rows) in file order

    def take(self, table: str, rows: Any) -> None:
        """Keep one page of `state_digests` or `state_accumulator` rows (cells)."""
        self.pages.append((table, rows))

    def finish(self, trail: DigestTrail) -> None:
        """Compare every kept row with the rebuilt digests."""
        for table, rows in self.pages:
            for row in rows if isinstance(rows, list) else [rows]:
                self._check(trail, table, row)

    def _check(self, trail: DigestTrail, table: str, row: Any) -> None:
        if not isinstance(row, dict):
            self.report.find("source", f"a {table} row is not an object")
        elif table == STATE_DIGEST_TABLE:
            self._compare(trail, row.get("height"), decode_cell(row.get("digest")),
                          "the stored state digest")
        else:
            value = decode_cell(row.get("value"))
            self._compare(trail, row.get("height"),
                          sha256(value) if isinstance(value, bytes) else value,
                          "the digest of the stored running product (state_accumulator)")

    def _compare(self, trail: DigestTrail, height: Any, stored: Any, what: str) -> None:
        rebuilt = trail.at(height) if type(height) is int else None
        if rebuilt is None:
            self.report.find("state_digest", f"{what} names block {height!r}, which the "
                             "rebuilt chain does not have"[:200])
        elif stored != rebuilt:
            shown = stored.hex() if isinstance(stored, bytes) else repr(stored)[:80]
            self.report.find("state_digest", f"{what} after block {height} is {shown}; the "
                             f"rebuilt state's is {rebuilt.hex()}", block=height)
