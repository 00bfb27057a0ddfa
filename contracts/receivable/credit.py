"""Credit lines (授信): a bank's limit for a core enterprise, drawn down by issuance."""

from __future__ import annotations

from contracts import base
from contracts.base import exact_args, require
from contracts.records import CreditLine, derived_id, evolve, load, save
from contracts.registry import active_member
from ledger.execution import Call
from ledger.membership import Role


def grant_credit_line(call: Call) -> None:
    """A bank grants a core enterprise a credit line; both sign.

    Args: core, limit (fen), currency, expiry_date.  The bank is the signer
    other than the core enterprise.
    """
    exact_args(call, {"bank", "core", "limit", "currency", "expiry_date"})
    bank = base.uscc(call.args["bank"], "bank")
    core = base.uscc(call.args["core"], "core")
    limit = base.amount(call.args["limit"], "limit")
    currency = base.currency(call.args["currency"])
    expiry = base.day(call.args["expiry_date"], "expiry_date")
    active_member(call, bank, Role.BANK, "the lender of a credit line has the bank role")
    active_member(
        call, core, Role.CORE_ENTERPRISE, "a credit line is granted to a core enterprise"
    )
    call.authorise(bank, "the bank signs the credit line")
    call.authorise(core, "the core enterprise signs the credit line")
    require(expiry > call.block.date, "a credit line expires in the future")
    line = CreditLine(
        id=derived_id(call.tx_id, 0, "credit_line"),
        bank=bank,
        core=core,
        currency=currency,
        limit=limit,
        used=0,
        expiry_date=expiry.isoformat(),
    )
    save(call, line)
    call.emit({"type": "credit_line_granted", "credit_line": line.id, "parties": [bank, core]})


def existing_line(call: Call, line_id: str) -> CreditLine:
    """Return credit line `line_id`, failing if it does not exist."""
    line = load(call, CreditLine, line_id)
    require(line is not None, "the credit line exists")
    assert line is not None
    return line


def release(call: Call, line_id: str, amount: int) -> None:
    """Give `amount` fen of headroom back to a credit line (payment or cancellation)."""
    line = existing_line(call, line_id)
    save(call, evolve(line, used=max(0, line.used - amount)))
