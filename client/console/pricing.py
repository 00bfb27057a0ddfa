"""A bank's terms form read and priced: the authoritative figures the offer page and the queue show.

The terms page prices as the officer types (static/pricing.js, the same
ACT/360 rule rounded half-up to the fen); this module prices the submitted
form on the server with `ledger.money.price_financing`, exactly as the
contract will, so what the checker approves is what the node will record.
Amounts are typed in yuan ("1,250.00") and rates in percent ("3.15" is
3.15 % a year, never a fraction).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from ledger.errors import SchemaError
from ledger.money import FEE_PAYERS, Pricing, parse_yuan, price_financing
from ledger.timefmt import parse_date


@dataclass(frozen=True)
class Terms:
    """The terms a bank officer entered, checked: the `offer_terms` arguments and their price."""

    args: dict[str, Any]
    pricing: Pricing


class TermsError(ValueError):
    """Raised when the terms form says something wrong: `field` names it, `key` the words."""

    def __init__(self, field: str, key: str) -> None:
        super().__init__(key)
        self.field = field
        self.key = key


def read_terms(form: dict[str, str], *, financing: str, face: int, maturity: str) -> Terms:
    """Return the terms of `form` for a note of `face` fen maturing on `maturity`, priced.

    Raises TermsError naming the field at fault: a rate that is not percent
    with at most four places, a date that is not ISO or not before maturity,
    fees that are not yuan, an unknown fee payer.
    """
    rate = form.get("rate", "").strip().replace("%", "").strip()
    try:
        funding = parse_date(form.get("funding_date", "").strip(), what="funding date")
    except (SchemaError, ValueError) as exc:
        raise TermsError("funding_date", "terms_bad_date") from exc
    if funding >= date.fromisoformat(maturity):
        raise TermsError("funding_date", "terms_after_maturity")
    try:
        fees = parse_yuan(form.get("fees", "").strip() or "0")
    except (SchemaError, ValueError) as exc:
        raise TermsError("fees", "terms_bad_fees") from exc
    payer = form.get("fee_payer", "seller")
    if payer not in FEE_PAYERS:
        raise TermsError("fee_payer", "terms_bad_payer")
    try:
        pricing = price_financing(face=face, annual_rate_percent=rate, funding=funding,
                                  maturity=date.fromisoformat(maturity), fees=fees,
                                  fee_payer=payer)
    except SchemaError as exc:
        raise TermsError("rate", "terms_bad_rate") from exc
    registry = form.get("registry_no", "").strip()[:64] or None
    args = {"financing": financing, "annual_rate_percent": rate,
            "funding_date": funding.isoformat(), "fees": fees, "fee_payer": payer,
            "recourse": form.get("recourse") == "on", "registry_no": registry,
            "tenor_reviewed": form.get("tenor_reviewed") == "on"}
    return Terms(args, pricing)
