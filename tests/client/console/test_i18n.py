"""Every word the console shows exists in Chinese and in English.

The keys a template or page names literally (`t("key")`, or an `error_...`
reason) and every member of a family built from data (`role_` + each role,
`action_` + each action the queue knows, ...) must be in the catalog with
both texts, non-empty, with the same `{fields}`.
"""

from __future__ import annotations

import re
import string
from importlib.resources import files
from pathlib import Path

from client.console import approvals, audit_jobs, users
from client.console.i18n import CATALOG, FAMILIES, translator
from contracts.records import FinancingStatus
from ledger.money import FEE_PAYERS

CONSOLE = Path(str(files("client.console")))
LITERAL = re.compile(r"""\bt\(\s*["']([a-z0-9_]+)["']""")
REASON = re.compile(r"""["'](error_[a-z_]+)["']|UserError\(\s*["'](user_[a-z_]+)["']""")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_key_has_both_languages_with_the_same_fields() -> None:
    for key, (zh, en) in CATALOG.items():
        assert zh.strip() and en.strip(), key
        assert _fields(zh) == _fields(en), key
        assert zh != en or key in {"console"}, key  # a Chinese text, not a copy


def test_every_key_used_by_a_template_or_page_is_in_the_catalog() -> None:
    used: set[str] = set()
    for path in [*CONSOLE.glob("templates/*.html"), *CONSOLE.rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        used |= set(LITERAL.findall(text))
        used |= {k for pair in REASON.findall(text) for k in pair if k}
    used -= {k for k in used if k.endswith("_")}
    assert used and sorted(used - set(CATALOG)) == []


def test_every_family_member_is_in_the_catalog() -> None:
    assert set(FAMILIES["role_"]) == set(users.ROLES)
    assert set(FAMILIES["action_"]) == set(FAMILIES["summary_"]) == set(approvals.ACTIONS)
    assert set(FAMILIES["arg_"]) == {a for action in approvals.ACTIONS.values()
                                     for a in action.args}
    assert set(approvals.STATES) | {approvals.SIGNING} == set(FAMILIES["state_"])
    assert set(audit_jobs.STATES) == set(FAMILIES["au_state_"])
    missing = [prefix + member for prefix, members in FAMILIES.items() for member in members
               if prefix + member not in CATALOG]
    assert missing == []


def test_a_financing_status_and_a_fee_payer_each_have_one_family_of_words() -> None:
    """The seller's and the bank's parts of a financing's page name a status alike."""
    statuses = {s.value for s in FinancingStatus}
    named = {p for p, members in FAMILIES.items() if set(members) == statuses}
    assert named == {"financing_status_", "fin_todo_", "fin_step_"}  # name, next, history
    assert [p for p, members in FAMILIES.items() if set(members) == set(FEE_PAYERS)] == [
        "fee_payer_"]


def test_every_word_in_the_catalog_is_used() -> None:
    """A key no template, page or script names is a word left behind (a merged duplicate)."""
    texts = "".join(p.read_text(encoding="utf-8") for p in [
        *CONSOLE.glob("templates/*.html"), *CONSOLE.glob("static/*.js"), *CONSOLE.rglob("*.py")]
        if p.name != "i18n.py")
    quoted = set(re.findall(r"""["']([a-z0-9_]+)["']""", texts))
    members = {prefix + m for prefix, ms in FAMILIES.items() for m in ms}
    assert sorted(set(CATALOG) - quoted - members) == []


def test_the_translator_fills_fields_in_either_language() -> None:
    assert translator("zh")("home_pending_count", count=3) == "待复核 3 笔"
    assert translator("en")("home_pending_count", count=3) == (
        "3 transaction(s) awaiting approval")
    assert translator("fr")("login") == "Log in"  # an unknown language reads as English
