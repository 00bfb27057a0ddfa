"""verify.html on a real node: the browser passes a real transaction, fails forgeries visibly.

A registered node (node1, key 1, one organisation running nodes: quorum 1)
commits a credit line the SDK submitted; client/console/verification.py
builds its bundle through the SDK; verify.html, served from a loopback site
under a strict CSP with every other request aborted, verifies it in Debian's
Chromium.  The browser then keeps that checkpoint, and a later transaction's
bundle is asked for again `from` the trusted size and shown consistent.  The
same bundle with a flipped proof hash, and with a checkpoint altered after
signing, must say "Not verified" with the step that caught it; a forked log
must say "Fork detected".  Screenshots of each, at 1280 and 820 px wide, go
to LEDGER_SCREENSHOT_DIR when it is set.  Given the console's Chinese words
(the data block its verify page carries), the same script says a fork, a
checkpoint short of a quorum and a bundle it could not fetch in Chinese,
with no English left but ids, hashes and names.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from client.console.i18n import translator
from client.console.i18n_verify import verify_words
from client.console.verification import verification_bundle
from client.sdk.http import NodeError
from client.sdk.lightclient import read_genesis
from client.sdk.participant import Participant
from ledger.genesis import Genesis
from tests.client.console.browser import (
    STATIC,
    Guard,
    LoopbackSite,
    chromium,
    english_left,
    guarded_page,
    names_in,
)
from tests.client.console.chains import Chain, edited, flip_hex, four_orgs
from tests.node.support import LINE_EXPIRY
from tests.nodes import RunningNode, registered_node
from tests.png import read_png
from tests.test_layers import imports_of

pytestmark = pytest.mark.slow  # browser end-to-end: run in CI's slow phase

WIDTHS = (1280, 820)
ROOT = Path(__file__).resolve().parents[3]


def _credit_line(n: RunningNode, limit: int) -> str:
    """Have b1 grant core a credit line (both sign) and wait until final; return its tx id."""
    bank, core = n.participant("b1"), n.participant("core")
    try:
        prepared = core.cosign(bank.propose_credit_line(core=core.uscc, limit=limit,
                                                        currency="CNY", expiry_date=LINE_EXPIRY))
        tx_id = str(bank.submit([prepared.envelope()])[0]["tx_id"])
        bank.wait_final([tx_id])
        return tx_id
    finally:
        bank.close()
        core.close()


def _open(browser: Browser, site: LoopbackSite, guard: Guard, bundle_path: str,
          width: int = 1280, page: Page | None = None) -> Page:
    page = page or guarded_page(browser, site, guard, width=width)
    page.goto(f"{site.url}/static/verify.html?bundle={bundle_path}")
    page.wait_for_selector("body[data-verdict]", timeout=20_000)
    return page


def _shoot(page: Page, name: str, tmp: Path) -> Path:
    path = tmp / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    keep = os.environ.get("LEDGER_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / path.name).write_bytes(path.read_bytes())
    return path


def _serve(site: LoopbackSite, path: str, make: Callable[[int | None], dict[str, Any]]) -> str:
    """Serve at `path` the bundle `make(from)` builds for each request (`from`: trusted size)."""
    def answer(query: dict[str, str]) -> bytes:
        since = int(query["from"]) if "from" in query else None
        return json.dumps(make(since)).encode()
    site.dynamic[path] = answer
    return path


def _tamper_note(bundle: dict[str, Any]) -> dict[str, Any]:
    """Return the bundle with its checkpoint's root changed after the nodes signed it."""
    note = bundle["checkpoint"]["checkpoint"]
    lines = note.split("\n")
    root = bytearray(base64.b64decode(lines[2]))
    root[0] ^= 1
    lines[2] = base64.b64encode(bytes(root)).decode()
    return edited(bundle, ["checkpoint", "checkpoint"], "\n".join(lines))


def _steps(page: Page) -> list[tuple[str, str]]:
    return [(li.get_attribute("class") or "", li.locator(".name").inner_text())
            for li in page.locator("#steps li").all()]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningNode, Genesis]]:
    tmp = tmp_path_factory.mktemp("verify-node")
    with registered_node(tmp, 1) as n:
        yield n, read_genesis(tmp / "genesis.json")


def test_the_browser_verifies_a_real_transaction_and_fails_forgeries_visibly(
        node: tuple[RunningNode, Genesis], tmp_path: Path) -> None:
    n, genesis = node
    first_tx = _credit_line(n, 10_000_000)
    auditor: Participant = n.participant("auditor")

    def bundle_of(tx: str) -> Callable[[int | None], dict[str, Any]]:
        return lambda since: verification_bundle(auditor, tx, genesis, since=since)

    with LoopbackSite() as site, chromium() as browser:
        guard = Guard()
        page = _open(browser, site, guard, _serve(site, "/bundles/first.json", bundle_of(first_tx)))
        assert page.get_attribute("body", "data-verdict") == "ok", page.inner_text("#verdict")
        verdict = page.inner_text("#verdict")
        assert verdict.startswith(f"Verified by this browser\nTransaction {first_tx}")
        assert "cosigned by node1" in verdict
        assert [kind for kind, _ in _steps(page)] == ["ok"] * 8
        trusted = page.inner_text("#trusted")
        assert genesis.transaction.tx_id in trusted and "first use" in trusted
        assert page.evaluate("document.documentElement.lang") == "en"
        assert page.locator("label[for=genesis-pin]").count() == 1
        _shoot(page, "verify-ok-first-use-1280", tmp_path)

        second_tx = _credit_line(n, 20_000_000)  # a later block: the trusted log must extend
        _open(browser, site, guard, _serve(site, "/bundles/second.json", bundle_of(second_tx)),
              page=page)
        assert page.get_attribute("body", "data-verdict") == "ok", page.inner_text("#verdict")
        assert any(r.startswith("/bundles/second.json?from=") for r in site.requests)
        consistency = page.locator("#steps li").nth(7).inner_text()
        assert "extends the one of size" in consistency, consistency
        assert "kept in this browser" in page.inner_text("#trusted")
        shots = [_shoot(page, "verify-ok-1280", tmp_path)]

        forged = {
            "proof": lambda since: edited(bundle_of(second_tx)(since), ["inclusion", "proof", 0],
                                          flip_hex(bundle_of(second_tx)(None)["inclusion"]
                                                   ["proof"][0])),
            "checkpoint": lambda since: _tamper_note(bundle_of(second_tx)(since)),
        }
        for width in WIDTHS:
            narrow = guarded_page(browser, site, guard, width=width)
            narrow.goto(site.url + "/harness.html")  # same origin: carry this browser's trust
            narrow.evaluate("(s) => localStorage.setItem('ledger-verify/v1', s)",
                            page.evaluate("localStorage.getItem('ledger-verify/v1')"))
            for what, make in forged.items():
                _open(browser, site, guard, _serve(site, f"/bundles/{what}.json", make),
                      page=narrow)
                text = narrow.inner_text("#verdict")
                assert narrow.get_attribute("body", "data-verdict") == "failed", text
                failed = [name for kind, name in _steps(narrow) if kind == "failed"]
                if what == "proof":
                    assert text.startswith("Not verified\nIncluded in the log: inclusion proof "
                                           "root mismatch"), text
                    assert failed == ["Included in the log"]
                else:
                    assert text == ("Not verified\nCosigned by a quorum: the note signature of "
                                    "node1 does not verify"), text
                    assert failed[0] == "Cosigned by a quorum"
                assert narrow.evaluate("document.documentElement.scrollWidth") <= width
                shots.append(_shoot(narrow, f"verify-forged-{what}-{width}", tmp_path))
            narrow.close()
        kept = json.loads(page.evaluate("localStorage.getItem('ledger-verify/v1')"))
        assert kept["chains"][n.service.chain.chain_id]["checkpoint_size"] == \
            verification_bundle(auditor, second_tx, genesis)["checkpoint"]["size"]
        assert kept["forks"] == []
    auditor.close()
    guard.assert_clean()
    for shot in shots:
        picture = read_png(shot.read_bytes())
        assert picture.width in WIDTHS and len(picture.colours()) > 50


def test_a_fork_is_shown_as_one_and_its_evidence_kept(tmp_path: Path) -> None:
    signers = ["node-core", "node-bank-a", "node-auditor"]
    chain = Chain(four_orgs())
    trusted_size, trusted = chain.log.size, chain.note(signers)
    fork = Chain(four_orgs(), seed="fork")  # the same genesis and keys, another history
    fork.grow(6, "fork")
    with LoopbackSite() as site, chromium() as browser:
        guard = Guard()
        page = guarded_page(browser, site, guard)
        page.goto(site.url + "/harness.html")
        store = {"chains": {chain.chain_id: {
            "genesis_tx_id": chain.genesis.transaction.tx_id, "genesis_source": "typed in",
            "checkpoint": trusted, "checkpoint_size": trusted_size,
            "checkpoint_height": trusted_size,
            "checkpoint_kept_on": "2026-01-05"}}, "forks": []}
        page.evaluate("(s) => localStorage.setItem('ledger-verify/v1', s)", json.dumps(store))
        path = _serve(site, "/bundles/fork.json",
                      lambda since: fork.bundle(signers, since=since))
        _open(browser, site, guard, path, page=page)
        text = page.inner_text("#verdict")
        assert page.get_attribute("body", "data-verdict") == "fork", text
        assert text.startswith(f"Fork detected\nno consistency from size {trusted_size}")
        assert page.is_visible("#fork") and page.inner_text("#fork-trusted").strip() == \
            trusted.strip()
        _shoot(page, "verify-fork-1280", tmp_path)
        kept = json.loads(page.evaluate("localStorage.getItem('ledger-verify/v1')"))
    assert kept["chains"][chain.chain_id]["checkpoint"] == trusted  # still the earlier one
    assert [f["served_checkpoint"] for f in kept["forks"]] == [
        fork.bundle(signers)["checkpoint"]["checkpoint"]]
    guard.assert_clean()


def test_a_real_checkpoint_without_a_quorum_is_not_verified(tmp_path: Path) -> None:
    with registered_node(tmp_path / "node", 2) as n:  # two organisations run nodes, one is up
        genesis = read_genesis(tmp_path / "node" / "genesis.json")
        tx_id = _credit_line(n, 1_000)  # final on its own embedded node, cosigned by node1 only
        bank = n.participant("b1")
        bundle = verification_bundle(bank, tx_id, genesis)
        with pytest.raises(ValueError, match="1 or more"):
            verification_bundle(bank, tx_id, genesis, since=0)
        other = Chain(four_orgs(), chain_id="another-chain").genesis
        with pytest.raises(ValueError, match="founds chain 'another-chain'"):
            verification_bundle(bank, tx_id, other)
        with pytest.raises(NodeError) as unknown:
            verification_bundle(bank, "ab" * 32, genesis)
        bank.close()
    assert unknown.value.status == 404
    assert bundle["checkpoint"]["cosigners"] == ["node1"]
    with LoopbackSite() as site, chromium() as browser:
        guard = Guard()
        site.add("/bundles/no-quorum.json", json.dumps(bundle).encode())
        page = _open(browser, site, guard, "/bundles/no-quorum.json")
        text = page.inner_text("#verdict")
        failed = [name for kind, name in _steps(page) if kind == "failed"]
        _shoot(page, "verify-no-quorum-1280", tmp_path)
    assert text == ("Not verified\nCosigned by a quorum: the checkpoint is cosigned by nodes of "
                    "1 organisation(s); a quorum is 2"), text
    assert failed == ["Cosigned by a quorum"]
    guard.assert_clean()


def test_the_bundle_builder_uses_the_sdk_only() -> None:
    module = ROOT / "client" / "console" / "verification.py"
    imported = imports_of(module, "client.console.verification")
    assert [m for m in imported if m.split(".")[0] == "node"
            or m.startswith(("client.cli", "client.local_consortium"))] == []
    assert any(m.startswith("client.sdk") for m in imported)


def _in_chinese(site: LoopbackSite) -> str:
    """Serve verify.html with the console's Chinese data block as /static/verify-zh.html."""
    block = json.dumps(verify_words(translator("zh"))).replace("<", "\\u003c")
    page = (STATIC / "verify.html").read_text(encoding="utf-8").replace(
        "<body>", f'<body><script type="application/json" id="verify-words">{block}</script>')
    site.add("/static/verify-zh.html", page.encode(), "text/html; charset=utf-8")
    return "/static/verify-zh.html"


def test_a_fork_no_quorum_and_no_bundle_read_in_chinese_with_the_consoles_words(
        tmp_path: Path) -> None:
    signers = ["node-core", "node-bank-a", "node-auditor"]
    chain = Chain(four_orgs())
    trusted = chain.note(signers)
    fork = Chain(four_orgs(), seed="fork")
    fork.grow(6, "fork")
    names = names_in(chain.bundle(signers))
    store = {"chains": {chain.chain_id: {
        "genesis_tx_id": chain.genesis.transaction.tx_id, "genesis_pinned": "typed",
        "genesis_pinned_on": "2026-01-05", "checkpoint": trusted,
        "checkpoint_size": chain.log.size, "checkpoint_height": chain.log.size,
        "checkpoint_kept_on": "2026-01-05"}}, "forks": []}
    cases = {  # what, (bundle path, the verdict, how the verdict begins)
        "fork": ("/bundles/fork.json", "fork", "发现分叉\n"),
        "no-quorum": ("/bundles/no-quorum.json", "failed", "未通过验证\n法定多数联署"),
        "no-bundle": ("/bundles/missing.json", "failed",
                      "未通过验证\n控制台对验证材料的请求返回了 404"),
    }
    shown: dict[str, dict[str, str]] = {}
    with LoopbackSite() as site, chromium() as browser:
        guard = Guard()
        zh = _in_chinese(site)
        _serve(site, "/bundles/fork.json", lambda since: fork.bundle(signers, since=since))
        site.add("/bundles/no-quorum.json", json.dumps(chain.bundle(["node-core"])).encode())
        for what, (path, verdict, begins) in cases.items():
            page = guarded_page(browser, site, guard)
            page.goto(site.url + "/harness.html")
            page.evaluate("(s) => localStorage.setItem('ledger-verify/v1', s)", json.dumps(store))
            page.goto(f"{site.url}{zh}?bundle={path}")
            page.wait_for_selector("body[data-verdict]", timeout=20_000)
            assert page.get_attribute("body", "data-verdict") == verdict, what
            parts = ("#verdict",) if what == "no-bundle" else (  # the rest: verify.html's own
                "#verdict", "#steps", "#trusted", "#pin-state", "#fork-reason")
            shown[what] = {part: page.inner_text(part) for part in parts}
            assert shown[what]["#verdict"].startswith(begins), (what, shown[what]["#verdict"])
            _shoot(page, f"verify-zh-{what}-1280", tmp_path)
            page.close()
    guard.assert_clean()
    english = {(what, part): english_left(text, names) for what, parts in shown.items()
               for part, text in parts.items()}
    assert {at: words for at, words in english.items() if words} == {}, shown
    assert shown["fork"]["#fork-reason"].startswith(f"从大小 {chain.log.size} 到 ")
    assert "法定多数为 3" in shown["no-quorum"]["#verdict"]
    assert "2026-01-05 手动输入" in shown["fork"]["#trusted"]
