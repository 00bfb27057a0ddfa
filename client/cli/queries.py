"""The read-only commands of the `ledger` command line: what the node shows this participant.

Chain status, the notes you hold, one note, a credential's split tree, a
note's lineage, a transaction, and a local check that a transaction is in
the node's log (an RFC 9162 inclusion proof).  The node shows each
participant only what it may see.
"""

from __future__ import annotations

from client.cli.common import participant, show
from ledger.money import format_fen


def status() -> None:
    """Show the node's chain status."""
    show(participant().status())


def holdings() -> None:
    """List the notes you hold (active, pending acceptance or under a financing request)."""
    live = ("active", "pending", "financing")
    notes = [n for n in participant().holdings(status=None) if n["status"] in live]
    show(notes, "\n".join(f"{n['id']}  {format_fen(n['amount'])} {n['currency']}  "
                          f"{n['status']}, matures {n['maturity_date']}" for n in notes)
         or "no notes")


def note(note_id: str) -> None:
    """Show one note."""
    show(participant().note(note_id))


def receivable(root_id: str) -> None:
    """Show a credential and its split tree."""
    show(participant().receivable(root_id))


def lineage(note_id: str) -> None:
    """Show a note's ancestors up to issuance."""
    show(participant().lineage(note_id))


def tx(tx_id: str) -> None:
    """Show a transaction's status, envelope and events."""
    show(participant().transaction(tx_id))


def verify(tx_id: str) -> None:
    """Verify locally that a transaction is in the node's log (RFC 9162 proof)."""
    participant().verify_inclusion(tx_id)
    show({"tx_id": tx_id, "included": True}, f"[green]verified[/]: {tx_id} is in the log")
