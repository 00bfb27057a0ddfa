"""Credit lines (授信): a bank's limit for a core enterprise, drawn down by issuance."""

from __future__ import annotations

from contracts.base import fail, require, unknown_or_not
from contracts.receivable.commands import GrantCreditLine
from contracts.records import CreditLine, derived_id, evolve, load, save
from contracts.registry import active_member
from ledger.execution import Call
from ledger.membership import Role


def grant_credit_line(call: Call) -> None:
    """A bank grants a core enterprise a credit line; both sign."""
    line = GrantCreditLine.parse(call)
    active_member(call, line.bank, Role.BANK, "the lender of a credit line has the bank role",
                  "the bank")
    active_member(call, line.core, Role.CORE_ENTERPRISE,
                  "a credit line is granted to a core enterprise", "the borrower")
    call.authorise(line.bank, "the bank signs the credit line")
    call.authorise(line.core, "the core enterprise signs the credit line")
    require(line.expiry_date > call.block.date, "a credit line expires in the future",
            "expiry date {} is not after today, {}", line.expiry_date, call.block.date)
    record = CreditLine(
        id=derived_id(call.tx_id, 0, "credit_line"),
        bank=line.bank,
        core=line.core,
        currency=line.currency,
        limit=line.limit,
        used=0,
        expiry_date=line.expiry_date.isoformat(),
    )
    save(call, record)
    call.emit({"type": "credit_line_granted", "credit_line": record.id,
               "parties": [line.bank, line.core]})


def core_line(call: Call, line_id: str, rule: str) -> CreditLine:
    """Return credit line `line_id` if its core enterprise signed; else fail with `rule`.

    A line that does not exist fails with the same rule and words, so a
    signer learns nothing about other enterprises' credit lines.
    """
    line = load(call, CreditLine, line_id)
    if line is None or line.core not in call.signers:
        fail(rule, unknown_or_not("credit line", line_id, "granted to", call))
    call.authorise(line.core, rule)
    return line


def existing_line(call: Call, line_id: str) -> CreditLine:
    """Return credit line `line_id`, failing if it does not exist (ids the ledger recorded)."""
    line = load(call, CreditLine, line_id)
    require(line is not None, "the credit line exists", "credit line {:id} not found", line_id)
    assert line is not None
    return line


def release(call: Call, line_id: str, amount: int) -> None:
    """Give `amount` fen of headroom back to a credit line (payment or cancellation)."""
    line = existing_line(call, line_id)
    save(call, evolve(line, used=max(0, line.used - amount)))
