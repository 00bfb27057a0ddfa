"""Invariants the stateful test checks after every step, read from the chain's world state.

Mixed into the state machine, which provides `c` (the MemoryChain), `m` (the
model), `line` (the credit line id) and `name` (USCC to organisation name).
"""

from __future__ import annotations

from typing import Any

from hypothesis.stateful import invariant

from contracts.records import invoice_id
from tests.builders import MemoryChain
from tests.contracts.ledger_model import LIVE, OPEN, Model


class ChainInvariants:
    """Conservation, live-note sanity, model agreement, credit-line and invoice usage."""

    c: MemoryChain
    m: Model
    line: str
    name: dict[str, str]

    def chain_records(self, prefix: str) -> dict[str, Any]:
        """Return every record whose key starts with `prefix`, by id."""
        return {k[len(prefix):]: self.c.get(k) for k in self.c.state.data if k.startswith(prefix)}

    def invoice_key(self, key: tuple[str, int]) -> str:
        """Return the chain id of the model's invoice (receiver, index)."""
        return invoice_id(self.c.uscc(key[0]), self.c.uscc("core"), f"INV-{key[1]}")

    @invariant()
    def conservation_per_credential(self) -> None:
        for rid, rec in self.chain_records("receivable/").items():
            live = [self.c.get("note/" + n) for n in rec["live"]]
            if rec["status"] in ("active", "paid", "overdue"):
                assert sum(n["amount"] for n in live) + rec["paid"] == rec["face"], rid
            elif rec["status"] == "pending":
                assert rec["live"] == [rid]
                assert (live[0]["amount"], live[0]["status"]) == (rec["face"], "pending")
            else:
                assert rec["live"] == [], rec["status"]

    @invariant()
    def live_notes_exist_are_live_and_unshared(self) -> None:
        seen: set[str] = set()
        for rid, rec in self.chain_records("receivable/").items():
            assert not seen & set(rec["live"]), "a note is live in two credentials"
            seen |= set(rec["live"])
            for note_id in rec["live"]:
                note = self.c.get("note/" + note_id)
                assert note is not None and note["root_id"] == rid
                assert note["status"] in LIVE, note["status"]

    @invariant()
    def model_matches_chain(self) -> None:
        assert set(self.chain_records("receivable/")) == set(self.m.roots)
        for root in self.m.roots.values():
            rec = self.c.get("receivable/" + root.id)
            assert (rec["status"], rec["paid"], rec["live"]) == (root.status, root.paid, root.live)
        for note in self.m.notes.values():
            got = self.c.get("note/" + note.id)
            assert (self.name[got["holder"]], got["amount"], got["status"]) == (
                note.holder, note.amount, note.status)
            assert (got["financed"], got["frozen"], got["depth"]) == (
                note.financed, note.frozen, note.depth)
        for fin in self.m.fins.values():
            assert self.c.get("financing/" + fin.id)["status"] == fin.status

    @invariant()
    def credit_line_used_is_outstanding_of_open_credentials(self) -> None:
        records = self.chain_records("receivable/").values()
        outstanding = sum(r["face"] - r["paid"] for r in records if r["status"] in OPEN)
        assert self.c.get("credit_line/" + self.line)["used"] == outstanding == self.m.used()

    @invariant()
    def invoices_never_over_allocated(self) -> None:
        records = self.chain_records("invoice/")
        assert all(0 < inv["allocated"] <= inv["amount"] for inv in records.values())
        assert len(records) == len(self.m.invoices)  # an invoice nothing uses is forgotten
        for key, (amount, allocated) in self.m.invoices.items():
            record = records[self.invoice_key(key)]
            assert (record["amount"], record["allocated"]) == (amount, allocated)
