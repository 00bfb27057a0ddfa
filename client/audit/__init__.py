"""Independent audit of a chain, trusting nothing stored: `ledger audit`.

Reads a chain file (`ledger export`) or a node's raw export stream, rebuilds
the chain from its signed batches through the pinned contracts, and checks
every header, hash link, Merkle root, batch and transaction signature,
finality certificate, stored transaction, state row, note, index and the
conservation of every receivable; with several nodes, also their tree heads
and block hashes against each other.  See docs/ARCHITECTURE.md ("Flow 2: the audit").

The auditor's other outputs live here too: the chain file it audits offline
(`chain_file`, `ledger export`), and the HTML report (`html_report`, drawn by
`html_page` with the credentials' split trees from `lineage` and
`lineage_svg`).

The entry points live in `client.audit.run` and are loaded on first use, so
that the verifier process (`client.audit.verifier`), which imports this
package, does not pay for the HTTP client and the contracts at its start
(~0.1 s the re-executing process would wait for its first verdicts).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from client.audit.report import AuditReport, AuditStats, Finding

if TYPE_CHECKING:
    from client.audit.run import (
        audit_chain_file,
        audit_node,
        audit_nodes,
        audit_source,
    )

__all__ = ["AuditReport", "AuditStats", "Finding", "audit_chain_file", "audit_node",
           "audit_nodes", "audit_source"]
_RUN = frozenset({"audit_chain_file", "audit_node", "audit_nodes", "audit_source"})


def __getattr__(name: str) -> Any:
    """Load the entry points (client.audit.run) when first asked for."""
    if name in _RUN:
        return getattr(import_module("client.audit.run"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
