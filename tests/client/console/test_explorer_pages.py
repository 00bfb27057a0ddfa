"""The explorer in Chromium, against a real node: blocks, search, verification, audit, live.

The auditor's console (Chinese) lists the node's blocks, opens a block with
its transactions, and finds a transaction by the first 8 hex digits of its
id; an organisation and an invoice number are found too.  The verify page
runs the browser's own check of a real transaction against the genesis
named in the console's settings and says 验证通过 ("Verified by this
browser"); every step's detail and every line of what was trusted is
Chinese too, for a pass and for a bundle tampered with on its way to the
browser (no run of English words left once ids, hashes and names are
taken out).  The block list grows by itself when a transaction the SDK
submits commits while the page is open.  The auditor runs an audit by
clicking, lands on the job's page and reads its report when it ends; it
downloads the chain file and a trace bundle.  A page showing a running
audit (zh, then en) shows its report when the job ends, without a reload.
The bank's console may not open the audit page nor download the chain file.
The checkpoints page lists the node's checkpoints of final blocks from the
latest down, 20 a page, including those of blocks committed before the
console started, pages by `before` (older, newer, by clicking too), and
answers a `before` that is not plain decimal digits with a 400 page.

Every request off the console is aborted and fails the test; each page
passes axe-core (no serious or critical violation) and is screenshotted at
1280x900 and 820x1180 (kept in LEDGER_SCREENSHOT_DIR).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route
from sqlalchemy import insert, update

from client.audit.run import audit_node
from client.console.clock import now_s
from client.console.config import load_config
from client.console.store import audit_jobs, open_database
from client.sdk.lightclient import read_genesis
from tests.client.console.bank_world import BankWorld, make_bank_world, request_financing
from tests.client.console.browser import english_left, names_in
from tests.client.console.chains import flip_hex
from tests.client.console.support import Browserless, Running, running_console
from tests.client.console.test_browser import Tab
from tests.node.support import LINE_EXPIRY
from tests.nodes import registered_node

pytestmark = pytest.mark.slow  # browser end-to-end: run in CI's slow phase


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BankWorld]:
    folder = tmp_path_factory.mktemp("console_explorer")
    with registered_node(folder / "node", 1) as node:
        yield make_bank_world(node, folder)


@pytest.fixture(scope="module")
def auditor(world: BankWorld) -> Iterator[Running]:
    with running_console(world.settings("auditor", "zh")) as console:
        yield console


def _financing_tx(world: BankWorld) -> str:
    """Return the id of the transaction that made the world's financing request (final)."""
    s1 = world.node.participant("s1")
    try:
        events = s1.events(limit=1000)
        tx_id = next(e["tx_id"] for e in events if e["action"] == "request_financing")
        s1.wait_final([tx_id])
        return str(tx_id)
    finally:
        s1.close()


def test_blocks_are_listed_and_a_transaction_found_by_its_prefix(
        world: BankWorld, auditor: Running, browser: Browser, shots: Path) -> None:
    tab = Tab(browser, auditor.url, "laptop", shots)
    tab.log_in("vera")
    page = tab.go("/explorer")
    assert page.locator("h1").inner_text() == "区块浏览"
    assert page.locator("#blocks tbody tr").count() >= 5
    tab.look("explorer")
    tx_id = _financing_tx(world)
    page.fill("#explorer-q", tx_id[:8])
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/explorer/transactions/{tx_id}")
    assert page.locator("#tx-full-id").inner_text() == tx_id
    assert "request_financing" in page.locator("h2").first.inner_text()
    tab.look("explorer-transaction")
    page.locator("#tx-facts a").first.click()  # its block
    page.wait_for_url("**/explorer/blocks/*")
    assert tx_id[:12] in page.locator("#block-txs").inner_text()  # auditors see the block's txs
    tab.look("explorer-block")
    page = tab.go("/explorer/search?q=s1")
    assert world.node.orgs["s1"].uscc in page.inner_text("main")
    assert world.root[:12] in page.inner_text("main")  # s1's credential, which auditors see
    tab.look("explorer-search")
    number = world.node.participant("auditor").receivable(world.root)["receivable"][
        "trade"]["invoices"][0]["number"]
    page = tab.go(f"/explorer/search?q=%20{number.lower()}%20")  # the invoice's normal form
    assert world.root[:12] in page.locator("#inv-h + ul").inner_text()
    page = tab.go("/explorer/checkpoints")
    assert page.locator("pre.json").first.inner_text().startswith("ledger.receivables/")
    tab.look("explorer-checkpoints")
    _tablet(browser, auditor.url, shots, tx_id)
    assert tab.blocked == []


def _tablet(browser: Browser, url: str, shots: Path, tx_id: str) -> None:
    tab = Tab(browser, url, "tablet", shots)
    tab.log_in("vera")
    for name, path in (("explorer", "/explorer"),
                       ("explorer-transaction", f"/explorer/transactions/{tx_id}"),
                       ("explorer-block", "/explorer/blocks/1"),
                       ("explorer-checkpoints", "/explorer/checkpoints")):
        tab.go(path)
        tab.look(name)
        assert tab.page.evaluate("document.documentElement.scrollWidth") <= 820, name
    assert tab.blocked == []


def test_the_browser_verifies_a_real_transaction(
        world: BankWorld, auditor: Running, browser: Browser, shots: Path) -> None:
    tx_id = _financing_tx(world)
    for size in ("laptop", "tablet"):
        tab = Tab(browser, auditor.url, size, shots)
        tab.log_in("vera")
        page = tab.go(f"/explorer/transactions/{tx_id}")
        page.get_by_role("link", name="在浏览器中验证").click()
        page.wait_for_selector("body[data-verdict]", timeout=20_000)
        assert page.locator("body").get_attribute("data-verdict") == "ok"
        verdict = page.locator("#verdict").inner_text()
        assert verdict.startswith(f"本浏览器验证通过\n交易 {tx_id} 在 "), verdict
        steps = page.locator("#steps").inner_text()  # the page's words, in its language
        assert "已记入日志" in steps and "通过" in steps and "Passed" not in steps, steps
        genesis = read_genesis(world.folder / "node" / "genesis.json")
        assert page.locator("#genesis-fingerprint").inner_text() == genesis.transaction.tx_id
        tab.look("explorer-verify")
        assert tab.blocked == []


RESULT = ("#verdict", "#steps", "#trusted", "#pin-state")


def _flip_proof(bundle: dict[str, Any]) -> None:
    bundle["inclusion"]["proof"][0] = flip_hex(bundle["inclusion"]["proof"][0])


def _change_signed_root(bundle: dict[str, Any]) -> None:
    lines = bundle["checkpoint"]["checkpoint"].split("\n")
    lines[2] = base64.b64encode(bytes.fromhex(flip_hex(base64.b64decode(lines[2]).hex()))).decode()
    bundle["checkpoint"]["checkpoint"] = "\n".join(lines)


def _tampering(page: Page, change: Callable[[dict[str, Any]], None]) -> None:
    """Have every bundle the page fetches changed by `change` on its way (a lying console)."""
    def answer(route: Route) -> None:
        fetched = route.fetch()
        bundle = fetched.json()
        change(bundle)
        route.fulfill(response=fetched, body=json.dumps(bundle))
    page.unroute("**/bundle*")
    page.route("**/bundle*", answer)


def _verified(page: Page, again: bool) -> str:
    if again:
        page.reload()
    page.wait_for_selector("body[data-verdict]", timeout=20_000)
    return str(page.locator("body").get_attribute("data-verdict"))


def test_the_verify_page_says_every_step_and_trust_in_chinese(
        world: BankWorld, auditor: Running, browser: Browser, shots: Path) -> None:
    tx_id = _financing_tx(world)
    person = Browserless(auditor.url)
    person.log_in("vera")
    names = names_in(person.http.get(f"/explorer/transactions/{tx_id}/bundle").json())
    person.close()
    tab = Tab(browser, auditor.url, "laptop", shots)
    tab.log_in("vera")
    page = tab.go(f"/explorer/transactions/{tx_id}/verify")
    expected = {  # (verdict, how the verdict begins, what it says, a line of what was trusted)
        "first-use": ("ok", "本浏览器验证通过\n交易 ", "联署的日志中",
                      "创世随控制台的验证材料而来"),
        "ok": ("ok", "本浏览器验证通过\n交易 ", "联署的日志中", "保存在本浏览器中"),
        "forged-proof": ("failed", "未通过验证\n已记入日志", "包含证明算出的根哈希不符",
                         "首次使用时固定在本浏览器中"),
        "forged-checkpoint": ("failed", "未通过验证\n法定多数联署",
                              "node1 在签名文本上的签名验证不通过", "超过半数机构的节点是诚实的")}
    changes = {"forged-proof": _flip_proof, "forged-checkpoint": _change_signed_root}
    for what, (verdict, begins, says, trusted_line) in expected.items():
        if what in changes:
            _tampering(page, changes[what])
        assert _verified(page, again=what != "first-use") == verdict, what
        shown = {part: page.locator(part).inner_text() for part in RESULT}
        assert shown["#verdict"].startswith(begins) and says in shown["#verdict"], (
            what, shown["#verdict"])
        assert trusted_line in shown["#trusted"], (what, shown["#trusted"])
        assert {part: english_left(text, names) for part, text in shown.items()} == {
            part: [] for part in RESULT}, (what, shown)
        details = page.locator("#steps .detail").all_inner_texts()
        assert len(details) == 8 and all(re.search(r"[\u4e00-\u9fff]", d) for d in details)
        trusted = page.locator("#trusted dd").all_inner_texts()
        assert len(trusted) == 5 and all(re.search(r"[\u4e00-\u9fff]", t) for t in trusted)
        tab.look(f"explorer-verify-zh-{what}")
    assert tab.blocked == []


def test_the_block_list_grows_when_a_block_commits(
        world: BankWorld, auditor: Running, browser: Browser) -> None:
    tab = Tab(browser, auditor.url, "laptop", Path("."))
    tab.log_in("vera")
    page = tab.go("/explorer")
    page.wait_for_selector("body[data-live-height]")
    height = int(page.locator("body").get_attribute("data-live-height") or "0")
    assert page.locator(f"#block-{height + 1}").count() == 0
    request_financing(world.node, world.spare)
    page.wait_for_selector(f"#block-{height + 1}", timeout=20_000)
    assert "已更新至区块" in page.locator("#live-note").inner_text()
    assert tab.blocked == []


def test_the_auditor_runs_an_audit_and_takes_files_away(
        world: BankWorld, auditor: Running, browser: Browser, shots: Path) -> None:
    tab = Tab(browser, auditor.url, "laptop", shots)
    tab.log_in("vera")
    page = tab.go("/explorer/audit")
    page.get_by_role("button", name="立即审计").click()
    page.wait_for_url("**/explorer/audit/jobs/*")  # the job's page, at once
    page.wait_for_selector("#audit-report", timeout=60_000)
    assert page.locator("#audit-verdict").inner_text() == "通过"
    assert page.locator("#audit-no-findings").is_visible()
    job = page.url.rsplit("/", 1)[1]
    assert page.locator(f"#audit-job-{job}").inner_text().startswith(f"审计 #{job}\t通过\tvera\t")
    tab.look("explorer-audit")
    assert tab.blocked == []
    person = Browserless(auditor.url)
    person.log_in("vera")
    chain = person.http.get("/explorer/chain")
    assert chain.status_code == 200 and "attachment" in chain.headers["content-disposition"]
    lines = [json.loads(line) for line in chain.text.splitlines()]
    assert sum(1 for line in lines if line.get("type") == "block") >= 5
    trace = person.http.get(f"/explorer/trace/{world.root}")
    assert trace.status_code == 200 and trace.json()["note"] == world.root
    report = person.http.get("/explorer/audit/report.json").json()
    assert report["passed"] is True
    assert person.http.get(f"/explorer/audit/jobs/{job}/report.json").json() == report
    html = person.http.get(f"/explorer/audit/jobs/{job}/report.html")
    assert html.status_code == 200 and "attachment" in html.headers["content-disposition"]
    person.close()


def test_the_audit_page_follows_a_running_audit_until_its_report(
        world: BankWorld, auditor: Running, browser: Browser, shots: Path) -> None:
    me = world.node.participant("auditor")
    report = audit_node(me.node).to_json()  # a real report, for the job to end with
    me.close()
    engine = open_database(load_config(world.folder / "auditor.toml").database_url)
    with engine.begin() as db:  # an audit under way, as the console's worker keeps it
        made = db.execute(insert(audit_jobs).values(started_by="chen", started_at=now_s(),
                                                    state="running", detail=""))
        job = int(made.inserted_primary_key[0])  # type: ignore[index]
    tab = Tab(browser, auditor.url, "laptop", shots)
    tab.log_in("vera")
    page = tab.go("/explorer/audit")
    assert page.locator("#audit-running h2").inner_text().startswith(f"审计 #{job} 正在运行")
    assert page.get_by_role("button", name="立即审计").is_disabled()
    tab.look("explorer-audit-running")
    page.get_by_role("button", name="English").click()
    page.wait_for_selector("html[lang=en]")
    assert page.locator("#audit-running h2").inner_text().startswith(f"Audit #{job} is running")
    tab.look("explorer-audit-running-en")
    with engine.begin() as db:  # the worker records the end
        db.execute(update(audit_jobs).where(audit_jobs.c.id == job).values(
            state="passed", finished_at=now_s(), report=json.dumps(report)))
    page.wait_for_selector("#audit-report", timeout=10_000)  # no reload: live.js polled
    assert page.locator("#live-note").inner_text() == "The audit's state was updated"
    assert page.locator("#audit-running").count() == 0
    assert page.get_by_role("button", name="Run an audit now").is_enabled()
    assert page.locator("#audit-verdict").inner_text() == "passed"
    tab.look("explorer-audit-en")
    engine.dispose()
    assert tab.blocked == []


def test_a_bank_may_not_audit_nor_take_the_chain_file(world: BankWorld) -> None:
    with running_console(world.settings("b1", "en")) as bank:
        person = Browserless(bank.url)
        person.log_in("vera")
        for path in ("/explorer/audit", "/explorer/chain", "/explorer/audit/state",
                     "/explorer/audit/jobs/1", "/explorer/audit/jobs/1/report.json"):
            refused = person.http.get(path)
            assert refused.status_code == 403, path
            assert "Only an auditor" in refused.text
        refused = person.post("/explorer/audit", token_from="/explorer")
        assert refused.status_code == 403 and "Only an auditor" in refused.text
        assert person.http.get("/explorer").status_code == 200  # the explorer itself is open
        person.close()


def test_the_bundle_route_answers_json_and_takes_the_trusted_size(
        world: BankWorld, auditor: Running) -> None:
    tx_id = _financing_tx(world)
    person = Browserless(auditor.url)
    person.log_in("vera")
    bundle = person.http.get(f"/explorer/transactions/{tx_id}/bundle").json()
    assert (bundle["format"], bundle["tx_id"], bundle["consistency"]) == (
        "ledger-verification/1", tx_id, None)
    since = person.http.get(f"/explorer/transactions/{tx_id}/bundle?from=2").json()
    assert (since["consistency"]["first"], since["consistency"]["second"]) == (
        2, since["checkpoint"]["size"])
    for query, status in (("?from=0", 400), ("?from=x", 400)):
        refused = person.http.get(f"/explorer/transactions/{tx_id}/bundle{query}")
        assert refused.status_code == status and refused.json()["error"] == "bad_request"
    unknown = person.http.get(f"/explorer/transactions/{'0' * 64}/bundle")
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    person.close()


CHECKPOINT_ROW = re.compile(r'<tr id="checkpoint-(\d+)"><td><a href="/explorer/blocks/\1">\1</a>'
                            r'</td><td class="num">(\d+)</td>')


def _committed_blocks(world: BankWorld, count: int) -> int:
    """Commit `count` blocks (a credit line each, through the SDK), final; return the height."""
    bank, core = world.node.participant("b1"), world.node.participant("core")
    try:
        for _ in range(count):
            prepared = core.cosign(bank.propose_credit_line(
                core=core.uscc, limit=1_000_000, currency="CNY", expiry_date=LINE_EXPIRY))
            bank.wait_final([str(bank.submit([prepared.envelope()])[0]["tx_id"])])
        return int(bank.checkpoint()["height"])
    finally:
        bank.close()
        core.close()


def _rows(page: str) -> list[tuple[int, int]]:
    """Return the (height, log size) of each checkpoint row of a checkpoints page."""
    return [(int(h), int(size)) for h, size in CHECKPOINT_ROW.findall(page)]


def test_the_checkpoint_history_is_the_nodes_paged_from_the_latest(
        world: BankWorld, browser: Browser, shots: Path) -> None:
    final = _committed_blocks(world, 25)  # more than a page, all before this console starts
    auditor = world.node.participant("auditor")
    sizes = {h: int(auditor.checkpoint(h)["size"]) for h in range(final + 1)}
    auditor.close()
    with running_console(world.settings("core", "zh")) as console:
        person = Browserless(console.url)
        person.log_in("vera")
        pages = {before: person.http.get("/explorer/checkpoints" + before)
                 for before in ("", f"?before={final - 19}", "?before=1", "?before=" + "9" * 18)}
        assert {b: r.status_code for b, r in pages.items()} == dict.fromkeys(pages, 200)
        first, second, last = (_rows(pages[b].text) for b in list(pages)[:3])
        assert first == [(h, sizes[h]) for h in range(final, final - 20, -1)]
        assert _rows(pages["?before=" + "9" * 18].text) == first
        assert second == [(h, sizes[h]) for h in range(final - 20, max(-1, final - 40), -1)]
        assert last == [(0, 1)] and "创世区块" in pages["?before=1"].text
        assert f'href="/explorer/checkpoints?before={final - 19}" rel="next"' in pages[""].text
        assert 'rel="prev"' not in pages[""].text
        assert 'href="/explorer/checkpoints" rel="prev"' in pages[f"?before={final - 19}"].text
        assert 'rel="next"' not in pages["?before=1"].text
        assert "节点为每个已最终确认的区块提供" in pages[""].text
        for bad in ("abc", "0", "-1", "01", "1.5", "1e3", "+5", "%205", "5%20", "%D9%A3",
                    "%EF%BC%91", "9" * 19, "", "5&before=6"):
            refused = person.http.get(f"/explorer/checkpoints?before={bad}")
            assert refused.status_code == 400, (bad, refused.status_code)
            assert "参数 before 须是区块高度" in refused.text, bad
        person.close()
        tab = Tab(browser, console.url, "laptop", shots)
        tab.log_in("vera")
        page = tab.go("/explorer/checkpoints")
        page.get_by_role("link", name="较旧 →").click()
        page.wait_for_url(f"**/explorer/checkpoints?before={final - 19}")
        assert page.locator("#checkpoints tbody tr").first.get_attribute("id") == (
            f"checkpoint-{final - 20}")
        tab.look("explorer-checkpoints-older")
        page.get_by_role("link", name="← 较新").click()
        page.wait_for_url("**/explorer/checkpoints")
        assert page.locator("#checkpoints tbody tr").count() == 20
        tab.look("explorer-checkpoints-history")
        page.goto(console.url + "/explorer/checkpoints?before=x")
        assert page.locator("h1").inner_text() == "请求有误"
        assert tab.blocked == []
