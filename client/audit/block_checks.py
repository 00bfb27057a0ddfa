"""Checks of one stored block against the block the audit re-derived.

The stored header must be canonical and agree with its row; the stored
chain must link (height, previous hash, ordering position, time); every
header field must equal the re-derived one; every stored transaction row
must equal, column by column, what re-execution produced; and the block's
attestations must be valid signatures of registered nodes over the
re-derived header hash, from a quorum of organisations where the chain has
nodes.  Each finding names the block, and the transaction where there is one.
"""

from __future__ import annotations

import binascii
from typing import Any

from client.audit.cells import differing, same, same_cell, show
from client.audit.replay import Derived, Replay
from client.audit.report import AuditReport
from client.audit.source import Row, StoredBlock
from client.audit.verifier import Verdicts, attestation_of, row_key
from ledger.attestation import NodeInfo, quorum_size
from ledger.block import GENESIS_PREV_HASH, HEADER_FIELDS, BlockHeader
from ledger.canonical import parse_canonical
from ledger.checkpoint import block_checkpoint
from ledger.errors import LedgerError
from ledger.state_note import StateNote

ROW_COLUMNS = ("height", "hash", "position", "time", "tx_count")


def stored_header(report: AuditReport, block: StoredBlock, height: int) -> BlockHeader | None:
    """Return the block's stored header if it is canonical and well-formed (else a finding)."""
    raw = block.row.get("header")
    if not isinstance(raw, bytes):
        report.find("header", "the stored header is not bytes", block=height)
        return None
    try:
        header = BlockHeader.from_json(parse_canonical(raw))
    except LedgerError as exc:
        report.find("header", f"the stored header does not parse: {exc}", block=height)
        return None
    expected = {**header.to_json(), "hash": header.hash()}
    for column in ROW_COLUMNS:
        if not same(block.row.get(column), expected[column]):
            report.find("header", f"the block row's {column} column "
                        f"({show(block.row.get(column))}) disagrees with its header "
                        f"({show(expected[column])})", block=height)
    return header


def check_link(report: AuditReport, previous: BlockHeader | None, header: BlockHeader | None,
               height: int) -> None:
    """Check that a stored header follows the previous stored one (or starts the chain)."""
    if header is None:
        return
    if previous is None:
        if (header.height, header.prev_hash) != (0, GENESIS_PREV_HASH):
            report.find("link", "the chain does not start with a genesis header", block=height)
        return
    problems = [
        (header.height != previous.height + 1, f"height {header.height} does not follow "
                                               f"{previous.height}"),
        (header.prev_hash != previous.hash(), f"prev_hash does not link to the stored block "
                                              f"{previous.height}"),
        (header.position <= previous.position, "the ordering position does not increase"),
        (header.time < previous.time, "block time goes backwards"),
        (header.chain_id != previous.chain_id, "the chain id changes"),
    ]
    for failed, message in problems:
        if failed:
            report.find("link", message, block=height)


def compare_header(report: AuditReport, derived: Derived, header: BlockHeader | None) -> None:
    """Report every header field that differs from the re-derived header."""
    if header is None:
        return
    rebuilt = derived.header.to_json()
    stored = header.to_json()
    for name in HEADER_FIELDS:
        if stored[name] != rebuilt[name]:
            report.find("header", f"stored {name} {show(stored[name])} differs from the "
                        f"re-derived {show(rebuilt[name])}", block=derived.header.height)


def compare_txs(report: AuditReport, block: StoredBlock, derived: Derived,
                verdicts: Verdicts) -> None:
    """Compare each stored transaction row with the re-executed transaction.

    Rows are compared as cells: text and integers as they are, bytes in
    their base64 form, so nothing stored needs decoding when all is well.
    Where the block's transactions are the batch's and the verifier found a
    row's envelope and leaf hash cells to be exactly the batch envelope's,
    those two cells are not built again here.
    """
    height = derived.header.height
    stored = {row_key(row.get("id") if isinstance(row, dict) else row): row
              for row in block.raw_txs}
    checked = verdicts.stored_as_batch if derived.from_batch else frozenset[str]()
    for index, (envelope, result, leaf) in enumerate(zip(derived.envelopes, derived.results,
                                                         derived.leaves, strict=True)):
        row = stored.pop(envelope.tx_id, None)
        if row is None:
            report.find("transaction", "the transaction is not stored with its block",
                        block=height, tx=envelope.tx_id)
            continue
        values = (envelope.tx_id, height, index, derived.first_index + index,
                  envelope.body.contract, envelope.body.action, result.valid, result.code,
                  result.reason, result.events_bytes)
        trusted = envelope.tx_id in checked
        if trusted and type(row) is dict and stored_as(row, values):
            continue  # the usual case, in one compare
        expected = dict(zip(TX_COLUMNS[:9], values[:9], strict=True))
        if not trusted:
            expected["envelope"] = envelope.canonical()
            expected["leaf_hash"] = leaf
        expected["events"] = result.events_bytes
        wrong = _wrong_cells(row, expected)
        if wrong:
            report.find("transaction", f"stored {differing(wrong)} from the re-executed "
                        "transaction", block=height, tx=envelope.tx_id)
    for tx_id in stored:
        report.find("transaction", f"a stored transaction row ({show(tx_id)}) is not one "
                    "this block's batch gives", block=height,
                    tx=tx_id if isinstance(tx_id, str) else None)


TX_COLUMNS = ("id", "height", "position", "log_index", "contract", "action", "valid", "code",
              "reason", "events")
_CELL_TYPES = (str, int, int, int, str, str, int, str, str, dict)
_VALID = TX_COLUMNS.index("valid")


def stored_as(row: dict[str, Any], values: tuple[Any, ...]) -> bool:
    """Say whether a row holds exactly these values of TX_COLUMNS, compared in one go.

    The last value is bytes, whose cell is {"b64": text}.  Equal cells of
    exactly the column types (valid stored as 0/1, or as a bool) are what
    the cell-by-cell check accepts; any other row is compared cell by cell
    to say which columns differ.
    """
    cells = tuple(map(row.get, TX_COLUMNS))
    types = [*map(type, cells)]
    if types[_VALID] is bool:  # SQLite stores it as 0/1, PostgreSQL as a bool
        types[_VALID] = int
    if tuple(types) != _CELL_TYPES:
        return False
    events = binascii.b2a_base64(values[-1], newline=False).decode()
    return cells == (*values[:-1], {"b64": events})


def _wrong_cells(row: Any, expected: dict[str, Any]) -> list[str]:
    """Return the columns whose cell is not `same_cell` as expected (text, int inline)."""
    wrong = []
    for column, value in expected.items():
        cell = row.get(column, _MISSING)
        kind = type(value)
        if kind is str or kind is int:  # what same() decides for exactly these types
            if type(cell) is kind and cell == value:
                continue
        elif same_cell(cell, value):
            continue
        wrong.append(column)
    return wrong


# an attestation row's columns (docs/FORMATS.md): the last two may be absent, in files from
# databases that predate checkpoint or state-note signatures, but never named otherwise
ATTESTATION_COLUMNS = frozenset({"height", "node_id", "header_hash", "signature",
                                 "note_signature", "state_signature"})


class Certificates:
    """Finality: attestations checked block by block; unfinal gaps reported at the end."""

    def __init__(self, report: AuditReport, replay: Replay) -> None:
        self.report = report
        self.replay = replay
        self.last_final = -1
        self.unfinal: list[int] = []
        self.state_signatures: list[tuple[int, str, bytes]] = []  # checked once digests are

    def check(self, block: StoredBlock, derived: Derived, verdicts: Verdicts) -> None:
        """Check a block's attestations against the re-derived header hash."""
        height, nodes = derived.header.height, self.replay.nodes()
        orgs = set()
        for row in block.attestations:
            node = self._valid(row, derived, nodes, verdicts)
            if node is not None:
                orgs.add(node.org)
        if not nodes or height == 0:
            return
        if len(orgs) >= quorum_size(nodes.values()):
            self.report.stats.final_blocks += 1
            self.last_final = height
        else:
            self.unfinal.append(height)

    def _valid(self, row: Row, derived: Derived, nodes: dict[str, NodeInfo],
               verdicts: Verdicts) -> NodeInfo | None:
        height = derived.header.height
        unknown = sorted(set(row) - ATTESTATION_COLUMNS)
        if unknown:  # an optional column renamed would otherwise pass as absent
            self.report.find("certificate", f"an attestation row has a column the chain file "
                             f"format does not name: {unknown[0][:40]!r}", block=height)
        att = attestation_of(row, self.replay.chain_id)
        if att is None:
            self.report.find("certificate", "an attestation row has a column of the wrong type",
                             block=height)
            return None
        node = nodes.get(att.node_id)
        if node is None:
            self.report.find("certificate", f"an attestation names {att.node_id!r}, not a "
                             "registered node", block=height)
            return None
        if not self._verifies(att, node, verdicts):
            self.report.find("certificate", f"the attestation of {att.node_id} does not verify "
                             f"(for height {att.height}, hash {att.header_hash})", block=height)
            return None
        if (att.height, att.header_hash) != (height, derived.header.hash()):
            self.report.find("certificate", f"{att.node_id} signed header hash "
                             f"{att.header_hash} at height {att.height}; the re-derived block "
                             f"{height} has hash {derived.header.hash()}", block=height)
            return None
        self.report.stats.attestations += 1
        self._check_cosignature(row, node, derived)
        signature = row.get("state_signature")
        if isinstance(signature, bytes):
            self.state_signatures.append((height, node.id, signature))
        return node

    def _check_cosignature(self, row: Row, node: NodeInfo, derived: Derived) -> None:
        """Check the node's signature over the block's checkpoint, rebuilt from the log.

        Nodes cosign each block's C2SP checkpoint with their attestation
        (`note_signature`); the note states the log size and root after the
        block, which the audit recomputed, so a signature over any other
        tree head fails here.  Rows from before checkpoints carry none (a
        NULL cell); a row without the column at all was not exported so.
        """
        header = derived.header
        if "note_signature" not in row:
            self.report.find("checkpoint", f"the attestation row of {node.id} has no "
                             "note_signature column", block=header.height)
            return
        signature = row["note_signature"]
        if signature is None:
            return
        if not isinstance(signature, bytes):
            self.report.find("checkpoint", f"the checkpoint signature of {node.id} is not "
                             "bytes", block=header.height)
            return
        checkpoint = block_checkpoint(self.replay.chain_id, header.log_size,
                                      self.replay.log.root(header.log_size), header.height,
                                      header.hash())
        try:
            node.public_key.verify_unframed(checkpoint.text().encode(), signature)
        except LedgerError:
            self.report.find("checkpoint", f"{node.id}'s signature over the checkpoint of block "
                             f"{header.height} (log size {header.log_size}, root "
                             f"{checkpoint.root.hex()}) does not verify", block=header.height)
            return
        self.report.stats.checkpoint_signatures += 1

    @staticmethod
    def _verifies(att: Any, node: NodeInfo, verdicts: Verdicts) -> bool:
        verdict = verdicts.attestation(att, node.public_key)
        if verdict is not None:
            return verdict
        try:
            att.verify(node.public_key)
        except LedgerError:
            return False
        return True

    def finish(self) -> None:
        """Report blocks without a certificate below a block that has one, and bad state sigs."""
        for height in self.unfinal:
            if height < self.last_final:
                self.report.find("certificate", "no quorum of organisations signed this block, "
                                 f"though later block {self.last_final} is final", block=height)
        self._check_state_signatures()

    def _check_state_signatures(self) -> None:
        """Check each attestation's state-note signature over the rebuilt digest of its block.

        Done at the end, when the replay's digests are normalised many
        blocks at a time; a signature over another digest is a `state_note`
        finding (a node that signed a state the chain never had).
        """
        nodes = self.replay.nodes()
        for height, node_id, signature in self.state_signatures:
            digest = self.replay.digests.at(height)
            node = nodes.get(node_id)
            if digest is None or node is None or height >= len(self.replay.hashes):
                continue
            note = StateNote(self.replay.chain_id, height, self.replay.hashes[height], digest)
            if not note.verifies(node.public_key, signature):
                self.report.find("state_note", f"{node_id}'s signature over the state note of "
                                 f"block {height} (digest {digest.hex()}) does not verify",
                                 block=height)


_MISSING = object()
