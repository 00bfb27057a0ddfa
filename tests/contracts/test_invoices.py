"""Invoice identity (DOMAIN: invoice utilisation prevents double financing).

An invoice is seller + buyer + number in one normal form (NFKC, no
whitespace, ASCII upper case); its amount is fixed while something uses it,
and a cancelled credential gives its use back.  Each case here was a way past
the rule before invoices were identified this way.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.receivable.invoices import invoice_number
from contracts.records import invoice_id
from ledger.errors import SchemaError
from tests.builders import MemoryChain
from tests.contracts.support import FACE, grant_line, issue, issue_args, refused, said, trade

BEYOND = "an invoice is never used beyond its amount (no double financing)"
SAME = "an invoice's amount is the same in every use"


def _use_fully(chain: MemoryChain, line: str, number: str = "INV-A") -> None:
    issue(chain, line, trade=trade(chain, number=number, amount=FACE, allocated=FACE))


@pytest.mark.parametrize("spelling", [
    "INV-A ", " INV-A", "inv-a", "Inv-A", "INV - A", "I N V-A", "INV-A\u3000",
    "\uff29\uff2e\uff36\uff0d\uff21",  # full-width letters and hyphen
    "INV-\uff41",  # a full-width lower-case a
])
def test_a_fully_used_invoice_backs_nothing_more_under_another_spelling(
    chain: MemoryChain, line: str, spelling: str
) -> None:
    _use_fully(chain, line)
    args = issue_args(chain, line, trade=trade(chain, number=spelling, amount=FACE,
                                               allocated=FACE))
    # the refusal names the invoice in its normal form, whatever the spelling
    assert refused(chain, "core", "issue", **args).reason == said(
        BEYOND,
        "1,000,000.00 allocated to invoice INV-A is more than the 0.00 left of its 1,000,000.00")


def test_the_credential_keeps_the_invoice_number_in_its_normal_form(
    chain: MemoryChain, line: str
) -> None:
    root = issue(chain, line, trade=trade(chain, number=" inv-\uff41 7 "))
    assert chain.get("receivable/" + root)["trade"]["invoices"][0]["number"] == "INV-A7"


def test_two_buyers_never_touch_each_others_invoices(chain: MemoryChain, line: str) -> None:
    """core and core2 both buy from s1 and both receive an invoice numbered INV-A."""
    other_line = grant_line(chain, core="core2")
    _use_fully(chain, line)
    args = issue_args(chain, other_line, trade=trade(chain, number="INV-A", amount=FACE,
                                                     allocated=FACE))
    chain.ok("core2", "issue", **args)  # not blocked by core's use of its own invoice
    mine = chain.get("invoice/" + invoice_id(chain.uscc("s1"), chain.uscc("core"), "INV-A"))
    theirs = chain.get("invoice/" + invoice_id(chain.uscc("s1"), chain.uscc("core2"), "INV-A"))
    assert (mine["buyer"], theirs["buyer"]) == (chain.uscc("core"), chain.uscc("core2"))
    assert mine["allocated"] == theirs["allocated"] == FACE


@pytest.mark.parametrize(("cancel", "signer"), [("withdraw", "core"), ("reject", "s1"),
                                                ("expire", "core")])
def test_a_cancelled_typo_does_not_fix_the_invoice_amount(
    chain: MemoryChain, line: str, cancel: str, signer: str
) -> None:
    """An issuance declared the invoice at 999.00 by mistake and was cancelled."""
    typo = issue(chain, line, amount=99_900, trade=trade(chain, amount=99_900, allocated=99_900))
    if cancel == "expire":
        chain.advance(days=8)
    chain.ok(signer, cancel, receivable=typo)
    assert chain.get("invoice/" + invoice_id(chain.uscc("s1"), chain.uscc("core"),
                                             "INV-1")) is None
    issue(chain, line, trade=trade(chain, amount=2 * FACE, allocated=FACE))


def test_an_invoice_still_in_use_keeps_its_amount(chain: MemoryChain, line: str) -> None:
    kept = issue(chain, line, trade=trade(chain, amount=2 * FACE, allocated=FACE // 2),
                 amount=FACE // 2)
    gone = issue(chain, line, trade=trade(chain, amount=2 * FACE, allocated=FACE // 2),
                 amount=FACE // 2)
    chain.ok("core", "withdraw", receivable=gone)
    args = issue_args(chain, line, trade=trade(chain, amount=3 * FACE))
    reason = refused(chain, "core", "issue", **args).reason
    assert reason == said(SAME, "invoice INV-1 is on record for 2,000,000.00, not 3,000,000.00")
    assert chain.get("receivable/" + kept)["status"] == "pending"


@pytest.mark.parametrize(("raw", "normal"), [
    ("INV-1", "INV-1"), (" inv 1 ", "INV1"), ("\uff49\uff4e\uff56\uff11", "INV1"),
    ("No.7\t8", "NO.78"), ("发票-12ab", "发票-12AB"), ("ß-x", "ß-X"),  # only ASCII is upper-cased
    ("r\u00b8", "\u0156"),  # NFKC gives r, space, combining cedilla; without the space: R-cedilla
])
def test_invoice_number_normal_form(raw: str, normal: str) -> None:
    assert invoice_number(raw) == normal


@pytest.mark.parametrize("raw", ["", "   ", "\u3000", "A\x00B", "A\u200eB", "X" * 65, 7, None,
                                 ["INV-1"], {"n": 1}])
def test_what_has_no_normal_form_is_a_schema_error(raw: object) -> None:
    with pytest.raises(SchemaError):
        invoice_number(raw)


@given(st.text(max_size=80))
def test_the_normal_form_is_stable_and_has_no_space_or_ascii_lower_case(raw: str) -> None:
    try:
        normal = invoice_number(raw)
    except SchemaError:
        return
    assert invoice_number(normal) == normal
    assert not any(c.isspace() for c in normal)
    assert not any("a" <= c <= "z" for c in normal)
    assert 1 <= len(normal) <= 64
