"""The whole lifecycle by clicking, on a simulation network with four consoles (issue 16).

`ledger network up --simulated-clock` (etcd and four nodes over mutual TLS)
and the consoles `ledger demo --console` starts beside them (core
enterprise, supplier tier1, bank_a, auditor; users `maker` and `checker`),
driven in one Chromium, a browser context per person: every transaction is
prepared by the maker and approved by the checker, each in their own
context, by clicking.  The story: the bank proposes a credit line and the
core co-signs the file its console hands over; the core issues two
credentials against invoices; the supplier accepts both, splits one to two
tier-2 suppliers and asks the bank to finance the other; the bank offers
terms, the supplier accepts exactly them, the bank confirms the
disbursement; the auditor moves the clock to maturity (`ledger clock
advance`); the core pays both; and the clearing shows on the supplier's
dashboard, on each credential's page for every holder, and as the bank's
exposure gone.  Every request off a person's own console is aborted and
fails the test.  Screenshots go to LEDGER_SCREENSHOT_DIR when set.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, Route

from client.local_consortium.consortium import Consortium
from client.local_consortium.demo_consoles import DEMO_USERS, start_consoles
from client.local_consortium.network import network_down, network_up
from tests.client.console.browser import chromium
from tests.etcd import need_etcd

pytestmark = [pytest.mark.slow, pytest.mark.etcd]
NETWORK_PASSWORD = "e2e-network-password"
START = "2026-01-05T09:00:00Z"
MATURITY, DAYS_TO_MATURITY = "2026-04-05", 90
LOGINS = {role: (name, secret) for name, role, secret in DEMO_USERS}


@dataclass
class Desk:
    """One person at one console: a browser context of their own, kept to that console."""

    browser: Browser
    url: str
    role: str
    shots: Path
    blocked: list[str]
    context: BrowserContext = field(init=False)
    page: Page = field(init=False)

    def __post_init__(self) -> None:
        self.context = self.browser.new_context(viewport={"width": 1280, "height": 900},
                                                accept_downloads=True)
        self.context.add_cookies([{"name": "console_lang", "value": "en", "url": self.url}])
        self.context.route("**/*", self._only_the_console)
        self.page = self.context.new_page()
        name, secret = LOGINS[self.role]
        self.go("/login")
        self.page.fill("#name", name)
        self.page.fill("#password", secret)
        with self.page.expect_navigation():
            self.page.press("#password", "Enter")
        assert self.page.locator(".who").inner_text().startswith(name), self.page.url

    def _only_the_console(self, route: Route) -> None:
        if route.request.url.startswith(self.url + "/"):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def go(self, path: str) -> Page:
        response = self.page.goto(self.url + path)
        assert response is not None and response.status == 200, (path, response and
                                                                  response.status)
        return self.page

    def look(self, name: str, axe: bool = False) -> None:
        """Screenshot the page; with `axe`, fail on a serious or critical axe-core finding."""
        self.page.screenshot(path=str(self.shots / f"e2e-{name}.png"), full_page=True)
        if axe:
            found = Axe().run(self.page).response["violations"]
            serious = [(v["id"], [n["target"] for n in v["nodes"]][:3])
                       for v in found if v["impact"] in ("serious", "critical")]
            assert serious == [], (name, serious)

    def status_of(self, path: str) -> int:
        """Open `path` and return the status of its page (an error page is not a failure)."""
        response = self.page.goto(self.url + path)
        assert response is not None
        return response.status

    def submit(self, button: str) -> int:
        """Click `button` (a maker's "prepare" button); return the approval it queued."""
        self.page.get_by_role("button", name=button).click()
        self.page.wait_for_url("**/approvals**")
        found = re.search(r"#approval-(\d+)$", self.page.url)
        assert found, (self.page.url, self.page.inner_text("main")[:2000])
        return int(found.group(1))


@dataclass
class Org:
    """An organisation's console, its maker's desk and its checker's."""

    alias: str
    uscc: str
    name: str
    maker: Desk
    checker: Desk

    def approve(self, approval: int, outcome: str = "committed on the ledger") -> str:
        """Approve `approval` as the checker (not its maker); return the transaction id."""
        card = self.checker.go("/approvals").locator(f"#approval-{approval}")
        assert "Prepared by" in card.inner_text() and LOGINS["maker"][0] in card.inner_text()
        card.get_by_role("button", name="Approve, sign and submit").click()
        self.checker.page.wait_for_url("**/approvals?state=**")
        done = self.checker.page.locator(f"#approval-{approval}")
        assert "state=approved" in self.checker.page.url, done.inner_text()
        assert done.locator(".outcome").inner_text() == outcome, done.inner_text()
        return done.locator(".tx-id").inner_text()


@dataclass
class Network:
    """The running network, its consoles, and the people at them."""

    directory: Path
    orgs: dict[str, Org]
    members: dict[str, dict[str, str]]
    shots: Path
    blocked: list[str]


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    need_etcd()
    directory = tmp_path_factory.mktemp("lifecycle") / "net"
    keep = os.environ.get("LEDGER_SCREENSHOT_DIR")
    shots = Path(keep) if keep else directory.parent
    shots.mkdir(parents=True, exist_ok=True)
    blocked: list[str] = []
    try:
        description = network_up(directory, NETWORK_PASSWORD, simulated_clock=START)
        consoles = start_consoles(directory, NETWORK_PASSWORD)
        consortium = Consortium.open(Path(description["consortium"]))
        members = {alias: {"uscc": o["uscc"], "name": o["name"]}
                   for alias, o in consortium.orgs.items()}
        with chromium() as browser:
            orgs = {c.alias: Org(c.alias, members[c.alias]["uscc"], c.name,
                                 Desk(browser, c.url, "maker", shots, blocked),
                                 Desk(browser, c.url, "checker", shots, blocked))
                    for c in consoles}
            yield Network(directory, orgs, members, shots, blocked)
    finally:
        network_down(directory)


def _credit_line(net: Network) -> str:
    """The bank proposes, its checker signs its half; the core checks, co-signs, submits."""
    bank, core = net.orgs["bank_a"], net.orgs["core"]
    assert [bank.maker.status_of(p) for p in ("/credit-lines/proposals/999",
                                              "/credit-lines/proposals/x")] == [404, 400]
    assert core.maker.status_of("/credit-lines") == 403  # a bank's page
    assert bank.maker.status_of("/credit-lines/cosign") == 403  # a core enterprise's
    page = bank.maker.go("/credit-lines")
    page.get_by_label("Limit (CNY)").fill("50,000.001")
    page.get_by_label("Expires (YYYY-MM-DD)").fill("2026-01-05")
    page.get_by_role("button", name="Prepare for approval").click()
    assert page.locator("#core-error").inner_text() == "Choose a core enterprise."
    assert page.locator("#limit-error").inner_text() != ""
    assert page.locator("#expiry_date-error").inner_text() == (
        "The expiry date must be after the ledger date 2026-01-05.")
    page.get_by_label("Core enterprise", exact=True).select_option(core.uscc)
    page.get_by_label("Limit (CNY)").fill("50,000,000.00")
    page.get_by_label("Expires (YYYY-MM-DD)").fill("2026-12-31")
    bank.maker.look("bank-propose-credit-line", axe=True)
    proposal = bank.maker.submit("Prepare for approval")
    limit = bank.maker.page.locator(f"#approval-{proposal}").inner_text()
    assert "50,000,000.00 CNY" in limit and bank.name not in limit, limit
    assert bank.maker.page.locator(f"#approval-{proposal} button").count() == 0  # not the maker's
    bank.approve(proposal, outcome="signed by us, for the other party to co-sign")
    checker = bank.checker.page
    checker.locator(f"#handover-{proposal}").click()
    checker.wait_for_url(f"**/credit-lines/proposals/{proposal}")
    assert "waiting for the core enterprise" in checker.locator("#proposal-state").inner_text()
    bank.checker.look("bank-credit-line-proposal", axe=True)
    with checker.expect_download() as downloading:
        checker.locator("#download").click()
    handed = net.directory.parent / "credit-line.json"
    downloading.value.save_as(handed)
    assert json.loads(handed.read_text()) == json.loads(checker.locator("#prepared").input_value())

    page = core.maker.go("/credit-lines/cosign")
    page.get_by_label("Or paste its text").fill("{not a transaction")
    page.get_by_role("button", name="Check it").click()
    assert page.locator("#cosign-problem").inner_text() == "That is not JSON text."
    core.maker.look("core-cosign-refused", axe=True)
    page.set_input_files("#file", str(handed))
    page.get_by_role("button", name="Check it").click()
    assert page.locator("#cosign-limit").inner_text() == "50,000,000.00 CNY"
    assert page.locator("#cosign-words").inner_text() == (
        f"{bank.name} · {bank.uscc} grants us a credit line of 50,000,000.00 CNY, "
        "expiring 2026-12-31.")
    core.maker.look("core-cosign-review", axe=True)
    cosigning = core.maker.submit("Prepare for approval")
    core.maker.look("core-approvals-cosign", axe=True)
    core.approve(cosigning)
    bank.checker.go(f"/credit-lines/proposals/{proposal}")
    assert "co-signed and submitted" in checker.locator("#proposal-state").inner_text()
    page = core.maker.go("/credit-lines/cosign")  # the same file again: already on the ledger
    page.set_input_files("#file", str(handed))
    page.get_by_role("button", name="Check it").click()
    assert "is already on the ledger" in page.locator("#cosign-problem").inner_text()
    page = core.maker.go("/payables")
    line = page.locator("tr[id^=line-]")
    assert line.locator(".headroom").inner_text() == "50,000,000.00 CNY"
    return str(line.get_attribute("id")).removeprefix("line-")


def _issue(net: Network, line: str, number: str, amount: str) -> None:
    """The core issues the supplier a credential against one invoice, maturing at MATURITY."""
    core, tier1 = net.orgs["core"], net.orgs["tier1"]
    page = core.maker.go("/issue")
    page.select_option("#to", tier1.uscc)
    page.select_option("#credit_line", line)
    page.fill("#maturity_date", MATURITY)
    page.fill("#contract_no", f"PO-{number}")
    page.fill("#invoice_0", f"INV-{number}")
    page.fill("#invoice_amount_0", amount)
    core.maker.look(f"core-issue-{number}")
    core.approve(core.maker.submit("Prepare for approval"))


def _accept_both(net: Network) -> None:
    tier1 = net.orgs["tier1"]
    for _ in range(2):
        page = tier1.maker.go("/inbox")
        tier1.maker.look("supplier-inbox")
        page.locator("form[action='/inbox/accept'] button").first.click()
        page.wait_for_url("**/approvals**")
        tier1.approve(int(page.url.rsplit("-", 1)[1]))


def _note_row(desk: Desk, amount: str) -> str:
    """Return the id of the supplier's active note of `amount` on its holdings page."""
    row = desk.go("/holdings").locator("tr[id^=note-]", has_text=amount)
    assert row.count() == 1, desk.page.inner_text("main")
    return str(row.get_attribute("id")).removeprefix("note-")


def _split(net: Network) -> None:
    tier1 = net.orgs["tier1"]
    note = _note_row(tier1.maker, "1,000,000.00 CNY")
    page = tier1.maker.page
    page.locator(f"#note-{note} a[href$='/transfer']").click()
    page.select_option("#to_0", net.members["tier2a"]["uscc"])
    page.fill("#amount_0", "300,000.00")
    page.select_option("#to_1", net.members["tier2b"]["uscc"])
    page.fill("#amount_1", "200,000.00")
    assert page.locator("#remainder").inner_text() == "500,000.00 CNY"
    tier1.maker.look("supplier-split")
    tier1.approve(tier1.maker.submit("Prepare for approval"))


def _finance(net: Network) -> str:
    """The supplier asks, the bank offers, the supplier accepts those terms, the bank pays."""
    tier1, bank = net.orgs["tier1"], net.orgs["bank_a"]
    note = _note_row(tier1.maker, "400,000.00 CNY")
    page = tier1.maker.page
    page.locator(f"#note-{note} a[href$='/finance']").click()
    page.get_by_label("Bank").select_option(bank.uscc)
    tier1.approve(tier1.maker.submit("Prepare for approval"))

    page = bank.maker.go("/financing")
    page.locator("#fin-queue a[href^='/financings/']").first.click()
    financing = page.url.rsplit("/", 1)[1]
    page.fill("#rate", "3.60")
    bank.maker.look("bank-terms")
    bank.approve(bank.maker.submit("Prepare the offer for a checker"))

    page = tier1.maker.go("/inbox")
    page.locator(f"#offer-{financing}").click()
    page.wait_for_url(f"**/financings/{financing}")
    assert page.locator("#terms-days").inner_text() == str(DAYS_TO_MATURITY)
    assert page.locator("#terms-interest").inner_text() == "3,600.00 CNY"  # 400,000 x 3.6% x 90/360
    assert page.locator("#terms-net").inner_text() == "396,400.00 CNY"
    assert page.locator("#terms-form").count() == 0  # the seller accepts; only the bank offers
    terms_hash = page.locator("#terms-hash").inner_text()
    tier1.maker.look("supplier-quote")
    tier1.approve(tier1.maker.submit("Accept exactly these terms"))

    page = bank.maker.go("/financing?status=accepted")
    page.locator(f"#fin-{financing} a").click()
    assert page.locator("#accept-form").count() == 0
    accepted = page.locator("#history li[data-step=accepted]").inner_text()
    assert accepted.startswith("2026-01-05") and "Transaction id" in accepted, accepted
    page.fill("#payment_ref", "DISB-E2E-0001")
    bank.approve(bank.maker.submit("Prepare the confirmation for a checker"))
    bank.maker.go("/financing?status=disbursed").locator(f"#fin-{financing}").wait_for()
    page = bank.maker.go("/exposure")
    assert "400,000.00 CNY" in page.locator("#exposure").inner_text()
    bank.maker.look("bank-exposure-before")
    return terms_hash


def _advance_to_maturity(net: Network) -> None:
    """The auditor moves every node's clock to the maturity, as `ledger clock advance` does."""
    moved = subprocess.run(
        [sys.executable, "-m", "client", "clock", "advance", "--days", str(DAYS_TO_MATURITY),
         "--network", str(net.directory)], capture_output=True, text=True, timeout=120,
        env={**os.environ, "LEDGER_PASSWORD": NETWORK_PASSWORD})
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert MATURITY in moved.stdout, moved.stdout


def _pay_both(net: Network) -> list[str]:
    """The core pays each credential at maturity; return their ids."""
    core = net.orgs["core"]
    links = core.maker.go("/payables").locator("li.payable a[href^='/credentials/']")
    credentials = [str(links.nth(i).get_attribute("href")).rsplit("/", 1)[1]
                   for i in range(links.count())]
    assert len(credentials) == 2, core.maker.page.inner_text("main")
    for number, credential in enumerate(credentials):
        page = core.maker.go(f"/credentials/{credential}")
        page.get_by_label("Payment reference").fill(f"PAY-E2E-{number}")
        core.approve(core.maker.submit("Prepare for approval"))
    return credentials


def test_the_whole_lifecycle_by_clicking_maker_then_checker(network: Network) -> None:
    net = network
    line = _credit_line(net)
    _issue(net, line, "E2E-1", "1,000,000.00")
    _issue(net, line, "E2E-2", "400,000.00")
    _accept_both(net)
    _split(net)
    _finance(net)
    _advance_to_maturity(net)
    credentials = _pay_both(net)

    core, tier1, bank = net.orgs["core"], net.orgs["tier1"], net.orgs["bank_a"]
    cleared = {}
    for credential in credentials:
        page = core.maker.go(f"/credentials/{credential}")
        cleared[credential] = page.locator("#clearing").inner_text()
        core.maker.look(f"core-cleared-{credential[:8]}")
    shown = "\n".join(cleared.values())
    for alias, amount in (("tier1", "500,000.00"), ("tier2a", "300,000.00"),
                          ("tier2b", "200,000.00"), ("bank_a", "400,000.00")):
        assert net.members[alias]["name"] in shown and amount in shown, (alias, shown)
    page = tier1.maker.go("/holdings")
    assert page.locator("#total-settled .amount").inner_text() == "500,000.00 CNY"
    assert "500,000.00 CNY" in page.locator("#cleared").inner_text()
    tier1.maker.look("supplier-holdings-cleared")
    page = bank.maker.go("/exposure")
    assert "No financing is outstanding." in page.inner_text("main")
    bank.maker.look("bank-exposure-after")
    auditor = net.orgs["auditor"]
    auditor.checker.go("/explorer")
    auditor.checker.look("auditor-explorer")
    _credit_line_pages_on_a_tablet_in_chinese(net)
    assert net.blocked == [], net.blocked


def _credit_line_pages_on_a_tablet_in_chinese(net: Network) -> None:
    """The new pages fit a tablet's width, and read in Chinese once a person switches."""
    for desk, path, name in ((net.orgs["bank_a"].checker, "/credit-lines", "bank-credit-lines"),
                             (net.orgs["bank_a"].checker, "/credit-lines/proposals/1",
                              "bank-credit-line-proposal"),
                             (net.orgs["core"].maker, "/credit-lines/cosign", "core-cosign")):
        desk.page.set_viewport_size({"width": 820, "height": 1180})
        page = desk.go(path)
        page.get_by_role("button", name="中文").click()
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        assert page.evaluate("document.documentElement.scrollWidth") <= 820, path
        desk.look(f"{name}-zh-tablet", axe=True)
