"""Error texts: a contract violation states the rule, then what was wrong, and the rule reads back.

The rule is what the contracts state and the tests assert; `rule_of` gets it
back from a stored reason, whatever the detail after it says.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import RULE_END, ContractViolation, described, rule_of, short_id

NOTE_RULE = "the note is active (not spent, settled or void)"


def test_a_violation_without_detail_is_its_rule() -> None:
    error = ContractViolation("the holder signs the transfer")
    assert str(error) == rule_of(str(error)) == error.rule == "the holder signs the transfer"
    assert error.detail == "" and error.code == "contract_violation"


def test_a_violation_states_the_rule_then_what_was_wrong() -> None:
    error = ContractViolation(NOTE_RULE, "note 1a2b3c4d\u2026 is spent")
    assert str(error) == f"{NOTE_RULE}: note 1a2b3c4d\u2026 is spent"
    assert rule_of(str(error)) == NOTE_RULE


@given(rule=st.text(min_size=1).filter(lambda r: RULE_END not in r), detail=st.text())
def test_the_rule_reads_back_from_any_message(rule: str, detail: str) -> None:
    assert rule_of(str(ContractViolation(rule, detail))) == rule


def test_reasons_of_other_errors_read_back_whole() -> None:
    assert rule_of("nonce already used by 91310000MA00000012") == (
        "nonce already used by 91310000MA00000012")


def test_an_id_is_quoted_by_its_first_eight_characters() -> None:
    assert short_id("602c4e1a" + "0" * 56) == "602c4e1a\u2026"


@pytest.mark.parametrize(("value", "text"), [
    ("RMB", "'RMB'"), ("", "''"), ("P\x00", "'P\\x00'"), ("x" * 41, "text of 41 characters"),
    ("发票", "'发票'"), (None, "null"), (True, "true"), (False, "false"), (-100, "-100"),
    (10**40, "a huge number"), ([1], "a list of 1 item"), ([], "a list of 0 items"),
    ({"a": 1}, "an object"),
])
def test_what_a_sender_gave_is_quoted_briefly_and_safely(value: object, text: str) -> None:
    assert described(value) == text
