"""Money: integer fen, exact pricing, exact pro-rata allocation, and yuan as people write it.

Amounts are always integer counts of fen (分, 1/100 yuan).  `Decimal` is used
only where a rate is applied, under a local context wide enough to be exact
for every amount the schema admits, and the single rounding rule is half-up to
the fen.  Day counts are ACT/360: from the funding date inclusive to the
maturity date exclusive.

Annual rates are written in percent, and the name of every field that holds
one says so (`annual_rate_percent`: "2.50" is 2.50 % a year), so a rate can
never be read as a fraction by one party and as a percentage by another.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext

from ledger.canonical import MAX_SAFE_INTEGER
from ledger.errors import AmountError, SchemaError, described

FEN_PER_YUAN = 100
DAY_COUNT_BASIS = 360
CURRENCIES = frozenset({"CNY", "USD", "EUR", "HKD", "JPY", "GBP"})
PERCENT_PATTERN = re.compile(r"(0|[1-9][0-9]{0,3})(\.[0-9]{1,4})?")
BASIS_POINTS_PER_PERCENT = 100
# how yuan may be written (parse_yuan); a comma separates thousands, a point the fen
_SPACE = " \t\r\n"
_NOT_FINITE = re.compile(r"[+-]?(inf|infinity|nan|snan)", re.IGNORECASE)
_EXPONENT = re.compile(r"[+-]?[0-9.,]*[0-9][eE][+-]?[0-9]+")
_AMOUNT_CHARACTERS = re.compile(r"[0-9.,]+")
_GROUPED = re.compile(r"[1-9][0-9]{0,2}(,[0-9]{3})+")
_MAX_YUAN_DIGITS = len(str(MAX_SAFE_INTEGER // FEN_PER_YUAN))
_EXACT = Context(prec=60, rounding=ROUND_HALF_UP)

FEE_PAYERS = ("seller", "buyer", "split")


def format_fen(amount: int) -> str:
    """Render fen as yuan with thousands separators and two decimals: 100050 -> '1,000.50'."""
    sign = "-" if amount < 0 else ""
    yuan, fen = divmod(abs(amount), FEN_PER_YUAN)
    return f"{sign}{yuan:,}.{fen:02d}"


def parse_yuan(text: str, *, negative: bool = False) -> int:
    """Parse an amount of yuan a person typed ('1,000,000.00', '1000000', '0.5') into fen.

    Only a well-formed amount is read: digits 0-9, thousands separators only
    between groups of exactly three digits, at most two decimals, no leading
    zero, no exponent, and a leading '-' only when `negative` allows it.
    Surrounding spaces and line ends are ignored.  The amount is at most
    MAX_SAFE_INTEGER fen, the most the ledger records.  Raises AmountError
    (a ValueError) quoting the text and naming what is wrong with it.
    """
    body = text.strip(_SPACE)
    unsigned = body.removeprefix("-")
    problem = _problem_of(unsigned, text)
    if problem is None and unsigned != body and not negative:
        problem = "it is negative; amounts here are positive"
    if problem:
        raise AmountError(f"{described(text)} is not a well-formed amount in yuan: {problem}")
    whole, _, decimals = unsigned.partition(".")
    fen = int(whole.replace(",", "")) * FEN_PER_YUAN + int(decimals.ljust(2, "0"))
    return -fen if unsigned != body else fen


def _problem_of(unsigned: str, text: str) -> str | None:
    """Return what makes `unsigned` (`text` without spaces and a leading '-') no amount, or None."""
    if not unsigned:
        return "it has no digits" if text.strip(_SPACE) else (
            "it is empty" if not text else "it is blank")
    for check in _AMOUNT_CHECKS:
        problem = check(unsigned)
        if problem:
            return problem
    return None


def _characters(body: str) -> str | None:
    """Return what is wrong with the characters of an amount: words, exponents, signs, ..."""
    if _NOT_FINITE.fullmatch(body):
        return "it is not a finite number"
    if _EXPONENT.fullmatch(body):
        return "it has an exponent; write the amount out in full"
    if any(c.isdigit() and not c.isascii() for c in body):
        return "it has non-ASCII digits; type the digits 0-9"
    if "-" in body or "+" in body:
        return "it has a sign where none belongs"
    if not _AMOUNT_CHARACTERS.fullmatch(body):
        return "it has a character other than the digits 0-9, ',' and '.'"
    return None


def _decimal_point(body: str) -> str | None:
    """Return what is wrong with the decimal point and the fen of an amount."""
    whole, point, decimals = body.partition(".")
    if "." in decimals:
        return "it has more than one decimal point"
    if point and not (whole and decimals):
        return "it needs digits on both sides of the decimal point, as in 0.50"
    if "," in decimals:
        return "it has a thousands separator after the decimal point"
    if len(decimals) > 2:
        return "it has more than two decimals (a fen is the smallest unit)"
    return None


def _whole_yuan(body: str) -> str | None:
    """Return what is wrong with the whole yuan of an amount: a leading zero, misplaced commas."""
    whole = body.partition(".")[0]
    if whole[0] == "0" and len(whole) > 1:
        return "it has a leading zero"
    if "," in whole and not _GROUPED.fullmatch(whole):
        return ("the thousands separators are misplaced: each group after a comma has "
                "exactly three digits, as in 1,000,000.00")
    return None


def _size(body: str) -> str | None:
    """Return what is wrong with the size of a well-written amount (more than the ledger holds)."""
    whole, _, decimals = body.partition(".")
    digits = whole.replace(",", "")
    if len(digits) > _MAX_YUAN_DIGITS or (
            int(digits) * FEN_PER_YUAN + int(decimals.ljust(2, "0")) > MAX_SAFE_INTEGER):
        return ("it is more than the largest amount the ledger records, "
                f"{format_fen(MAX_SAFE_INTEGER)}")
    return None


_AMOUNT_CHECKS = (_characters, _decimal_point, _whole_yuan, _size)


def parse_percent(text: object, what: str = "annual_rate_percent") -> Decimal:
    """Parse an annual rate in percent ('2.50' is 2.50 % a year) into a Decimal percentage.

    Raises SchemaError unless it is a plain decimal string, 0 to 9999, with
    at most four places.
    """
    if not isinstance(text, str) or not PERCENT_PATTERN.fullmatch(text):
        raise SchemaError(f"{what} must be a percentage written as a decimal string, "
                          "such as '2.50' for 2.50 % a year (at most four decimal places), "
                          f"not {described(text)}")
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already excludes this
        raise SchemaError(f"{what} {text!r} is not a decimal") from exc


def percent_in_basis_points(percent: Decimal) -> Decimal:
    """Return a percentage in basis points (2.5 % is 250 bp), exactly."""
    with localcontext(_EXACT):
        return percent * BASIS_POINTS_PER_PERCENT


def act360_days(funding: date, maturity: date) -> int:
    """Count days from `funding` (inclusive) to `maturity` (exclusive)."""
    return (maturity - funding).days


def round_half_up_fen(value: Decimal) -> int:
    """Round a Decimal count of fen to an integer, half away from zero."""
    with localcontext(_EXACT):
        return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def discount_interest(face: int, annual_rate_percent: Decimal, days: int) -> int:
    """Return interest in fen: face x rate % / 100 x days / 360, rounded half-up to the fen."""
    with localcontext(_EXACT):
        exact = (Decimal(face) * annual_rate_percent * Decimal(days)
                 / Decimal(100 * DAY_COUNT_BASIS))
        return round_half_up_fen(exact)


@dataclass(frozen=True)
class Pricing:
    """The priced terms of one financing, all money in fen."""

    face: int
    annual_rate_percent: str
    days: int
    interest: int
    fees: int
    fee_payer: str
    seller_fees: int
    net_proceeds: int


def price_financing(
    *, face: int, annual_rate_percent: str, funding: date, maturity: date, fees: int,
    fee_payer: str,
) -> Pricing:
    """Price a discount/factoring of `face` fen funded on `funding`, maturing on `maturity`.

    `annual_rate_percent` is the yearly rate in percent ('2.00' is 2 %).  The
    seller receives face - interest - the fees it bears; `fee_payer` is
    'seller', 'buyer' (the bank bears them) or 'split' (the seller bears half,
    rounded half-up).  Raises SchemaError on a malformed rate or fee payer.
    """
    if not isinstance(fee_payer, str) or fee_payer not in FEE_PAYERS:
        raise SchemaError(f"fee payer must be one of {', '.join(FEE_PAYERS)}")
    rate = parse_percent(annual_rate_percent)
    days = act360_days(funding, maturity)
    interest = discount_interest(face, rate, days)
    seller_fees = {"seller": fees, "buyer": 0, "split": (fees + 1) // 2}[fee_payer]
    return Pricing(
        face=face,
        annual_rate_percent=annual_rate_percent,
        days=days,
        interest=interest,
        fees=fees,
        fee_payer=fee_payer,
        seller_fees=seller_fees,
        net_proceeds=face - interest - seller_fees,
    )


def allocate_pro_rata(payment: int, amounts: Sequence[int]) -> tuple[int, ...]:
    """Split `payment` fen over `amounts` in proportion, exactly.

    Each share is floor(payment x amount / total); the fen left over go one
    each to the earliest entries.  Requires 0 <= payment <= sum(amounts) and
    every amount positive, so no share ever exceeds its amount.
    """
    total = sum(amounts)
    if not 0 <= payment <= total or any(a <= 0 for a in amounts):
        raise ValueError("payment must lie between 0 and the positive amounts' total")
    shares = [payment * amount // total for amount in amounts]
    for index in range(payment - sum(shares)):
        shares[index] += 1
    return tuple(shares)
