"""A prepared transaction's arguments in words, for the approvals queue a checker reads.

A checker approves what the maker prepared, so each argument is shown as a
person checks it: amounts in yuan, organisations by name beside their USCC,
a transfer's payments and an issuance's invoices one per line, ids whole
(the checker may compare them with a document).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from client.sdk.names import Directory, yuan

AMOUNTS = frozenset({"amount", "fees", "limit"})  # integer fen
ORGANISATIONS = frozenset({"to", "bank", "core", "seller"})  # USCCs


def arg_lines(directory: Directory, key: str, value: Any) -> list[str]:
    """Return the lines that show argument `key` with `value` (one line for most)."""
    if key in AMOUNTS and type(value) is int:
        return [yuan(value)]
    if key in ORGANISATIONS and isinstance(value, str):
        return [_organisation(directory, value)]
    if key == "payments" and isinstance(value, list):
        return [_payment(directory, p) for p in value]
    if key == "invoices" and isinstance(value, list):
        return [_invoice(i) for i in value]
    if isinstance(value, bool):
        return ["✓" if value else "✗"]
    return ["-" if value is None else str(value)]


def _organisation(directory: Directory, uscc: str) -> str:
    name = directory.name(uscc)
    return uscc if name == uscc else f"{name} · {uscc}"


def _payment(directory: Directory, payment: Any) -> str:
    if not isinstance(payment, Mapping) or type(payment.get("amount")) is not int:
        return str(payment)
    return f"{_organisation(directory, str(payment.get('to')))}: {yuan(payment['amount'])}"


def _invoice(invoice: Any) -> str:
    if not isinstance(invoice, Mapping) or type(invoice.get("amount")) is not int:
        return str(invoice)
    return f"{invoice.get('number')}: {yuan(invoice['amount'])}"
