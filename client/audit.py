"""Independent audit of a chain as served by a node, with `ledger/` alone.

The auditor fetches every block with its transactions and checks, trusting
nothing the node computed: each header's hash link to its predecessor, its
height, ordering position and time; the RFC 9162 root over the block's
transactions; the global log's size after each block and its root against the
node's checkpoint; and every signature of every transaction against the
membership recorded at genesis, as changed by executed governance proposals
(new members, new keys).  Each problem becomes a finding naming the block
and the transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from client.http import NodeClient
from ledger.block import GENESIS_PREV_HASH, BlockHeader, tx_root
from ledger.crypto import PublicKey
from ledger.errors import LedgerError
from ledger.execution import genesis_keys, is_genesis
from ledger.merkle import MerkleLog, leaf_hash
from ledger.tx import Envelope, parse_envelope


@dataclass
class AuditReport:
    """What an audit checked and what it found."""

    blocks: int = 0
    transactions: int = 0
    signatures: int = 0
    invalid_transactions: int = 0
    log_size: int = 0
    log_root: str = ""
    seconds: float = 0.0
    findings: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Return whether the audit found nothing wrong."""
        return not self.findings and self.blocks > 0

    def to_json(self) -> dict[str, Any]:
        """Return the report as JSON."""
        return {
            "passed": self.passed, "blocks": self.blocks, "transactions": self.transactions,
            "signatures": self.signatures, "invalid_transactions": self.invalid_transactions,
            "log_size": self.log_size, "log_root": self.log_root, "seconds": self.seconds,
            "findings": self.findings,
        }


class ChainAuditor:
    """Checks blocks in order, carrying the previous header, the log and the membership."""

    def __init__(self) -> None:
        self.report = AuditReport()
        self.log = MerkleLog()
        self.previous: BlockHeader | None = None
        self.keys: dict[str, PublicKey] = {}

    def check_block(self, block: dict[str, Any]) -> None:
        """Check one block served as {hash, header, transactions}."""
        try:
            header = BlockHeader.from_json(block["header"])
        except (LedgerError, KeyError, TypeError) as exc:
            self._find(f"block {self.report.blocks}: malformed header: {exc}")
            return
        where = f"block {header.height}"
        if header.hash() != block.get("hash"):
            self._find(f"{where}: served hash does not match the header")
        self._check_link(header, where)
        envelopes = self._envelopes(block.get("transactions", []), where)
        self._check_contents(header, envelopes, where)
        self.previous = header
        self.report.blocks += 1

    def _check_link(self, header: BlockHeader, where: str) -> None:
        previous = self.previous
        if previous is None:
            if header.height != 0 or header.prev_hash != GENESIS_PREV_HASH:
                self._find(f"{where}: the chain does not start at a genesis block")
            return
        if header.height != previous.height + 1:
            self._find(f"{where}: height does not follow {previous.height}")
        if header.prev_hash != previous.hash():
            self._find(f"{where}: prev_hash does not link to block {previous.height}")
        if header.position <= previous.position:
            self._find(f"{where}: ordering position does not increase")
        if header.time < previous.time:
            self._find(f"{where}: block time goes backwards")
        if header.chain_id != previous.chain_id:
            self._find(f"{where}: chain id changes")

    def _envelopes(self, txs: list[dict[str, Any]], where: str) -> list[Envelope]:
        envelopes = []
        for tx in txs:
            try:
                envelope = parse_envelope(tx["envelope"])
            except (LedgerError, KeyError, TypeError) as exc:
                self._find(f"{where}: transaction {tx.get('tx_id')}: malformed envelope: {exc}")
                continue
            if envelope.tx_id != tx.get("tx_id"):
                self._find(f"{where}: transaction {tx.get('tx_id')}: id does not match its body")
            self._check_signatures(envelope, tx, where)
            self._follow_membership(envelope, tx)
            envelopes.append(envelope)
        return envelopes

    def _check_signatures(self, envelope: Envelope, tx: dict[str, Any], where: str) -> None:
        self.report.transactions += 1
        if not tx.get("valid", False):
            self.report.invalid_transactions += 1
        key_of: Callable[[str], PublicKey | None] = self.keys.get
        if is_genesis(envelope) and self.previous is None:
            key_of = genesis_keys(envelope)
        try:
            envelope.verify(key_of)
        except LedgerError as exc:
            if tx.get("valid", False) or tx.get("code") != "bad_signature":
                self._find(f"{where}: transaction {envelope.tx_id}: {exc}")
            return
        self.report.signatures += len(envelope.signatures)
        if is_genesis(envelope) and self.previous is None:
            for member in envelope.body.args["members"]:
                self.keys[member["uscc"]] = PublicKey.from_hex(member["public_key"])

    def _follow_membership(self, envelope: Envelope, tx: dict[str, Any]) -> None:
        """Learn the keys an executed governance change gives (from the next transaction on)."""
        if envelope.body.contract != "governance" or not tx.get("valid", False):
            return
        for event in tx.get("events") or []:
            change = event.get("change") if isinstance(event, dict) else None
            if not isinstance(change, dict) or not event.get("executed"):
                continue
            try:
                if change.get("kind") == "add_member":
                    member = change["member"]
                    self.keys[member["uscc"]] = PublicKey.from_hex(member["public_key"])
                elif change.get("kind") == "rekey_member":
                    self.keys[change["uscc"]] = PublicKey.from_hex(change["public_key"])
            except (LedgerError, KeyError, TypeError) as exc:
                self._find(f"transaction {envelope.tx_id}: malformed governance change: {exc}")

    def _check_contents(self, header: BlockHeader, envelopes: list[Envelope], where: str) -> None:
        if header.tx_count != len(envelopes):
            self._find(f"{where}: header counts {header.tx_count} transactions, "
                       f"block holds {len(envelopes)}")
        if tx_root([e.canonical() for e in envelopes]) != header.tx_root:
            self._find(f"{where}: tx_root does not match the block's transactions")
        self.log.extend(leaf_hash(e.canonical()) for e in envelopes)
        if self.log.size != header.log_size:
            self._find(f"{where}: log_size {header.log_size} but the log holds {self.log.size}")

    def check_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Compare the node's tree head with the log rebuilt from the blocks."""
        size = int(checkpoint["size"])
        if size > self.log.size:
            self._find(f"checkpoint claims {size} entries; the blocks hold {self.log.size}")
            return
        if self.log.root(size).hex() != checkpoint["root"]:
            self._find(f"checkpoint root at size {size} does not match the rebuilt log")

    def _find(self, finding: str) -> None:
        self.report.findings.append(finding)


def fetch_blocks(node: NodeClient, head: int) -> Iterator[dict[str, Any]]:
    """Yield every block 0..head with its transactions (needs the auditor role)."""
    for height in range(head + 1):
        yield node.get(f"/v1/blocks/{height}")


def audit_node(
    node: NodeClient, progress: Callable[[int, int], None] | None = None
) -> AuditReport:
    """Audit the whole chain a node serves; call `progress(done, total)` as blocks are checked."""
    started = time.perf_counter()
    checkpoint = node.get("/v1/log/checkpoint")
    auditor = ChainAuditor()
    head = int(checkpoint["height"])
    for block in fetch_blocks(node, head):
        if "transactions" not in block:
            auditor.report.findings.append("the node did not serve block contents: "
                                           "auditing needs the auditor role")
            break
        auditor.check_block(block)
        if progress is not None:
            progress(auditor.report.blocks, head + 1)
    auditor.check_checkpoint(checkpoint)
    report = auditor.report
    report.log_size = auditor.log.size
    report.log_root = auditor.log.root(auditor.log.size).hex() if auditor.log.size else ""
    report.seconds = time.perf_counter() - started
    return report
