"""A state snapshot at a final height, and the checks that make it trustworthy without a replay.

A new node (or an auditor) need not replay a long chain from genesis: it
takes the state at a final height H with what makes it checkable, and
verifies it against what a quorum of the consortium signed.  The snapshot
file is JSON lines (docs/FORMATS.md, "The snapshot file"): a head line,
then pages of block headers 0..H, of the log's transactions (index, block,
position, id, leaf hash), their parties, the used nonces, the state rows and
the attestations of blocks 1..H, then an end line.

`SnapshotCheck` trusts none of it.  It is fed the pages in file order and
refuses (SnapshotRefused, one line naming the problem) unless: block 0 is
the genesis the checker holds; every header links to the one before, up to
H's, whose hash the head line names; the transactions fill exactly the log
sizes the headers state; a quorum of the genesis's registered nodes attested
H's header (`check_certificate`), cosigned the checkpoint of the log rebuilt
from the leaves (so inclusion proofs of every transaction stay checkable),
and cosigned the state note (ledger/state_note.py) whose digest equals the
digest of the state rows (MuHash3072, recomputed, never read).  The nonces
and transaction ids (replay protection) are not covered by any signature:
a forged set can only make the node refuse a transaction the others accept,
or accept one they record invalid, and either shows as the node diverging.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.attestation import Attestation, NodeInfo, check_certificate
from ledger.block import BlockHeader
from ledger.canonical import parse_json
from ledger.checkpoint import SignedCheckpoint, block_checkpoint, check_cosigned
from ledger.crypto import b64decode
from ledger.errors import LedgerError
from ledger.merkle import HASH_SIZE, node_hash
from ledger.signed_note import NoteSignature, key_id
from ledger.state_digest import StateDigest
from ledger.state_note import check_state_cosigned, parse_signed_state_note

FORMAT = "receivables-ledger/snapshot"
VERSION = 1
PAGE_ROWS = 10_000
SECTIONS = ("headers", "txs", "parties", "nonces", "state", "attestations")
ARCHIVED_CODE = "archived"  # the code of a transaction row kept only as its log entry
_HEX64 = re.compile(r"[0-9a-f]{64}")


class SnapshotRefused(LedgerError):
    """Raised when a snapshot is malformed or does not verify; the message names the problem."""

    code = "bad_snapshot"


@dataclass(frozen=True)
class SnapshotHead:
    """The head line: which chain, which height and block, and the quorum's state note."""

    chain_id: str
    genesis_hash: str
    height: int
    block_hash: str
    log_size: int
    state_note: str  # the signed state note of block `height`, as cosigned
    counts: Mapping[str, int]

    def to_json(self) -> dict[str, Any]:
        """Return the head line's JSON."""
        return {"type": "snapshot", "format": FORMAT, "version": VERSION,
                "chain_id": self.chain_id, "genesis_hash": self.genesis_hash,
                "height": self.height, "block_hash": self.block_hash, "log_size": self.log_size,
                "state_note": self.state_note, "counts": dict(self.counts)}

    @classmethod
    def from_json(cls, value: Any) -> SnapshotHead:
        """Parse the head line; raise SnapshotRefused if it is not one of this version."""
        if not isinstance(value, dict) or value.get("type") != "snapshot" or (
                value.get("format"), value.get("version")) != (FORMAT, VERSION):
            raise SnapshotRefused(f"the file does not start with a {FORMAT} version "
                                  f"{VERSION} head line")
        try:
            counts = value["counts"]
            head = cls(str(value["chain_id"]), str(value["genesis_hash"]), _int(value["height"]),
                       str(value["block_hash"]), _int(value["log_size"]),
                       str(value["state_note"]), {s: _int(counts[s]) for s in SECTIONS})
        except (KeyError, TypeError) as exc:
            raise SnapshotRefused(f"the snapshot's head line lacks or mistypes {exc}") from exc
        return head


def _int(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise TypeError("a count, height or size (a non-negative integer)")
    return value


TxEntry = tuple[int, Any, Any, str, bytes]
"""A log entry of a snapshot: log index, block height, position, tx id, leaf hash (the
height and position as read, checked against the headers by `SnapshotCheck`)."""


def tx_entries(rows: Sequence[Any]) -> list[TxEntry]:
    """Check the shape of a page of [log index, height, position, tx id, leaf hash b64].

    A function of the page alone, like `state_elements`: the log index is an
    integer, the id 64 lower-case hex digits, the leaf hash 32 bytes.
    """
    entries: list[TxEntry] = []
    for row in rows:
        try:
            log_index, height, position, tx_id, leaf_text = row
            leaf = b64decode(leaf_text, what="a leaf hash")
        except (ValueError, TypeError, LedgerError) as exc:
            raise SnapshotRefused(f"a transaction row of the snapshot is malformed "
                                  f"({_after(entries)})") from exc
        if not (type(log_index) is int and isinstance(tx_id, str) and _HEX64.fullmatch(tx_id)
                and len(leaf) == HASH_SIZE):
            raise SnapshotRefused(f"a transaction row of the snapshot is malformed "
                                  f"({_after(entries)})")
        entries.append((log_index, height, position, tx_id, leaf))
    return entries


def _after(entries: list[TxEntry]) -> str:
    return f"after log entry {entries[-1][0]}" if entries else "at the start of a page"


def state_elements(rows: Sequence[Any], max_height: int,
                   after: str = "") -> list[tuple[str, bytes]]:
    """Check one page of state rows [key, height, value]; return its (key, value bytes).

    Each row has that shape with a height from 0 to `max_height`, and the
    keys increase strictly from `after` on.  A function of the page alone,
    so that worker processes can check pages while the checker reads others
    (`SnapshotCheck.take_checked_state` then checks where a page meets the one before).
    """
    elements = []
    last = after
    for row in rows:
        if not (isinstance(row, list) and len(row) == 3 and isinstance(row[0], str)
                and type(row[1]) is int and 0 <= row[1] <= max_height
                and isinstance(row[2], str)):
            where = f"after key {last[:60]!r}" if last else "at the start of a page"
            raise SnapshotRefused(f"a state row of the snapshot is malformed ({where})")
        if row[0] <= last:
            raise SnapshotRefused(f"the snapshot's state keys are not in strictly "
                                  f"increasing order at {row[0][:60]!r}")
        last = row[0]
        elements.append((row[0], row[2].encode("utf-8")))
    return elements


class LogFrontier:
    """The RFC 9162 root of a log given leaf by leaf, keeping only its perfect subtrees."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []  # (level, hash), levels decreasing

    def append(self, leaf: bytes) -> None:
        """Add the next leaf hash."""
        level, value = 0, leaf
        while self._stack and self._stack[-1][0] == level:
            value = node_hash(self._stack.pop()[1], value)
            level += 1
        self._stack.append((level, value))
        self.size += 1

    def root(self) -> bytes:
        """Return the root of the leaves so far; raise SnapshotRefused for an empty log."""
        if not self._stack:
            raise SnapshotRefused("the snapshot's log is empty (block 0 has one transaction)")
        value = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            value = node_hash(left, value)
        return value


class SnapshotCheck:
    """Checks a snapshot's pages as they are read; `finish` gives the verdict."""

    def __init__(self, head: SnapshotHead, *, chain_id: str, genesis_hash: str,
                 nodes: Mapping[str, NodeInfo]) -> None:
        if head.chain_id != chain_id or head.genesis_hash != genesis_hash:
            raise SnapshotRefused(f"the snapshot is of chain {head.chain_id!r} with genesis "
                                  f"{head.genesis_hash[:16]}…, not this node's {chain_id!r} "
                                  f"with genesis {genesis_hash[:16]}…")
        if not nodes:
            raise SnapshotRefused("the genesis registers no nodes, so no quorum can vouch for "
                                  "a snapshot")
        self.head = head
        self.nodes = dict(nodes)
        self.headers: list[BlockHeader] = []
        self.log = LogFrontier()
        self.digest = StateDigest()
        self.seen = dict.fromkeys(SECTIONS, 0)
        self._last_key = ""
        self._attestations: list[Attestation] = []

    def take_headers(self, rows: Sequence[Any]) -> list[BlockHeader]:
        """Check a page of header texts (canonical JSON): each links to the one before."""
        page = []
        for text in rows:
            try:
                raw = str(text).encode("utf-8")
                header = BlockHeader.from_json(parse_json(raw))
            except (LedgerError, TypeError) as exc:
                raise SnapshotRefused(f"header {len(self.headers)} of the snapshot is not a "
                                      f"block header: {exc}") from exc
            height = len(self.headers)
            if header.canonical() != raw or header.height != height:
                raise SnapshotRefused(f"header {height} of the snapshot is not block {height}'s "
                                      "canonical header")
            if height == 0 and header.hash() != self.head.genesis_hash:
                raise SnapshotRefused("the snapshot's block 0 is not this genesis's block 0")
            if height > 0 and header.prev_hash != self.headers[-1].hash():
                raise SnapshotRefused(f"the snapshot's header {height} does not link to header "
                                      f"{height - 1} (prev_hash {header.prev_hash[:16]}…)")
            self.headers.append(header)
            page.append(header)
        self.seen["headers"] += len(rows)
        return page

    def take_txs(self, rows: Sequence[Any]) -> list[bytes]:
        """Check a page of [log index, height, position, tx id, leaf hash b64] in log order.

        Returns the page's leaf hashes, decoded (a restore stores them).
        """
        return self.take_tx_entries(tx_entries(rows))

    def take_tx_entries(self, entries: Sequence[TxEntry]) -> list[bytes]:
        """Check that a page of entries (`tx_entries`, checked here or in a worker) continues
        the log, each where its block's header puts it; return their leaf hashes."""
        leaves = []
        for log_index, height, position, _, leaf in entries:
            index = self.log.size
            if not (log_index == index and self._in_block(index, height, position)):
                raise SnapshotRefused(f"transaction {index} of the snapshot does not sit in the "
                                      "log where its block's header puts it")
            self.log.append(leaf)
            leaves.append(leaf)
        self.seen["txs"] += len(entries)
        return leaves

    def _in_block(self, index: int, height: Any, position: Any) -> bool:
        """Return whether log entry `index` is at `position` of block `height`, by the headers."""
        if type(height) is not int or not 0 <= height < len(self.headers):
            return False
        first = self.headers[height - 1].log_size if height > 0 else 0
        return first <= index < self.headers[height].log_size and position == index - first

    def take_pairs(self, section: str, rows: Sequence[Any]) -> None:
        """Check a page of parties [uscc, log index] or nonces [signer, nonce]: shape only."""
        for row in rows:
            if not (isinstance(row, list) and len(row) == 2 and isinstance(row[0], str)
                    and isinstance(row[1], int if section == "parties" else str)):
                raise SnapshotRefused(f"a row of the snapshot's {section} is malformed")
        self.seen[section] += len(rows)

    def take_state(self, rows: Sequence[Any]) -> list[tuple[str, bytes]]:
        """Check a page of [key, height, value] in key order; return its (key, bytes) elements.

        The caller digests them (`add_digest`), in this process or others.
        """
        elements = state_elements(rows, self.head.height, after=self._last_key)
        self.take_checked_state(elements[0][0] if elements else "",
                                elements[-1][0] if elements else "", len(elements))
        return elements

    def take_checked_state(self, first: str, last: str, count: int) -> None:
        """Take a page of `count` state rows, keys `first`..`last`, that `state_elements`
        checked elsewhere (a worker process): its keys must follow the previous page's."""
        if count and first <= self._last_key:
            raise SnapshotRefused(f"the snapshot's state keys are not in strictly increasing "
                                  f"order at {first[:60]!r}")
        if count:
            self._last_key = last
        self.seen["state"] += count

    def add_digest(self, part: StateDigest) -> None:
        """Fold in the digest of a page of state elements."""
        self.digest = self.digest.union(part)

    def take_attestations(self, rows: Sequence[Any]) -> None:
        """Check a page of [height, node, header hash, sig, note_sig, state_sig] (b64 or null)."""
        for row in rows:
            try:
                height, node, header_hash, sig, note_sig, state_sig = row
                wire = {"chain_id": self.head.chain_id, "height": height, "hash": header_hash,
                        "node": node, "sig": sig}
                wire.update({k: v for k, v in (("note_sig", note_sig), ("state_sig", state_sig))
                             if v is not None})
                att = Attestation.from_json(wire)
            except (ValueError, TypeError, LedgerError) as exc:
                raise SnapshotRefused(f"an attestation row of the snapshot is malformed: {exc}"
                                      ) from exc
            if att.height == self.head.height:
                self._attestations.append(att)
        self.seen["attestations"] += len(rows)

    def finish(self) -> StateDigest:
        """Return the state digest if the whole snapshot verifies; raise SnapshotRefused if not."""
        for section in SECTIONS:
            if self.seen[section] != self.head.counts[section]:
                raise SnapshotRefused(f"the snapshot holds {self.seen[section]} {section} rows; "
                                      f"its head line says {self.head.counts[section]} (cut "
                                      "short?)")
        head = self.headers[-1] if self.headers else None
        if head is None or (head.height, head.hash()) != (self.head.height, self.head.block_hash):
            raise SnapshotRefused(f"the snapshot's headers do not end at block "
                                  f"{self.head.height} {self.head.block_hash[:16]}…")
        if self.log.size != head.log_size or head.log_size != self.head.log_size:
            raise SnapshotRefused(f"the snapshot's log has {self.log.size} transactions; block "
                                  f"{head.height}'s header says {head.log_size}")
        self._check_quorum(head)
        return self.digest

    def _check_quorum(self, head: BlockHeader) -> None:
        chain_id, height, block_hash = self.head.chain_id, head.height, head.hash()
        try:
            valid = check_certificate(chain_id, height, block_hash, self._attestations,
                                      self.nodes)
        except LedgerError as exc:
            raise SnapshotRefused(f"block {height} is not certified: {exc}") from exc
        checkpoint = block_checkpoint(chain_id, head.log_size, self.log.root(), height,
                                      block_hash)
        cosigned = SignedCheckpoint(checkpoint, tuple(
            NoteSignature(a.node_id, key_id(a.node_id, self.nodes[a.node_id].public_key),
                          a.note_signature) for a in valid if a.note_signature is not None))
        try:
            check_cosigned(cosigned, chain_id, self.nodes)
        except LedgerError as exc:
            raise SnapshotRefused(f"the log rebuilt from the snapshot's leaves (size "
                                  f"{head.log_size}, root {checkpoint.root.hex()[:16]}…) is not "
                                  f"the one a quorum cosigned for block {height}: {exc}") from exc
        try:
            note = parse_signed_state_note(self.head.state_note, chain_id)
            check_state_cosigned(note, self.nodes)
        except LedgerError as exc:
            raise SnapshotRefused(f"the snapshot's state note is not a quorum's: {exc}") from exc
        if (note.note.height, note.note.block_hash) != (height, block_hash):
            raise SnapshotRefused(f"the snapshot's state note is of block {note.note.height}, "
                                  f"not {height}")
        computed = self.digest.digest()
        if computed != note.note.digest:
            raise SnapshotRefused(f"state digest mismatch: the snapshot's state rows digest to "
                                  f"{computed.hex()}, but the digest a quorum cosigned for block "
                                  f"{height} is {note.note.digest.hex()}")

