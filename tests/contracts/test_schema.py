"""Argument schema: missing, unknown and mistyped arguments are `bad_schema`, naming the field.

Each case starts from valid arguments for one action (checked by
`test_schema_bases_are_valid`) and breaks exactly one of them.  Amounts must be
positive integers of fen; dates, ids, USCCs, currencies and rates have one spelling.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.contracts.support import FACE, Split, issue, issue_args, pay_to, refused, trade

DROP = object()
Base = Callable[[Split], tuple[str, dict[str, Any]]]


def _issue(s: Split) -> tuple[str, dict[str, Any]]:
    return "core", issue_args(s.c, s.line, trade=trade(s.c, number="INV-2"))


def _transfer(s: Split) -> tuple[str, dict[str, Any]]:
    return "s1", {"note": s.rest, "payments": pay_to(s.c, "s3", 10_000)}


def _accept(s: Split) -> tuple[str, dict[str, Any]]:
    return "s1", {"receivable": issue(s.c, s.line, trade=trade(s.c, number="INV-3"))}


def _offer(s: Split) -> tuple[str, dict[str, Any]]:
    r = s.c.ok("s2", "request_financing", note=s.paid, bank=s.c.uscc("b1"))
    return "b1", {"financing": r.events[0]["financing"], "annual_rate_percent": "2.00",
                  "funding_date": "2026-01-05", "fees": 0, "fee_payer": "seller",
                  "recourse": True}


def _pay(s: Split) -> tuple[str, dict[str, Any]]:
    s.c.advance(days=90)
    return "core", {"receivable": s.root, "amount": FACE, "payment_ref": "P-1"}


def _grant(s: Split) -> tuple[str, dict[str, Any]]:
    return "b1+core", {"bank": s.c.uscc("b1"), "core": s.c.uscc("core"), "limit": FACE,
                       "currency": "CNY", "expiry_date": "2026-12-31"}


BASES: dict[str, Base] = {"issue": _issue, "transfer": _transfer, "accept": _accept,
                          "offer_terms": _offer, "pay": _pay, "grant_credit_line": _grant}


def _attempt(split: Split, action: str, change: dict[str, Any]) -> tuple[str, str]:
    signer, args = BASES[action](split)
    for name, value in change.items():
        if value is DROP:
            del args[name]
        else:
            args[name] = value(split) if callable(value) else value
    r = refused(split.c, signer.split("+"), action, **args)
    return r.code, r.reason


@pytest.mark.parametrize("action", sorted(BASES))
def test_schema_bases_are_valid(split: Split, action: str) -> None:
    signer, args = BASES[action](split)
    split.c.ok(signer.split("+"), action, **args)


@pytest.mark.parametrize(("action", "change", "missing"), [
    ("transfer", {"payments": DROP}, "payments"),
    ("issue", {"trade": DROP}, "trade"),
    ("accept", {"receivable": DROP}, "receivable"),
    ("offer_terms", {"fee_payer": DROP, "recourse": DROP}, "fee_payer, recourse"),
    ("pay", {"payment_ref": DROP}, "payment_ref"),
])
def test_missing_argument_is_bad_schema(
    split: Split, action: str, change: dict[str, Any], missing: str
) -> None:
    assert _attempt(split, action, change) == (
        "bad_schema", f"{action} is missing argument(s): {missing}")


@pytest.mark.parametrize("action", sorted(BASES))
def test_unknown_argument_is_bad_schema(split: Split, action: str) -> None:
    assert _attempt(split, action, {"memo": "hello"}) == (
        "bad_schema", f"{action} got unknown argument(s): memo")


def _payment(amount: Any) -> Callable[[Split], list[dict[str, Any]]]:
    return lambda s: [{"to": s.c.uscc("s3"), "amount": amount}]


def _invoice(**change: Any) -> Callable[[Split], dict[str, Any]]:
    def build(s: Split) -> dict[str, Any]:
        t = trade(s.c, number="INV-2")
        t["invoices"][0].update(change)
        return t
    return build


CURRENCY = "currency must be one of CNY, EUR, GBP, HKD, JPY, USD, not "
PRINTABLE_64 = "must be printable text of 1 to 64 characters (no control characters), not "
RATE = ("annual_rate_percent must be a percentage written as a decimal string, such as '2.50' "
        "for 2.50 % a year (at most four decimal places), not ")
FEN_INT = "must be an integer number of fen, not"
HEX_ID = "must be a 64-digit lower-case hex id, not"
# What the sender gave is quoted back (text only when short); amounts in yuan, never raw fen.
MISTYPED = [
    ("issue", "amount", "100000000", f"amount {FEN_INT} '100000000'"),
    ("issue", "amount", True, f"amount {FEN_INT} true"),
    ("issue", "amount", 0, "amount must be positive, not 0.00"),
    ("issue", "amount", -100, "amount must be positive, not -1.00"),
    ("issue", "amount", -100_000, "amount must be positive, not -1,000.00"),
    ("issue", "currency", "RMB", CURRENCY + "'RMB'"),
    # a list or an object where a currency belongs was a TypeError (a 500 at submission)
    ("issue", "currency", ["CNY"], CURRENCY + "a list of 1 item"),
    ("issue", "currency", {}, CURRENCY + "an object"),
    ("grant_credit_line", "currency", ["CNY"], CURRENCY + "a list of 1 item"),
    ("grant_credit_line", "currency", {"CNY": 1}, CURRENCY + "an object"),
    ("issue", "maturity_date", "2026/04/05",
     "maturity_date must be a date like 2026-01-31, not '2026/04/05'"),
    ("issue", "maturity_date", "2026-02-30", "maturity_date '2026-02-30' is not a real date"),
    ("issue", "to", "91310000MA00000020",
     "to must be a valid 18-character USCC, not '91310000MA00000020' "
     "(its check character is wrong)"),
    ("issue", "to", "9131000", "to must be a valid 18-character USCC, not '9131000'"),
    ("issue", "credit_line", "AB" * 32,
     f"credit_line {HEX_ID} 'ABABABAB'... (64 characters, not all of them 0-9 or a-f)"),
    ("issue", "trade", _invoice(amount="1"), f"invoice amount {FEN_INT} '1'"),
    ("issue", "trade", _invoice(seller="s1"),
     "invoice seller must be a valid 18-character USCC, not 's1'"),
    ("issue", "trade", _invoice(extra=1),
     "each invoice has exactly allocated, amount, number and seller (unknown extra)"),
    ("issue", "trade", {"contract_no": "PO", "invoices": []},
     "trade has exactly contract_no, documents and invoices (missing documents)"),
    ("issue", "trade", [], "trade has exactly contract_no, documents and invoices, "
                           "not a list of 0 items"),
    ("transfer", "payments", [], "payments must be a list of 1 to 100 objects, "
                                 "not a list of 0 items"),
    ("transfer", "payments", _payment("10000"), f"payment amount {FEN_INT} '10000'"),
    ("transfer", "payments", _payment(0), "payment amount must be positive, not 0.00"),
    ("transfer", "note", "x" * 64,
     f"note {HEX_ID} 'xxxxxxxx'... (64 characters, not all of them 0-9 or a-f)"),
    ("transfer", "note", lambda s: s.rest + "\n",
     f"note {HEX_ID} " + "{!r}... (65 characters)"),
    ("transfer", "note", "602c4e1a", f"note {HEX_ID} '602c4e1a'"),
    ("offer_terms", "annual_rate_percent", "2%", RATE + "'2%'"),
    ("offer_terms", "annual_rate_percent", 2, RATE + "2"),
    ("offer_terms", "fee_payer", "bank", "fee_payer must be one of seller, buyer, split, "
                                         "not 'bank'"),
    ("offer_terms", "fee_payer", ["seller"], "fee_payer must be one of seller, buyer, split, "
                                             "not a list of 1 item"),
    ("offer_terms", "recourse", "yes", "recourse must be true or false, not 'yes'"),
    ("offer_terms", "fees", -1, "fees must be zero or positive, not -0.01"),
    ("pay", "payment_ref", " ", f"payment_ref {PRINTABLE_64}' '"),
    ("pay", "payment_ref", "P\x00", f"payment_ref {PRINTABLE_64}'P\\x00'"),
    ("pay", "payment_ref", "P-1\nP-2", f"payment_ref {PRINTABLE_64}'P-1\\nP-2'"),
    ("pay", "payment_ref", "P" * 65, f"payment_ref {PRINTABLE_64}text of 65 characters"),
    ("pay", "amount", [FACE], f"amount {FEN_INT} a list of 1 item"),
    ("grant_credit_line", "limit", None, f"limit {FEN_INT} null"),
]


@pytest.mark.parametrize(("action", "name", "value", "reason"), MISTYPED)
def test_mistyped_argument_is_bad_schema(
    split: Split, action: str, name: str, value: Any, reason: str
) -> None:
    if "{!r}" in reason:  # the value quoted back depends on the fixture
        reason = reason.format(value(split)[:8])
    assert _attempt(split, action, {name: value}) == ("bad_schema", reason)
