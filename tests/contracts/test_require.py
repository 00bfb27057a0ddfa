"""`require` and `fail`: the specifics of a refusal are formatted only when the rule fails."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from contracts import code
from contracts.base import fail, require
from ledger.errors import RULE_END, ContractViolation

RULE = "each split piece is at least the minimum amount"


class Exploding:
    """A value whose formatting fails the test: a rule that holds must not format."""

    def __format__(self, spec: str) -> str:
        raise AssertionError("formatted although the rule held")


def test_a_rule_that_holds_formats_nothing() -> None:
    require(True, RULE, "piece {} is below the minimum", Exploding())


def test_amounts_are_written_in_yuan_ids_in_short_and_signers_by_or() -> None:
    with pytest.raises(ContractViolation) as info:
        require(5_000 >= 10_000, RULE, "piece {:yuan} is below the minimum {:yuan} ({:id}, {:who})",
                5_000, 10_000, "602c4e1a" + "0" * 56, ["A", "B"])
    assert str(info.value) == (
        f"{RULE}: piece 50.00 is below the minimum 100.00 (602c4e1a\u2026, A or B)")
    assert (info.value.rule, info.value.detail) == (
        RULE, "piece 50.00 is below the minimum 100.00 (602c4e1a\u2026, A or B)")


def test_a_detail_without_values_is_taken_as_it_is() -> None:
    with pytest.raises(ContractViolation, match=r"^r: note \{x\} is frozen$"):
        fail("r", "note {x} is frozen")


def test_a_missing_id_is_none_rather_than_a_crash() -> None:
    with pytest.raises(ContractViolation, match=r"^r: terms none$"):
        fail("r", "terms {:id}", None)


# where each function that fails with a rule takes it: the position of the rule argument
RULE_ARGUMENT = {"require": 1, "fail": 0, "authorise": 1, "active_member": 3,
                 "signed_credential": 3, "held_note": 2, "holder_note": 2, "_pending": 2,
                 "core_line": 2, "_signed_financing": 3, "_sole_signer": 1,
                 "_require_active": 2, "_require_status": 2}


def _written_rules() -> list[str]:
    """Return the text of every rule the contracts write out where they fail with it."""
    rules = []
    for path in sorted(code.PACKAGE_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            at = RULE_ARGUMENT.get(str(name))
            if at is None or len(node.args) <= at:
                continue
            rule = node.args[at]
            parts = rule.values if isinstance(rule, ast.JoinedStr) else [rule]
            text = "".join(p.value for p in parts
                           if isinstance(p, ast.Constant) and isinstance(p.value, str))
            if text:
                rules.append(text)
    return rules


def test_no_rule_contains_the_mark_that_ends_it() -> None:
    """`rule_of` finds the end of a rule at the first ": ", so no rule may hold one."""
    rules = _written_rules()
    assert len(rules) > 90 and "the holder signs the transfer" in rules
    assert [rule for rule in rules if RULE_END in rule] == []
