"""Invoice utilisation (发票使用): no invoice backs more credentials than its amount.

This is what stops double financing (重复融资): the same sale cannot be
turned into credentials twice.  An invoice is identified as a tax invoice is,
by its seller, its buyer and its number, and the number in one normal form
(`invoice_number`), so "INV-A", "inv-a " and its full-width spelling are
one invoice.  The buyer of a credential's invoices is its issuer (the core
enterprise owes for the goods), so two core enterprises buying from the same
supplier never touch each other's invoices.

An invoice's amount is fixed by its first use and the same in every use
after it.  A credential that is withdrawn, rejected or expired gives its
allocations back; an invoice left with nothing allocated is forgotten, so a
mistyped amount in a cancelled issuance never blocks the real invoice.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from contracts.base import require
from contracts.records import Invoice, evolve, invoice_id, load, remove, save
from ledger.errors import SchemaError
from ledger.execution import Call

if TYPE_CHECKING:
    from contracts.receivable.commands import InvoiceUse

MAX_NUMBER_LENGTH = 64
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def invoice_number(value: Any) -> str:
    """Return an invoice number in its normal form; raise SchemaError if it has none.

    The normal form: Unicode NFKC (full-width letters and digits become
    ASCII), every whitespace character removed (surrounding and inner), and
    ASCII letters upper-cased (other scripts are left as they are); then
    NFKC once more, since taking a space away can leave a combining mark
    next to a letter it now composes with ("r" and a spacing cedilla become
    R with cedilla, as that letter itself does).  What remains must be 1 to 64 printable characters.
    """
    if not isinstance(value, str) or len(value) > 4 * MAX_NUMBER_LENGTH:
        raise SchemaError(f"invoice number must be text of at most {MAX_NUMBER_LENGTH} characters")
    spaced = "".join(unicodedata.normalize("NFKC", value).split()).translate(_ASCII_UPPER)
    normal = unicodedata.normalize("NFKC", spaced)
    if not 0 < len(normal) <= MAX_NUMBER_LENGTH or not normal.isprintable():
        raise SchemaError(f"invoice number must have 1 to {MAX_NUMBER_LENGTH} printable "
                          "characters besides spaces")
    return normal


def allocate(call: Call, buyer: str, invoices: Iterable[InvoiceUse], face: int) -> None:
    """Record this credential's use of each invoice; the uses never exceed an invoice."""
    uses = list(invoices)
    total = sum(use.allocated for use in uses)
    require(total == face, "the invoice allocations add up to the credential's amount",
            "the allocations add up to {:yuan}, the credential is {:yuan}", total, face)
    seen: set[str] = set()
    for use in uses:
        inv_id = invoice_id(use.seller, buyer, use.number)
        require(inv_id not in seen, "each invoice is listed once per credential",
                "invoice {} is listed more than once", use.number)
        seen.add(inv_id)
        known = load(call, Invoice, inv_id)
        record = known or Invoice(inv_id, use.seller, buyer, use.number, use.amount, 0)
        require(record.amount == use.amount, "an invoice's amount is the same in every use",
                "invoice {} is on record for {:yuan}, not {:yuan}", use.number, record.amount,
                use.amount)
        left = record.amount - record.allocated
        require(use.allocated <= left,
                "an invoice is never used beyond its amount (no double financing)",
                "{:yuan} allocated to invoice {} is more than the {:yuan} left of its {:yuan}",
                use.allocated, use.number, left, record.amount)
        save(call, evolve(record, allocated=record.allocated + use.allocated))


def release(call: Call, buyer: str, invoices: Iterable[dict[str, Any]]) -> None:
    """Give back a cancelled credential's allocations; forget invoices left with none."""
    for use in invoices:
        record = load(call, Invoice, invoice_id(use["seller"], buyer, use["number"]))
        require(record is not None, "a cancelled credential's invoices are on record",
                "invoice {} is not on record", use["number"])
        assert record is not None  # for the type checker; require() has failed otherwise
        left = record.allocated - use["allocated"]
        if left > 0:
            save(call, evolve(record, allocated=left))
        else:
            remove(call, record)
