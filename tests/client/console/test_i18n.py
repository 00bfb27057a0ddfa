"""Every word the console shows exists in Chinese and in English.

The keys a template or page names literally (`t("key")`, or an `error_...`
reason) and every member of a family built from data (`role_` + each role,
`action_` + each action the queue knows, ...) must be in the catalog with
both texts, non-empty, with the same `{fields}`.  The verify page's scripts
hold English tables of their own (static/verify-page.js `ENGLISH`,
static/verify.js `MESSAGES`): each key is in the catalog (`vp_`, `vm_`) with
the very same English, and every message id the scripts name is in their
table, so the Chinese page can have no English left over.
"""

from __future__ import annotations

import json
import re
import string
from importlib.resources import files
from pathlib import Path

from client.console import approvals, audit_jobs, users
from client.console.i18n import CATALOG, FAMILIES, translator
from client.console.i18n_verify import PAGE_WORDS, VERIFIER_MESSAGES, verify_words
from contracts.records import FinancingStatus
from ledger.money import FEE_PAYERS

CONSOLE = Path(str(files("client.console")))
LITERAL = re.compile(r"""\bt\(\s*["']([a-z0-9_]+)["']""")
REASON = re.compile(r"""["'](error_[a-z_]+)["']|UserError\(\s*["'](user_[a-z_]+)["']""")
TABLE_LINE = re.compile(r'^\s+([a-z_0-9]+): ("(?:[^"\\]|\\.)*"),$')
SAID = re.compile(r'\b(?:say|fail)\("([a-z_0-9]+)"')
PAGE_SAID = re.compile(r'\b(?:words?|english|PageError)\("([a-z_0-9]+)"')
CHINESE = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")  # and its punctuation


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


def _script_table(name: str, opening: str) -> dict[str, str]:
    """Return the `key: "text",` table after `opening` in static/`name`, every line read."""
    source = (CONSOLE / "static" / name).read_text(encoding="utf-8")
    start = source.index(opening) + len(opening)
    body = source[start: source.index("\n});", start)]
    table: dict[str, str] = {}
    for line in body.splitlines():
        if line.strip() and not line.strip().startswith("//"):
            found = TABLE_LINE.match(line)
            assert found, line  # a line this reader cannot read would hide a word
            table[found.group(1)] = json.loads(found.group(2))
    return table


def test_the_verify_scripts_english_is_the_catalogs_english() -> None:
    page = _script_table("verify-page.js", "const ENGLISH = Object.freeze({")
    messages = _script_table("verify.js", "export const MESSAGES = Object.freeze({")
    assert len(page) > 40 and len(messages) > 150
    assert {f"vp_{k}": v for k, v in page.items()} == {k: en for k, (_, en) in PAGE_WORDS.items()}
    assert {f"vm_{k}": v for k, v in messages.items()} == {
        k: en for k, (_, en) in VERIFIER_MESSAGES.items()}
    assert [k for k, (zh, _) in {**PAGE_WORDS, **VERIFIER_MESSAGES}.items()
            if not CHINESE.search(zh)] == []


def test_every_word_the_verify_scripts_name_is_in_their_tables() -> None:
    verifier = (CONSOLE / "static" / "verify.js").read_text(encoding="utf-8")
    page = (CONSOLE / "static" / "verify-page.js").read_text(encoding="utf-8")
    messages = _script_table("verify.js", "export const MESSAGES = Object.freeze({")
    english = _script_table("verify-page.js", "const ENGLISH = Object.freeze({")
    said = set(SAID.findall(verifier)) | set(re.findall(r'"(assume_[a-z]+)"', verifier))
    assert said == set(messages)  # each id named is there, each entry is said somewhere
    assert set(SAID.findall(page)) <= set(messages)
    steps = re.findall(r'"([a-z_]+)"', verifier.split("const AFTER = [")[1].split("]")[0])
    named = {f"step_{name}" for name in [*steps, "verifier"]}  # word(`step_${name}`)
    assert set(PAGE_SAID.findall(page)) | named == set(english)


def test_the_verify_page_gets_every_word_in_its_language() -> None:
    zh, en = verify_words(translator("zh")), verify_words(translator("en"))
    assert set(zh) == set(en) == {"page", "messages"}
    assert zh["page"]["ok_detail"].startswith("交易 {tx} 在 {cosigners} ")  # fields kept
    assert en["messages"]["mismatch"] == (
        "{what} mismatch: expected {expected}, computed {computed}")
    assert all(CHINESE.search(text) for part in zh.values() for text in part.values())
