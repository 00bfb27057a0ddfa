"""The console in a real browser: Debian's Chromium, driven by Playwright, with the network cut.

The supplier's console (Chinese by default) is used as people use it: a
wrong password shows the alert; the maker logs in with the keyboard alone,
reads the dashboard and the inbox, and presses 签收 (accept) on a
credential; the queue shows it prepared; the checker approves it; the node
then holds the credential as active (checked through the SDK) and the inbox
shows it 有效.  The language switch turns the page English.  With TOTP on,
a checker's password alone opens nothing: the code (computed here with
pyotp from the secret the enrolment page shows) does.

Every request that is not to the console on loopback is aborted and fails
the test; axe-core (bundled by axe-playwright-python) finds no serious or
critical violation on the login page, the dashboard, the inbox and the
queue; each is screenshotted at 1280x900 and 820x1180 into
LEDGER_SCREENSHOT_DIR when set, and checked to be a painted page.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, Route, sync_playwright

from client.local_consortium.browser import BrowserMissing, chromium_binary
from tests.client.console.support import (
    World,
    make_world,
    password_of,
    running_console,
    write_settings,
)
from tests.nodes import running_node
from tests.png import read_png
from tests.tools import need_tool

pytestmark = pytest.mark.slow  # browser end-to-end: run in CI's slow phase

SIZES = {"laptop": (1280, 900), "tablet": (820, 1180)}
PAGES = ("login", "dashboard", "inbox", "approvals")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("console_browser")
    (folder / "node").mkdir()
    with running_node(folder / "node", verifier_processes=0) as node:
        yield make_world(node, folder)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    need_tool(chromium_binary, BrowserMissing)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=shutil.which("chromium"),
                                              args=["--no-sandbox"])
        yield launched
        launched.close()


class Tab:
    """A browser page at one size that may reach the console alone, and records the rest."""

    def __init__(self, browser: Browser, url: str, size: str, shots: Path) -> None:
        width, height = SIZES[size]
        self.page: Page = browser.new_page(viewport={"width": width, "height": height})
        self.url, self.size, self.shots = url, size, shots
        self.blocked: list[str] = []
        self.page.route("**/*", self._only_the_console)

    def _only_the_console(self, route: Route) -> None:
        if route.request.url.startswith(self.url + "/"):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def go(self, path: str) -> Page:
        self.page.goto(self.url + path)
        return self.page

    def log_in(self, name: str, password: str | None = None) -> None:
        """Log in with the keyboard alone: type, Tab, type, Enter."""
        self.go("/login")
        self.page.focus("#name")
        self.page.keyboard.type(name)
        self.page.keyboard.press("Tab")
        assert self.page.evaluate("document.activeElement.id") == "password"
        self.page.keyboard.type(password or password_of(name))
        with self.page.expect_navigation():
            self.page.keyboard.press("Enter")

    def log_out(self) -> None:
        self.page.locator("form[action='/logout'] button").click()
        self.page.wait_for_url("**/login")

    def look(self, name: str) -> None:
        """Screenshot the page, check it is painted, and check it with axe-core."""
        path = self.shots / f"console-{name}-{self.size}.png"
        self.page.screenshot(path=str(path), full_page=True)
        picture = read_png(path.read_bytes())
        assert picture.width == SIZES[self.size][0] and len(picture.colours()) > 50, name
        found = Axe().run(self.page).response["violations"]
        serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
                   for v in found if v["impact"] in ("serious", "critical")]
        assert serious == [], (name, serious)


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    keep = os.environ.get("LEDGER_SCREENSHOT_DIR")
    folder = Path(keep) if keep else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_accepting_a_credential_by_clicking_maker_then_checker(
        world: World, browser: Browser, shots: Path) -> None:
    with running_console(write_settings(world, "browser", language="zh")) as console:
        tab = Tab(browser, console.url, "laptop", shots)
        page = tab.go("/login")
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        tab.look("login")
        tab.log_in("mia", "not the password")
        assert page.get_by_role("alert").inner_text() == "用户名或密码错误。"
        tab.log_in("mia")
        assert page.locator("h1").inner_text() == "概览"
        assert "经办" in page.locator(".who").inner_text()
        assert world.node.orgs["s1"].uscc in page.inner_text("main")
        tab.look("dashboard")
        tab.go("/inbox")
        item = page.locator(f"#item-{world.to_s1}")
        assert "1,000,000.00 CNY" in item.inner_text()
        tab.look("inbox")
        item.get_by_role("button", name="签收").click()
        page.wait_for_url("**/approvals**")
        card = page.locator("article.approval").first
        assert "mia" in card.inner_text() and "待复核" in card.inner_text()
        assert card.get_by_role("button").count() == 0  # a maker has nothing to press
        tab.look("approvals")
        tab.log_out()
        tab.log_in("chen")
        tab.go("/approvals")
        page.locator("article.approval").first.get_by_role("button", name="批准并签名提交").click()
        page.wait_for_url("**state=approved**")
        done = page.locator("article.approval").first
        assert "已批准" in done.inner_text() and "chen" in done.inner_text()
        tx_id = done.locator(".tx-id").inner_text()
        s1 = world.node.participant("s1")
        assert s1.receivable(world.to_s1)["receivable"]["status"] == "active"
        assert s1.transaction(tx_id)["status"] == "committed"
        tab.go("/inbox")
        assert page.locator(f"#held-{world.to_s1} .status").inner_text() == "有效"
        with page.expect_navigation():
            page.get_by_role("button", name="English").click()
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.locator("h1").inner_text() == "Inbox"
        assert page.locator(f"#held-{world.to_s1} .status").inner_text() == "Active"
        with page.expect_navigation():
            page.get_by_role("button", name="中文").click()
        _tablet(browser, console.url, shots, tab.blocked)
        assert tab.blocked == []


def _tablet(browser: Browser, url: str, shots: Path, blocked: list[str]) -> None:
    """Look at the four pages at a tablet's width, as the checker."""
    tab = Tab(browser, url, "tablet", shots)
    tab.go("/login")
    tab.look("login")
    tab.log_in("chen")
    for name, path in (("dashboard", "/"), ("inbox", "/inbox"),
                       ("approvals", "/approvals?state=approved")):
        tab.go(path)
        tab.look(name)
    page_width = tab.page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= SIZES["tablet"][0]  # nothing wider than the tablet
    blocked += tab.blocked


def test_a_checker_needs_the_totp_code_when_it_is_on(world: World, browser: Browser,
                                                     shots: Path) -> None:
    with running_console(write_settings(world, "totp", totp=True)) as console:
        tab = Tab(browser, console.url, "laptop", shots)
        tab.log_in("chen")
        page = tab.page
        assert page.url.endswith("/login/totp")
        secret = page.locator("#totp-secret").inner_text()
        assert page.locator("#totp-uri").inner_text().startswith("otpauth://totp/")
        tab.go("/approvals")
        assert page.url.endswith("/login")  # the password alone opens nothing
        tab.go("/login/totp")
        page.fill("#code", "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
        page.get_by_role("button", name="Verify").click()
        assert page.get_by_role("alert").inner_text() == "That code is not right."
        page.fill("#code", pyotp.TOTP(secret).now())
        page.get_by_role("button", name="Verify").click()
        page.wait_for_url(console.url + "/")
        assert "Checker" in page.locator(".who").inner_text()
        tab.log_out()
        tab.log_in("mia")  # a maker needs no second factor
        assert page.url == console.url + "/"
        assert tab.blocked == []
