"""Money (ledger/money.py): ACT/360 pricing, half-up rounding, pro-rata allocation, yuan text.

Reading yuan that a person typed (`parse_yuan`) is tested in tests/ledger/test_yuan.py.

Expected values are worked out independently with `fractions.Fraction`; the
property tests check `allocate_pro_rata` (exact sum, shares within their
amounts and within one fen of the exact proportion, leftover fen to the
earliest entries) and `discount_interest` against the exact rational value.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import SchemaError
from ledger.money import (
    Pricing,
    act360_days,
    allocate_pro_rata,
    discount_interest,
    format_fen,
    price_financing,
    round_half_up_fen,
)

FUNDING = date(2026, 1, 5)
FACE = 100_000_000  # 1,000,000.00


def _price(face: int = FACE, rate: str = "2.00", days: int = 90, fees: int = 0,
           fee_payer: str = "seller") -> Pricing:
    return price_financing(face=face, annual_rate_percent=rate, funding=FUNDING,
                           maturity=FUNDING + timedelta(days=days), fees=fees, fee_payer=fee_payer)


def _half_up(exact: Fraction) -> int:
    return int(exact + Fraction(1, 2)) if exact >= 0 else -int(-exact + Fraction(1, 2))


def test_worked_example_to_the_fen() -> None:
    p = _price()
    assert (p.days, p.interest, p.fees, p.seller_fees) == (90, 500_000, 0, 0)
    assert p.net_proceeds == 99_500_000
    assert (format_fen(p.interest), format_fen(p.net_proceeds)) == ("5,000.00", "995,000.00")


def test_days_count_from_funding_inclusive_to_maturity_exclusive() -> None:
    assert act360_days(date(2026, 1, 5), date(2026, 4, 5)) == 90
    assert act360_days(date(2026, 1, 5), date(2026, 1, 6)) == 1
    assert act360_days(date(2028, 2, 28), date(2028, 3, 1)) == 2  # leap year


@pytest.mark.parametrize(("days", "interest"), [
    (1, 5_556), (7, 38_889), (90, 500_000), (91, 505_556), (181, 1_005_556), (365, 2_027_778),
])
def test_odd_day_counts(days: int, interest: int) -> None:
    assert interest == _half_up(Fraction(FACE * 2 * days, 100 * 360))
    p = _price(days=days)
    assert (p.days, p.interest, p.net_proceeds) == (days, interest, FACE - interest)


@pytest.mark.parametrize(("fee_payer", "fees", "seller_fees"), [
    ("seller", 10_001, 10_001), ("buyer", 10_001, 0), ("split", 10_000, 5_000),
    ("split", 10_001, 5_001), ("split", 1, 1), ("split", 3, 2), ("split", 0, 0),
])
def test_fees_borne_by_each_fee_payer(fee_payer: str, fees: int, seller_fees: int) -> None:
    p = _price(fees=fees, fee_payer=fee_payer)
    assert (p.fees, p.fee_payer, p.seller_fees) == (fees, fee_payer, seller_fees)
    assert p.net_proceeds == FACE - 500_000 - seller_fees


@pytest.mark.parametrize(("face", "percent", "days", "interest"), [
    (250, "36", 10, 3),  # exactly 2.5 fen: half-up gives 3 (banker's rounding would give 2)
    (350, "36", 10, 4),  # exactly 3.5 fen
    (249, "36", 10, 2),  # 2.49
    (251, "36", 10, 3),  # 2.51
    (1_000_000_500, "3.6", 10, 1_000_001),  # 1,000,000.5 fen exactly
    (1_000_000_499, "3.6", 10, 1_000_000),  # .499 just below the half
    (1_000_000_501, "3.6", 10, 1_000_001),  # .501 just above the half
    (18, "1", 1000, 1),  # 0.5 fen: the smallest half
    (17, "1", 1000, 0),  # 0.4722... fen
])
def test_half_up_rounding_edges(face: int, percent: str, days: int, interest: int) -> None:
    assert interest == _half_up(Fraction(face) * Fraction(percent) / 100 * days / 360)
    assert discount_interest(face, Decimal(percent), days) == interest


@pytest.mark.parametrize(("value", "fen"), [
    ("2.5", 3), ("-2.5", -3), ("2.4999999999", 2), ("0.5", 1), ("1.5", 2),
])
def test_round_half_up_fen_goes_away_from_zero(value: str, fen: int) -> None:
    assert round_half_up_fen(Decimal(value)) == fen


@given(face=st.integers(1, 10**15), bp=st.integers(0, 9_999), days=st.integers(0, 366))
@settings(max_examples=300, deadline=None, derandomize=True)
def test_interest_is_the_exact_value_rounded_half_up(face: int, bp: int, days: int) -> None:
    percent = f"{bp // 100}.{bp % 100:02d}"  # bp basis points, written in percent
    assert discount_interest(face, Decimal(percent), days) == _half_up(
        Fraction(face * bp * days, 10_000 * 360))


def test_a_rate_is_read_in_percent_never_as_a_fraction() -> None:
    """'2.5' is 2.5 % a year: 90 days of 1,000,000.00 cost 6,250.00, not 625,000.00."""
    assert _price(rate="2.5").interest == 625_000
    assert _price(rate="2.50").interest == _price(rate="2.5").interest


RATE = ("annual_rate_percent must be a percentage written as a decima"
        "l string, such as '2.50' for 2.50 % a year (at most four decimal places), not ")


@pytest.mark.parametrize(("bad", "kwargs"), [
    ("fee payer must be one of seller, buyer, split", {"fee_payer": "bank"}),
    (RATE + "'2%'", {"rate": "2%"}),
    (RATE + "'-2'", {"rate": "-2"}),
    (RATE + "'2.00001'", {"rate": "2.00001"}),  # five decimal places
    (RATE + "'2\\n'", {"rate": "2\n"}),
    (RATE + "'\uff12.\uff10'", {"rate": "\uff12.\uff10"}),  # full-width digits
    (RATE + "'10000'", {"rate": "10000"}),
])
def test_malformed_pricing_inputs_are_schema_errors(bad: str, kwargs: dict) -> None:
    with pytest.raises(SchemaError) as info:
        _price(**kwargs)
    assert str(info.value) == bad


@pytest.mark.parametrize(("fen", "text"), [
    (0, "0.00"), (5, "0.05"), (100, "1.00"), (100_050, "1,000.50"), (99_500_000, "995,000.00"),
    (-5, "-0.05"), (-123_456_789, "-1,234,567.89"),
])
def test_format_fen(fen: int, text: str) -> None:
    assert format_fen(fen) == text


@pytest.mark.parametrize(("payment", "amounts", "shares"), [
    (10, [4, 4, 4], (4, 3, 3)),
    (2, [1, 1, 1], (1, 1, 0)),
    (0, [5, 5], (0, 0)),
    (10, [3, 7], (3, 7)),
    (50_000_002, [33_333_333, 33_333_333, 33_333_334], (16_666_668, 16_666_667, 16_666_667)),
])
def test_allocate_pro_rata_examples(payment: int, amounts: list[int], shares: tuple) -> None:
    assert allocate_pro_rata(payment, amounts) == shares


@pytest.mark.parametrize(("payment", "amounts"), [(11, [5, 5]), (-1, [5, 5]), (1, [0, 5])])
def test_allocate_pro_rata_rejects_impossible_payments(payment: int, amounts: list[int]) -> None:
    with pytest.raises(ValueError, match="payment must lie between 0"):
        allocate_pro_rata(payment, amounts)


@st.composite
def _payment_over(draw: st.DrawFn) -> tuple[int, list[int]]:
    amounts = draw(st.lists(st.integers(1, 10**12), min_size=1, max_size=20))
    return draw(st.integers(0, sum(amounts))), amounts


@given(_payment_over())
@settings(max_examples=300, deadline=None, derandomize=True)
def test_allocate_pro_rata_is_exact_bounded_and_fair(case: tuple[int, list[int]]) -> None:
    payment, amounts = case
    shares = allocate_pro_rata(payment, amounts)
    total = sum(amounts)
    assert sum(shares) == payment
    assert all(0 <= s <= a for s, a in zip(shares, amounts, strict=True))
    exact = [Fraction(payment * a, total) for a in amounts]
    assert all(abs(s - e) < 1 for s, e in zip(shares, exact, strict=True))
    extra = [s - payment * a // total for s, a in zip(shares, amounts, strict=True)]
    assert extra == sorted(extra, reverse=True)  # leftover fen go to the earliest entries
    assert set(extra) <= {0, 1}
