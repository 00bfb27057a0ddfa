"""`/docs` works on a closed network and explains request signing.

Headless Chromium (Debian's, driven by Playwright) opens a node's `/docs`
while every request to anything but the node is blocked: the page must load
nothing from outside, and the screenshot must show Swagger UI really painted
(the GET and POST operation bars in their colours), not a blank page.  The
signing guide's worked example must verify with nothing but PyNaCl and
RFC 8785.  Outside CI the browser test skips when Chromium is absent;
`.ci/run` installs it, so in CI it runs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import httpx
import nacl.signing
import rfc8785
from playwright.sync_api import Route, sync_playwright

from client.local_consortium.browser import BrowserMissing, chromium_binary
from tests.nodes import running_node
from tests.png import read_png
from tests.tools import need_tool

WIDTH, HEIGHT = 1280, 1400
GET_BAR, POST_BAR = "#61affe", "#49cc90"  # Swagger UI's method badges


def test_docs_render_in_headless_chromium_with_the_network_blocked(tmp_path: Path) -> None:
    need_tool(chromium_binary, BrowserMissing)
    blocked: list[str] = []
    with running_node(tmp_path) as n, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"),
                                             args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})

            def only_the_node(route: Route) -> None:
                if route.request.url.startswith(n.url + "/"):
                    route.continue_()
                else:
                    blocked.append(route.request.url)
                    route.abort()

            page.route("**/*", only_the_node)
            page.goto(n.url + "/docs")
            page.wait_for_selector(".opblock", timeout=30_000)
            operations = page.locator(".opblock").count()
            guide = page.locator(".info .description").inner_text()
            page.screenshot(path=str(tmp_path / "docs.png"))
        finally:
            browser.close()
        document = httpx.get(n.url + "/openapi.json").json()
        redoc = httpx.get(n.url + "/redoc")
    assert blocked == []
    assert operations == len(_operations(document))
    assert redoc.status_code == 404  # its page fetches from the internet: not offered
    assert "Signing requests" in guide and "X-Ledger-Signature" in guide
    picture = read_png((tmp_path / "docs.png").read_bytes())
    assert (picture.width, picture.height) == (WIDTH, HEIGHT)
    assert len(picture.colours()) > 200  # text, borders and fills: not a blank page
    assert picture.count(GET_BAR) > 60 * 20 * 5  # several GET badges, each ~60 x 30 px
    assert picture.count(POST_BAR) > 60 * 20  # the POST /v1/transactions badge
    keep = os.environ.get("LEDGER_SCREENSHOT_DIR")
    if keep:  # to look at it: the screenshot of a CI run
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / "docs.png").write_bytes((tmp_path / "docs.png").read_bytes())


def _operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [(method, path) for path, ops in document["paths"].items() for method in ops]


def test_the_docs_page_names_only_the_nodes_own_assets(tmp_path: Path) -> None:
    with running_node(tmp_path) as n:
        page = httpx.get(n.url + "/docs")
        assets = re.findall(r"""(?:src|href)=['"]([^'"]+)""", page.text)
        fetched = [httpx.get(n.url + asset) for asset in assets]
    assert page.status_code == 200 and len(assets) >= 3
    assert all(a.startswith("/docs/assets/") for a in assets), assets
    assert all(f.status_code == 200 and len(f.content) > 1000 for f in fetched)


def test_the_signing_guides_worked_example_verifies(tmp_path: Path) -> None:
    with running_node(tmp_path) as n:
        guide = httpx.get(n.url + "/openapi.json").json()["info"]["description"]
    public = re.search(r"public key\s+`([0-9a-f]{64})`", guide)
    signed = re.search(r"\n    (\{\"body_sha256\".*\})\n", guide)
    signature = re.search(r"X-Ledger-Signature: (\S+)", guide)
    assert public and signed and signature, guide
    parsed = json.loads(signed.group(1))
    fields = rfc8785.dumps(parsed)
    assert fields == signed.group(1).encode()  # it is canonical
    assert parsed["body_sha256"] == hashlib.sha256(b"").hexdigest()
    key = nacl.signing.VerifyKey(bytes.fromhex(public.group(1)))
    key.verify(b"receivables-ledger/v1/request\n" + fields,
               base64.b64decode(signature.group(1), validate=True))

