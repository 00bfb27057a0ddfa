"""The audit's report: plain data, so a CLI, a JSON file or an HTML renderer can show it.

Every finding names the check that failed and, where there is one, the
block height, the transaction id and the note id it concerns.  The
statistics say how much was checked and how fast.  `AuditReport.to_json()`
is the stable form (format `receivables-ledger-audit/1`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

REPORT_FORMAT = "receivables-ledger-audit/1"

# The checks a finding can name (docs/ARCHITECTURE.md explains each).
CHECKS = (
    "source",          # the chain file or export stream itself (format, truncation, cells)
    "header",          # a stored header: malformed, or a field differs from the re-derived one
    "link",            # hash links, heights, positions, times between stored headers
    "batch",           # the kept batch: missing, refused, or not what the block was made from
    "signature",       # a transaction signature (against the membership in force)
    "transaction",     # a stored transaction row differs from the re-executed one
    "certificate",     # finality: attestation signatures, signers, quorum
    "state",           # a stored state row differs from the re-executed final state
    "state_digest",    # a stored state digest differs from the rebuilt state's after that block
    "state_note",      # a node's state note: not a quorum's cosignatures, or not the rebuilt digest
    "note",            # a stored note-index row differs from the note in the final state
    "record",          # a stored records-index row differs from the record in the final state
    "party",           # the party index (who may read a transaction)
    "nonce",           # the used-nonce index (replay protection)
    "conservation",    # a receivable's live notes and payments do not add up to its face
    "contract_code",   # the contract code pinned on chain is not the code the audit runs
    "checkpoint",      # a node's tree head disagrees with the rebuilt log
    "cross_node",      # two nodes disagree at a common height
    "snapshot",        # a snapshot file differs from the rebuilt chain (headers, leaves, digest)
)


@dataclass(frozen=True)
class Finding:
    """One problem: which check, where (block, transaction, note) and what."""

    check: str
    message: str
    block: int | None = None
    tx: str | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the finding as {block, tx, note, check, message}."""
        return {"block": self.block, "tx": self.tx, "note": self.note, "check": self.check,
                "message": self.message}

    def __str__(self) -> str:
        where = [f"block {self.block}" if self.block is not None else "",
                 f"tx {self.tx}" if self.tx else "", f"note {self.note}" if self.note else ""]
        place = ", ".join(w for w in where if w)
        return f"[{self.check}] {place + ': ' if place else ''}{self.message}"


@dataclass
class AuditStats:
    """What the audit checked, and how fast."""

    blocks: int = 0
    txs: int = 0
    valid_txs: int = 0
    invalid_txs: int = 0
    signatures: int = 0
    batches: int = 0
    refused_batches: int = 0
    attestations: int = 0
    checkpoint_signatures: int = 0
    final_blocks: int = 0
    state_keys: int = 0
    notes: int = 0
    receivables: int = 0
    nodes_compared: int = 0
    seconds: float = 0.0
    tx_per_s: float = 0.0

    def finish(self, seconds: float) -> None:
        """Record the elapsed time and the rate it gives."""
        self.seconds = round(seconds, 3)
        self.tx_per_s = round(self.txs / seconds, 1) if seconds > 0 else 0.0


@dataclass
class AuditReport:
    """Findings, statistics and what the chain looked like once rebuilt."""

    sources: list[str] = field(default_factory=list)
    chain_id: str | None = None
    genesis_hash: str | None = None
    head_height: int | None = None
    head_hash: str | None = None
    log_size: int = 0
    log_root: str = ""
    contract_code: str = ""
    findings: list[Finding] = field(default_factory=list)
    stats: AuditStats = field(default_factory=AuditStats)

    @property
    def passed(self) -> bool:
        """Return whether the audit checked at least one block and found nothing wrong."""
        return not self.findings and self.stats.blocks > 0

    def find(self, check: str, message: str, *, block: int | None = None, tx: str | None = None,
             note: str | None = None) -> None:
        """Record a finding."""
        self.findings.append(Finding(check, message, block, tx, note))

    def to_json(self) -> dict[str, Any]:
        """Return the report as plain JSON data."""
        return {
            "format": REPORT_FORMAT, "passed": self.passed, "sources": list(self.sources),
            "chain": {"chain_id": self.chain_id, "genesis_hash": self.genesis_hash,
                      "head_height": self.head_height, "head_hash": self.head_hash,
                      "log_size": self.log_size, "log_root": self.log_root,
                      "contract_code": self.contract_code},
            "statistics": asdict(self.stats),
            "findings": [f.to_json() for f in self.findings],
        }
