"""The bank's console in Chromium, against a real node: queue, due diligence, terms, disbursement.

A financing request s1 made through the SDK appears in b1's queue; the
maker opens its page, reads the lineage (and that the trade background is
not the bank's to see), types terms and watches them priced as typed, the
same figures Python's `price_financing` gives (in Chinese too, after
switching); the checker approves the offer, which the page's history then
shows with who prepared and approved it; s1 accepts exactly those terms
through the SDK; the maker confirms the disbursement with a payment
reference, the checker approves, and the node records it.  The exposure
page then shows the financed amount under the core enterprise.  The pricing
script agrees with Python on many inputs.  The bank's inbox refreshes by
itself when a new request commits.

Every request off the console is aborted and fails the test; each new page
passes axe-core without serious or critical violations and is
screenshotted at 1280x900 and 820x1180 (kept in LEDGER_SCREENSHOT_DIR).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from ledger.money import Pricing, format_fen, price_financing
from tests.client.console.bank_world import BankWorld, make_bank_world, request_financing
from tests.client.console.support import Browserless, Running, running_console
from tests.client.console.test_browser import Tab
from tests.node.support import MATURITY, issue_accepted
from tests.nodes import registered_node

pytestmark = pytest.mark.slow  # browser end-to-end: run in CI's slow phase


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BankWorld]:
    folder = tmp_path_factory.mktemp("console_bank")
    with registered_node(folder / "node", 1) as node:
        yield make_bank_world(node, folder)


@pytest.fixture(scope="module")
def bank(world: BankWorld) -> Iterator[Running]:
    with running_console(world.settings("b1", "en")) as console:
        yield console


def _approve_first(tab: Tab) -> str:
    """As the checker, approve the newest pending approval; return its transaction id."""
    tab.log_in("chen")
    tab.go("/approvals")
    tab.page.locator("article.approval").first.get_by_role(
        "button", name="Approve, sign and submit").click()
    tab.page.wait_for_url("**state=approved**")
    done = tab.page.locator("article.approval").first
    assert "Approved" in done.inner_text(), done.inner_text()
    tx_id = done.locator(".tx-id").inner_text()
    tab.log_out()
    return tx_id


def _shown_price(tab: Tab) -> dict[str, str]:
    return {k: tab.page.locator(f"#price-{k}").inner_text()
            for k in ("days", "interest", "fees", "net")}


def test_a_request_is_priced_offered_and_disbursed_by_clicking(
        world: BankWorld, bank: Running, browser: Browser, shots: Path) -> None:
    tab = Tab(browser, bank.url, "laptop", shots)
    tab.log_in("mia")
    page = tab.go("/financing")
    row = page.locator(f"#fin-{world.financing}")
    assert "1,000,000.00 CNY" in row.inner_text()
    assert world.node.orgs["s1"].uscc in row.inner_text()  # the name beside the USCC
    tab.look("bank-queue")
    row.get_by_role("link").click()
    page.wait_for_url(f"**/financings/{world.financing}")
    assert page.locator("#lineage tbody tr").count() == 1  # the issued note itself
    assert page.locator("#trade-hidden").is_visible()  # the trade is not the bank's to see
    page.fill("#rate", "3.15")
    page.fill("#fees", "1,000.00")
    page.select_option("#fee_payer", "split")
    expected = price_financing(face=100_000_000, annual_rate_percent="3.15",
                               funding=date(2026, 1, 5), maturity=date.fromisoformat(MATURITY),
                               fees=100_000, fee_payer="split")
    assert _shown_price(tab) == {
        "days": str(expected.days), "interest": f"{format_fen(expected.interest)} CNY",
        "fees": f"{format_fen(expected.seller_fees)} CNY",
        "net": f"{format_fen(expected.net_proceeds)} CNY"}
    assert page.locator("#accept-form").count() == 0  # the seller's, not the bank's
    tab.look("bank-terms")
    _terms_in_chinese(tab, expected)
    page.get_by_role("button", name="Prepare the offer for a checker").click()
    page.wait_for_url("**/approvals**")
    summary = page.locator("article.approval").first.inner_text()
    assert format_fen(expected.net_proceeds) in summary and "3.15" in summary
    tab.log_out()
    _approve_first(tab)
    s1 = world.node.participant("s1")
    offered = s1.financing(world.financing)
    assert offered["status"] == "offered"
    assert offered["terms"]["net_proceeds"] == expected.net_proceeds
    s1.accept_terms(world.financing, offered["terms_hash"])
    tab.log_in("mia")
    page = tab.go(f"/financings/{world.financing}")
    offered_step = page.locator("#history li[data-step=offered]").inner_text()
    assert "prepared by mia, approved by chen" in offered_step, offered_step
    assert page.locator("#history li[data-step=accepted] a").count() == 1  # the acceptance tx
    page.fill("#payment_ref", "CNAPS-2026-0105-001")
    page.get_by_role("button", name="Prepare the confirmation for a checker").click()
    page.wait_for_url("**/approvals**")
    tab.log_out()
    _approve_first(tab)
    done = s1.financing(world.financing)
    assert (done["status"], done["payment_ref"]) == ("disbursed", "CNAPS-2026-0105-001")
    s1.close()
    tab.log_in("vera")
    page = tab.go(f"/financings/{world.financing}")
    assert page.locator("#payment-ref").inner_text() == "CNAPS-2026-0105-001"
    tab.look("bank-financing-disbursed")
    page = tab.go("/exposure")
    assert "1,000,000.00 CNY" in page.locator("#exposure").inner_text()
    assert world.node.orgs["core"].uscc in page.locator("#exposure").inner_text()
    tab.look("bank-exposure")
    _tablet(browser, bank.url, shots, world)
    assert tab.blocked == []


def _terms_in_chinese(tab: Tab, expected: Pricing) -> None:
    """Switch to Chinese, type the same terms, look at the page priced, and switch back."""
    page = tab.page
    with page.expect_navigation():
        page.get_by_role("button", name="中文").click()
    page.fill("#rate", "3.15")
    page.fill("#fees", "1,000.00")
    page.select_option("#fee_payer", "split")
    assert page.locator("#price-net").inner_text() == f"{format_fen(expected.net_proceeds)} CNY"
    assert page.locator("#fee_payer option:checked").inner_text() == "卖方与银行分担"
    assert page.get_by_role("button", name="提交报价待复核").is_visible()
    tab.look("bank-terms-zh")
    with page.expect_navigation():
        page.get_by_role("button", name="English").click()
    page.fill("#rate", "3.15")
    page.fill("#fees", "1,000.00")
    page.select_option("#fee_payer", "split")


def _tablet(browser: Browser, url: str, shots: Path, world: BankWorld) -> None:
    tab = Tab(browser, url, "tablet", shots)
    tab.log_in("vera")
    for name, path in (("bank-queue", "/financing?status=disbursed"),
                       ("bank-financing-disbursed", f"/financings/{world.financing}"),
                       ("bank-exposure", "/exposure")):
        tab.go(path)
        tab.look(name)
        assert tab.page.evaluate("document.documentElement.scrollWidth") <= 820, name
    assert tab.blocked == []


def _cases(count: int) -> list[dict[str, object]]:
    rng = random.Random(16)
    start = date(2026, 1, 5)
    cases = []
    for _ in range(count):
        funding = start + timedelta(days=rng.randint(0, 400))
        maturity = funding + timedelta(days=rng.randint(1, 365))
        rate = f"{rng.randint(0, 30)}.{rng.randint(0, 9999):04d}"[: rng.choice((1, 2, 4, 5, 7))]
        rate = rate.rstrip(".") or "0"
        cases.append({"face": rng.choice((1, 99, 12_345, 100_000_000, rng.randint(1, 10**13))),
                      "rate": rate, "funding": funding.isoformat(),
                      "maturity": maturity.isoformat(),
                      "fees": format_fen(rng.randint(0, 5_000_000)),
                      "payer": rng.choice(("seller", "buyer", "split"))})
    return cases


def test_the_pricing_script_agrees_with_python_on_many_inputs(
        world: BankWorld, bank: Running, browser: Browser) -> None:
    tab = Tab(browser, bank.url, "laptop", Path("."))
    tab.log_in("vera")
    tab.go("/financing")
    cases = _cases(600)
    shown = tab.page.evaluate("""async (cases) => {
        const m = await import("/static/pricing.js");
        return cases.map((c) => {
          const p = m.price(c);
          return p.error ? p : {days: p.days, interest: m.formatFen(p.interest),
                                fees: m.formatFen(p.sellerFees), net: m.formatFen(p.net)};
        });
    }""", cases)
    for case, got in zip(cases, shown, strict=True):
        p = price_financing(face=int(str(case["face"])), annual_rate_percent=str(case["rate"]),
                            funding=date.fromisoformat(str(case["funding"])),
                            maturity=date.fromisoformat(str(case["maturity"])),
                            fees=int(str(case["fees"]).replace(",", "").replace(".", "")),
                            fee_payer=str(case["payer"]))
        assert got == {"days": p.days, "interest": format_fen(p.interest),
                       "fees": format_fen(p.seller_fees), "net": format_fen(p.net_proceeds)}, case
    assert tab.blocked == []


def test_the_inbox_refreshes_when_a_block_commits(
        world: BankWorld, bank: Running, browser: Browser) -> None:
    tab = Tab(browser, bank.url, "laptop", Path("."))
    tab.log_in("vera")
    page = tab.go("/inbox")
    page.wait_for_selector("body[data-live-height]")
    before = int(page.locator("body").get_attribute("data-live-height") or "0")
    financing = request_financing(world.node, world.spare)
    page.wait_for_selector(f"main:has-text('{financing[:12]}')", timeout=20_000)
    assert int(page.locator("body").get_attribute("data-live-height") or "0") > before
    assert page.get_by_role("status").first.inner_text().startswith("Updated at block")
    assert tab.blocked == []


def test_terms_the_server_refuses_are_shown_beside_the_field_and_nothing_is_prepared(
        world: BankWorld, bank: Running) -> None:
    root = issue_accepted(world.node, world.line, amount=5_000_000)
    financing = request_financing(world.node, root)
    person = Browserless(bank.url)
    person.log_in("mia")
    page = f"/financings/{financing}"
    for fields, words in (({"rate": "0.0315", "funding_date": "2026-01-05", "fees": "1,0,00"},
                           "Fees must be an amount in yuan"),
                          ({"rate": "3,15", "funding_date": "2026-01-05", "fees": "0"},
                           "The rate must be a percentage"),
                          ({"rate": "3.15", "funding_date": MATURITY, "fees": "0"},
                           "The funding date must be before maturity")):
        refused = person.post(f"{page}/offer", {**fields, "fee_payer": "seller"},
                              token_from=page)
        assert refused.status_code == 400, fields
        assert words in refused.text and 'aria-invalid="true"' in refused.text, fields
    assert financing[:12] not in person.http.get("/approvals").text  # nothing was prepared
    person.close()
