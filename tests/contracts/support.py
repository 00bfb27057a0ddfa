"""Helpers for the contract tests: the standard deal, refused transactions, state surgery.

`refused` is the workhorse: it runs one transaction that must be invalid and
checks that the world state is byte-for-byte what it was before.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ledger.block import TxResult
from ledger.canonical import canonical_bytes
from ledger.membership import make_uscc, member_state_key
from ledger.timefmt import format_timestamp
from ledger.tx import Envelope, TxBody, sign_body
from tests.builders import CHAIN_ID, START, MemoryChain, make_orgs

FACE = 100_000_000  # 1,000,000.00 CNY in fen
LIMIT = 500_000_000  # 5,000,000.00 CNY
MATURITY = "2026-04-05"  # 90 days after the first block date, 2026-01-05
LINE_EXPIRY = "2026-12-31"
AUDITOR = make_orgs()["auditor"].uscc
STRANGER = make_uscc("91310000MA9999999")  # a valid USCC that is no member
_NONCES = itertools.count(0xA000_0000_0000)


def short(record_id: str) -> str:
    """Return a record id as a refusal quotes it: its first 8 hex digits and an ellipsis."""
    return record_id[:8] + "\u2026"


def said(rule: str, detail: str) -> str:
    """Return the text of a refusal: the rule it broke, then what was wrong."""
    return f"{rule}: {detail}"


def new_chain(**policies: Any) -> MemoryChain:
    """Return a fresh chain whose auditor is the freeze authority, with `policies` on top."""
    return MemoryChain(policies={"freeze_authorities": [AUDITOR], **policies})


def refused(c: MemoryChain, signers: list[str] | str, action: str, **args: Any) -> TxResult:
    """Run a transaction that must be invalid; assert it changed nothing and return it."""
    before = dict(c.state.data)
    result = c.tx(signers, action, **args)
    assert not result.valid, f"{action} unexpectedly succeeded"
    assert result.code != "internal_error", f"{action} crashed: {result.reason}"
    assert c.state.data == before, f"invalid {action} changed the world state"
    return result


def refused_env(c: MemoryChain, envelopes: list[Envelope]) -> TxResult:
    """Run a block whose last envelope must be invalid and the others valid.

    When the block holds that envelope alone, also assert the state is unchanged.
    """
    before = dict(c.state.data)
    results = c.run_block(envelopes)
    assert all(r.valid for r in results[:-1]), [r.reason for r in results]
    assert not results[-1].valid
    if len(envelopes) == 1:
        assert c.state.data == before
    return results[-1]


def grant_line(
    c: MemoryChain, *, limit: int = LIMIT, currency: str = "CNY", core: str = "core",
    expiry: str = LINE_EXPIRY,
) -> str:
    """Grant `core` a credit line from b1; return its id."""
    r = c.ok(["b1", core], "grant_credit_line", bank=c.uscc("b1"), core=c.uscc(core),
             limit=limit, currency=currency, expiry_date=expiry)
    return r.events[0]["credit_line"]


def trade(
    c: MemoryChain, *, seller: str = "s1", number: str = "INV-1", amount: int = 2 * FACE,
    allocated: int = FACE,
) -> dict[str, Any]:
    """Return a trade background with one invoice of `seller`."""
    invoice = {"seller": c.uscc(seller), "number": number, "amount": amount,
               "allocated": allocated}
    doc = {"name": "contract.pdf", "sha256": "ab" * 32}
    return {"contract_no": "PO-2026-001", "invoices": [invoice], "documents": [doc]}


def issue_args(c: MemoryChain, line: str, **overrides: Any) -> dict[str, Any]:
    """Return valid `issue` arguments (to s1, FACE, MATURITY) with `overrides` applied."""
    args: dict[str, Any] = {
        "credit_line": line, "to": c.uscc("s1"), "amount": FACE, "currency": "CNY",
        "maturity_date": MATURITY, "trade": trade(c),
    }
    args.update(overrides)
    return args


def issue(c: MemoryChain, line: str, **overrides: Any) -> str:
    """Issue a credential (see issue_args); return the root id."""
    return c.ok("core", "issue", **issue_args(c, line, **overrides)).events[0]["receivable"]


def pay_to(c: MemoryChain, name: str, amount: int) -> list[dict[str, Any]]:
    """Return a one-entry payments list."""
    return [{"to": c.uscc(name), "amount": amount}]


def day_after_start(days: int) -> str:
    """Return the ISO date `days` after the first block date."""
    return (START.date() + timedelta(days=days)).isoformat()


def live_total(c: MemoryChain, root: str) -> int:
    """Return the sum of the amounts of a credential's live notes."""
    return sum(c.get("note/" + n)["amount"] for n in c.get("receivable/" + root)["live"])


def assert_conserved(c: MemoryChain, root: str) -> None:
    """Assert live notes plus paid equal the face of `root`."""
    rec = c.get("receivable/" + root)
    assert live_total(c, root) + rec["paid"] == rec["face"]


def signed(
    c: MemoryChain, signers: list[str], action: str, *, nonce: str | None = None,
    now: datetime | None = None, chain_id: str = CHAIN_ID, contract: str = "receivable",
    **args: Any,
) -> Envelope:
    """Build a signed envelope with a chosen nonce, time and chain (for replay tests)."""
    at = c.now if now is None else now
    body = TxBody(
        chain_id=chain_id, contract=contract, action=action, args=dict(args),
        signers=tuple(c.uscc(s) for s in signers),
        nonce=nonce or f"{next(_NONCES):016x}",
        not_before=format_timestamp(at - timedelta(hours=1)),
        not_after=format_timestamp(at + timedelta(days=1)),
    )
    return sign_body(body, {c.uscc(s): c.orgs[s].key for s in signers})


def set_member(c: MemoryChain, name: str, **fields: Any) -> None:
    """State surgery, quicker than a governance vote: overwrite fields of a member record."""
    key = member_state_key(c.uscc(name))
    c.state.data[key] = canonical_bytes({**c.get(key), **fields})


def add_policy_version(c: MemoryChain, name: str, value: Any, from_height: int) -> None:
    """State surgery, quicker than a governance vote: append a policy version."""
    key = "policy/" + name
    c.state.data[key] = canonical_bytes([*c.get(key), {"from_height": from_height,
                                                        "value": value}])


@dataclass(frozen=True)
class Deal:
    """A chain with a credit line and one credential, as the fixtures build it."""

    c: MemoryChain
    line: str
    root: str

    def rec(self) -> Mapping[str, Any]:
        """Return the credential record."""
        return self.c.get("receivable/" + self.root)

    def note(self, note_id: str) -> Mapping[str, Any]:
        """Return a note record."""
        return self.c.get("note/" + note_id)

    def line_used(self) -> int:
        """Return how much of the credit line is drawn."""
        return self.c.get("credit_line/" + self.line)["used"]


@dataclass(frozen=True)
class Split(Deal):
    """An active credential split: s2 holds `paid` (30,000,000 fen), s1 keeps `rest`."""

    paid: str = ""
    rest: str = ""
