"""The supplier's and core enterprise's pages in Chromium, against a real node and two consoles.

One node, and two consoles as processes (supplier s1 and core enterprise
`core`, English), shared by the module's tests, which run in order as one
story: the core's maker issues against invoices with a tenor past the
policy's review threshold (the page warns, the maker confirms) and a checker
approves; the supplier splits a note (the remainder shown as typed, a piece
under the minimum refused in the page and, when the form is forced past the
script, by the server), asks a bank for financing, and accepts exactly the
bank's terms on the financing's page, read in English and Chinese (a
re-offer made after the page was drawn is not accepted silently); at
maturity the core pays, and the clearing shows on the supplier's dashboard
and on the credential.  Another supplier's credential by URL is the 404
page.  Every request off the console is aborted and fails the test; axe-core
finds no serious or critical violation on any new page; screenshots at
1280x900 and 820x1180 go to LEDGER_SCREENSHOT_DIR when set.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from client.local_consortium.browser import BrowserMissing, chromium_binary
from tests.client.console.support import (
    Running,
    org_console_settings,
    running_console,
)
from tests.client.console.test_browser import Tab
from tests.node.support import FACE, grant_line, issue_accepted, issue_args
from tests.nodes import RunningNode, running_node
from tests.tools import need_tool

pytestmark = pytest.mark.slow  # one story of about a minute, in order


@dataclass
class Story:
    """The node, both consoles, and what the story has made so far."""

    node: RunningNode
    s1: Running
    core: Running
    line: str
    shots: Path
    made: dict[str, str]


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    folder = tmp_path_factory.mktemp("supplier_core")
    (folder / "node").mkdir()
    keep = os.environ.get("LEDGER_SCREENSHOT_DIR")
    shots = Path(keep) if keep else folder
    shots.mkdir(parents=True, exist_ok=True)
    with running_node(folder / "node", verifier_processes=0) as node, ExitStack() as stack:
        line = grant_line(node)
        s1 = stack.enter_context(running_console(org_console_settings(node, folder, "s1")))
        core = stack.enter_context(running_console(org_console_settings(node, folder, "core")))
        yield Story(node, s1, core, line, shots, {})


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    need_tool(chromium_binary, BrowserMissing)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=shutil.which("chromium"),
                                              args=["--no-sandbox"])
        yield launched
        launched.close()


def _approve(tab: Tab) -> str:
    """Log out the maker, approve the newest pending approval as the checker; return its tx id."""
    tab.log_out()
    tab.log_in("chen")
    tab.go("/approvals")
    tab.page.locator("article.approval").first.get_by_role(
        "button", name="Approve, sign and submit").click()
    tab.page.wait_for_url("**/approvals?state=**")
    done = tab.page.locator("article.approval").first
    assert "state=approved" in tab.page.url, done.inner_text()
    tx_id = done.locator(".tx-id").inner_text()
    tab.log_out()
    return tx_id


def test_issuance_warns_of_a_long_tenor_and_goes_through_maker_and_checker(
        story: Story, browser: Browser) -> None:
    tab = Tab(browser, story.core.url, "laptop", story.shots)
    page = tab.page
    tab.log_in("mia")
    tab.go("/payables")
    assert page.locator(f"#line-{story.line} .headroom").inner_text() == "50,000,000.00 CNY"
    tab.look("payables")
    tab.go("/issue")
    s1 = story.node.orgs["s1"]
    page.select_option("#to", s1.uscc)
    page.select_option("#credit_line", story.line)
    page.fill("#maturity_date", "2026-08-03")  # 210 days after the ledger date 2026-01-05
    page.fill("#contract_no", "PO-77")
    page.fill("#invoice_0", "INV-77-1")
    page.fill("#invoice_amount_0", "300,000.00")
    page.fill("#invoice_1", "INV-77-2")
    page.fill("#invoice_amount_1", "200,000.50")
    page.get_by_role("button", name="Prepare for approval").click()
    warning = page.locator("#tenor-warning")
    assert "210 days, over the policy's 183" in warning.inner_text()
    tab.look("issue-warning")
    page.get_by_label("I understand: a long tenor, reviewed by a bank").check()
    page.get_by_role("button", name="Prepare for approval").click()
    page.wait_for_url("**/approvals**")
    summary = page.locator("article.approval").first.inner_text()
    assert "500,000.50 CNY maturing 2026-08-03 (210 days)" in summary, summary
    tx_id = _approve(tab)
    core = story.node.participant("core")
    issued = core.transaction(tx_id)["events"][0]["receivable"]
    record = core.receivable(issued)["receivable"]
    assert (record["face"], record["long_tenor"], record["status"]) == (50_000_050, True, "pending")
    assert tab.blocked == []


def test_a_split_shows_the_remainder_and_refuses_a_small_piece_in_page_and_server(
        story: Story, browser: Browser) -> None:
    root = issue_accepted(story.node, story.line, "s1")
    story.made["root"] = root
    tab = Tab(browser, story.s1.url, "laptop", story.shots)
    page = tab.page
    tab.log_in("mia")
    tab.go(f"/notes/{root}/transfer")
    s2 = story.node.orgs["s2"]
    page.get_by_label("Recipient 1").select_option(label=f"{s2.name} · {s2.uscc}")
    page.get_by_label("Amount 1 (CNY)").type("1,000")
    assert page.locator("#remainder").inner_text() == "999,000.00 CNY"
    page.get_by_label("Amount 1 (CNY)").fill("50")
    assert page.locator("#amount_0-error").inner_text() == "Below the policy minimum 100.00 CNY."
    page.get_by_role("button", name="Prepare for approval").click()  # the script stops it
    assert page.url.endswith("/transfer")
    assert page.evaluate("document.activeElement.id") == "amount_0"
    tab.look("transfer")
    page.evaluate("document.getElementById('transfer-form').submit()")  # forced past the script
    page.wait_for_load_state()
    assert page.locator("#amount_0-error").inner_text() == "Below the policy minimum 100.00 CNY."
    assert page.locator("#to_0").input_value() == s2.uscc
    page.get_by_label("Amount 1 (CNY)").fill("200,000.00")
    assert page.locator("#remainder").inner_text() == "800,000.00 CNY"
    page.get_by_role("button", name="Prepare for approval").click()
    page.wait_for_url("**/approvals**")
    prepared = page.locator("article.approval").first.inner_text()
    assert "pay " in prepared
    assert f"· {s2.uscc}: 200,000.00 CNY" in prepared  # the payment in words, not a raw list
    tab.look("approvals-transfer")
    _approve(tab)
    s1 = story.node.participant("s1")
    assert [n["amount"] for n in s1.holdings()] == [FACE - 20_000_000]
    assert tab.blocked == []


def test_financing_accepts_exactly_the_terms_offered(story: Story, browser: Browser) -> None:
    kept = issue_accepted(story.node, story.line, "s1")  # a second credential, to finance
    tab = Tab(browser, story.s1.url, "laptop", story.shots)
    page = tab.page
    tab.log_in("mia")
    tab.go(f"/notes/{kept}/finance")
    b1 = story.node.orgs["b1"]
    page.get_by_label("Bank").select_option(b1.uscc)
    tab.look("finance")
    page.get_by_role("button", name="Prepare for approval").click()
    page.wait_for_url("**/approvals**")
    tx_id = _approve(tab)
    s1 = story.node.participant("s1")
    financing = s1.transaction(tx_id)["events"][0]["financing"]
    bank = story.node.participant("b1")
    bank.offer_terms(financing, annual_rate_percent="2.00", funding_date="2026-01-05")
    tab.log_in("mia")
    tab.go("/inbox")  # the offer waits in the inbox, a link to the financing's page
    page.locator(f"#offer-{financing}").click()
    page.wait_for_url(f"**/financings/{financing}")
    assert page.locator("#terms-rate").inner_text() == "2.00 % a year (ACT/360)"
    assert page.locator("#terms-days").inner_text() == "90"
    assert page.locator("#terms-interest").inner_text() == "5,000.00 CNY"
    assert page.locator("#terms-net").inner_text() == "995,000.00 CNY"
    assert page.locator("#terms-form, #lineage").count() == 0  # the bank's side, not ours
    first_hash = page.locator("#terms-hash").inner_text()
    tab.look("financing")
    _quote_in_chinese(tab)
    bank.offer_terms(financing, annual_rate_percent="3.00", funding_date="2026-01-05")
    page.get_by_role("button", name="Accept exactly these terms").click()  # the old terms
    assert page.locator("#offer-changed").is_visible()
    assert page.locator("#terms-rate").inner_text() == "3.00 % a year (ACT/360)"
    new_hash = page.locator("#terms-hash").inner_text()
    assert new_hash != first_hash
    page.get_by_role("button", name="Accept exactly these terms").click()
    page.wait_for_url("**/approvals**")
    assert "net proceeds 992,500.00 CNY" in page.locator("article.approval").first.inner_text()
    _approve(tab)
    record = s1.financing(financing)
    assert (record["status"], record["terms_hash"]) == ("accepted", new_hash)
    tab.log_in("mia")
    tab.go(f"/credentials/{story.made['root']}")
    assert page.locator("svg.tree .tree-note").count() >= 2, page.inner_text("main")
    tab.look("credential")
    assert tab.blocked == []


def _quote_in_chinese(tab: Tab) -> None:
    """Look at the offered terms in Chinese, then switch back to English."""
    page = tab.page
    with page.expect_navigation():
        page.get_by_role("button", name="中文").click()
    assert page.locator("#terms-rate").inner_text().startswith("2.00%")
    assert "年化" in page.locator("#terms-rate").inner_text()
    assert page.locator("#financing-status").inner_text() == "已报价"
    assert page.get_by_role("button", name="接受以上报价").is_visible()
    tab.look("financing-zh")
    with page.expect_navigation():
        page.get_by_role("button", name="English").click()


def test_payment_at_maturity_clears_every_holder(story: Story, browser: Browser) -> None:
    root = story.made["root"]
    story.node.clock.advance(days=90)  # to the maturity, 2026-04-05
    tab = Tab(browser, story.core.url, "laptop", story.shots)
    page = tab.page
    tab.log_in("mia")
    tab.go(f"/credentials/{root}")
    assert page.locator("#pay-amount").input_value() == "1,000,000.00"
    page.get_by_role("button", name="Prepare for approval").click()
    assert page.locator("#pay-ref-error").inner_text() == "Enter the payment reference."
    page.get_by_label("Payment reference").fill("BANK-REF-2026-0405")
    page.get_by_role("button", name="Prepare for approval").click()
    page.wait_for_url("**/approvals**")
    _approve(tab)
    tab.log_in("mia")
    tab.go(f"/credentials/{root}")
    clearing = page.locator("#clearing").inner_text()
    assert "800,000.00 CNY" in clearing and "200,000.00 CNY" in clearing
    assert story.node.orgs["s2"].name in clearing and story.node.orgs["s1"].name in clearing
    tab.look("credential-paid")
    tab.go("/payables")
    tab.look("payables-after")
    supplier = Tab(browser, story.s1.url, "laptop", story.shots)
    supplier.log_in("mia")
    supplier.go("/holdings")
    assert supplier.page.locator("#total-settled .amount").inner_text() == "800,000.00 CNY"
    assert "800,000.00 CNY" in supplier.page.locator("#cleared").inner_text()
    supplier.look("holdings-cleared")
    assert tab.blocked == [] and supplier.blocked == []


def test_another_suppliers_credential_is_not_found(story: Story, browser: Browser) -> None:
    core = story.node.participant("core")
    args = {**issue_args(story.node, story.line, "s2"), "maturity_date": "2026-09-01"}
    to_s2 = str(core.act("issue", **args)["events"][0]["receivable"])
    tab = Tab(browser, story.s1.url, "laptop", story.shots)
    tab.log_in("vera")
    response = tab.page.goto(f"{story.s1.url}/credentials/{to_s2}")
    assert response is not None and response.status == 404
    assert tab.page.locator("h1").inner_text() == "Not found"
    tab.go("/holdings")
    tab.look("holdings")
    assert tab.blocked == []


def test_the_new_pages_at_a_tablets_width(story: Story, browser: Browser) -> None:
    root = story.made["root"]
    supplier = (("holdings", "/holdings"), ("credential", f"/credentials/{root}"))
    core = (("payables", "/payables"), ("issue", "/issue"))
    for url, pages in ((story.s1.url, supplier), (story.core.url, core)):
        tab = Tab(browser, url, "tablet", story.shots)
        tab.log_in("mia")
        for name, path in pages:
            tab.go(path)
            tab.look(name)
            assert tab.page.evaluate("document.documentElement.scrollWidth") <= 820, name
        assert tab.blocked == []
