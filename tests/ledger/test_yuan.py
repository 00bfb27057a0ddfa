"""Yuan typed by a person (`ledger.money.parse_yuan`): only well-formed amounts become fen.

The CLI and the SDK take amounts in yuan as text.  A misread amount moves
real money, so anything but a plain, well-formed amount is refused with a
message that quotes the text and names what is wrong with it: "1,00,000" is
not read as 100,000.00, "1.234" is not rounded, and full-width or
Arabic-Indic digits, exponents, infinities and signs are not guessed at.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.canonical import MAX_SAFE_INTEGER
from ledger.errors import SchemaError
from ledger.money import format_fen, parse_yuan

AMOUNTS = st.integers(0, MAX_SAFE_INTEGER)


@given(AMOUNTS)
def test_every_amount_reads_back_as_written_with_separators(fen: int) -> None:
    assert parse_yuan(format_fen(fen)) == fen


@given(AMOUNTS)
def test_every_amount_reads_back_as_written_without_separators(fen: int) -> None:
    yuan, cents = divmod(fen, 100)
    assert parse_yuan(f"{yuan}.{cents:02d}") == fen
    if cents == 0:
        assert parse_yuan(str(yuan)) == fen
    if cents % 10 == 0:
        assert parse_yuan(f"{yuan}.{cents // 10}") == fen


@given(AMOUNTS)
def test_negative_amounts_read_back_only_where_a_sign_is_allowed(fen: int) -> None:
    assert parse_yuan(format_fen(-fen), negative=True) == -fen
    if fen:
        with pytest.raises(ValueError, match="is negative"):
            parse_yuan(format_fen(-fen))


@pytest.mark.parametrize(("text", "fen"), [
    ("1,000,000.00", 100_000_000), ("1000000.00", 100_000_000), ("1,000,000", 100_000_000),
    ("100,000", 10_000_000), ("0.5", 50), ("12.34", 1_234), ("0.01", 1), ("0", 0),
    (" 7 ", 700), ("7\n", 700), ("999", 99_900),
    ("90,071,992,547,409.91", MAX_SAFE_INTEGER),
])
def test_well_formed_amounts(text: str, fen: int) -> None:
    assert parse_yuan(text) == fen


@pytest.mark.parametrize(("text", "fen"), [("-1.5", -150), (" -1,000.05", -100_005), ("-0", 0),
                                           ("12", 1_200)])
def test_a_leading_minus_where_a_sign_is_allowed(text: str, fen: int) -> None:
    assert parse_yuan(text, negative=True) == fen


@pytest.mark.parametrize("text", ["--1", "+1", "-", "- 1", "-+1", "1-"])
def test_only_one_leading_minus_is_a_sign(text: str) -> None:
    with pytest.raises(ValueError, match="is not a well-formed amount in yuan"):
        parse_yuan(text, negative=True)


@pytest.mark.parametrize(("text", "problem"), [
    ("1,00,000", "the thousands separators are misplaced: each group after a comma has "
                 "exactly three digits, as in 1,000,000.00"),
    ("1,0000", "the thousands separators are misplaced"),
    ("1000,000", "the thousands separators are misplaced"),
    (",100", "the thousands separators are misplaced"),
    ("100,", "the thousands separators are misplaced"),
    ("1,,000", "the thousands separators are misplaced"),
    ("1.234", "more than two decimals (a fen is the smallest unit)"),
    ("1.005", "more than two decimals"),
    ("1.00,0", "a thousands separator after the decimal point"),
    ("1e5", "an exponent; write the amount out in full"),
    ("1E+5", "an exponent"),
    ("2.5e-1", "an exponent"),
    ("inf", "not a finite number"),
    ("Infinity", "not a finite number"),
    ("-inf", "not a finite number"),
    ("nan", "not a finite number"),
    ("NaN", "not a finite number"),
    ("-1000", "is negative; amounts here are positive"),
    ("+1000", "a sign"),
    ("--1", "a sign"),
    ("1-", "a sign"),
    ("1,000-00", "a sign"),
    ("\uff11\uff10\uff10", "non-ASCII digits; type the digits 0-9"),
    ("\u0661\u0660\u0660", "non-ASCII digits"),
    ("\u0967\u0966", "non-ASCII digits"),
    ("100\uff0e00", "a character other than the digits 0-9, ',' and '.'"),
    ("\u00a5100", "a character other than the digits 0-9"),
    ("100 000", "a character other than the digits 0-9"),
    ("1_000", "a character other than the digits 0-9"),
    ("0x10", "a character other than the digits 0-9"),
    ("abc", "a character other than the digits 0-9"),
    ("1.5x", "a character other than the digits 0-9"),
    ("", "it is empty"),
    ("   ", "it is blank"),
    ("\t\n", "it is blank"),
    ("1.", "digits on both sides of the decimal point"),
    (".5", "digits on both sides of the decimal point"),
    ("1.2.3", "more than one decimal point"),
    ("007", "a leading zero"),
    ("0,100", "a leading zero"),
    ("90,071,992,547,409.92", "more than the largest amount the ledger records, "
                              "90,071,992,547,409.91"),
    ("1" * 30, "more than the largest amount"),
])
def test_malformed_amounts_are_refused_naming_the_text_and_the_problem(
    text: str, problem: str,
) -> None:
    with pytest.raises(ValueError) as info:
        parse_yuan(text)
    message = str(info.value)
    assert message.startswith(f"{text!r} is not a well-formed amount in yuan: ")
    assert problem in message
    assert isinstance(info.value, SchemaError)  # the CLI reports every LedgerError as bad input


def test_a_long_text_is_described_not_quoted_whole() -> None:
    with pytest.raises(ValueError, match=r"^text of 60 characters is not a well-formed amount"):
        parse_yuan("x" * 60)


@given(st.text(max_size=24))
def test_any_text_is_an_amount_or_a_value_error(text: str) -> None:
    try:
        fen = parse_yuan(text)
    except ValueError as exc:
        assert "is not a well-formed amount in yuan: " in str(exc)
    else:
        assert 0 <= fen <= MAX_SAFE_INTEGER
        assert parse_yuan(format_fen(fen)) == fen
