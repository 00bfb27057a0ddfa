"""A loopback site and a guarded Chromium for the console's browser tests.

`LoopbackSite` serves the console's static files (client/console/static/)
and whatever a test adds (bundles, a harness page) from a thread on
127.0.0.1, every answer with a strict Content-Security-Policy, so a page
that needed an inline script or style, or anything from elsewhere, would
visibly break.  `guarded_page` opens a page in Debian's Chromium (driven by
Playwright) that aborts every request not addressed to the site and records
it, and records CSP violations and uncaught page errors, so a test can fail
on any of them.  `english_left` finds English words a Chinese page still
shows, once the ids, hashes and names it may show (`names_in` a bundle) are
taken out.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Browser, ConsoleMessage, Page, Route, sync_playwright

from client.local_consortium.browser import BrowserMissing, chromium_binary
from tests.tools import need_tool

STATIC = Path(__file__).resolve().parents[3] / "client" / "console" / "static"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
       "img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'")
TYPES = {".js": "text/javascript", ".html": "text/html; charset=utf-8", ".css": "text/css",
         ".json": "application/json"}
HARNESS = b"<!doctype html><html lang='en'><head><title>harness</title></head><body></body></html>"


class LoopbackSite:
    """Static files on a free loopback port: /static/<name> from the console, plus `extra`."""

    def __init__(self) -> None:
        self.extra: dict[str, tuple[bytes, str]] = {"/harness.html": (HARNESS, TYPES[".html"])}
        self.dynamic: dict[str, Callable[[dict[str, str]], bytes]] = {}
        self.requests: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.requests.append(self.path)
                found = site.lookup(self.path)
                if found is None:
                    self.send_error(404)
                    return
                body, kind = found
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Content-Security-Policy", CSP)
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def lookup(self, target: str) -> tuple[bytes, str] | None:
        """Return (body, content type) of request target `target`, or None."""
        parts = urlsplit(target)
        path = parts.path
        if path in self.dynamic:
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            return self.dynamic[path](query), TYPES[".json"]
        if path in self.extra:
            return self.extra[path]
        if path.startswith("/static/"):
            name = path.removeprefix("/static/")
            file = STATIC / name
            if "/" not in name and file.is_file():
                return file.read_bytes(), TYPES.get(file.suffix, "application/octet-stream")
        return None

    def add(self, path: str, body: bytes, kind: str = TYPES[".json"]) -> str:
        """Serve `body` at `path`; return its URL."""
        self.extra[path] = (body, kind)
        return self.url + path

    def __enter__(self) -> LoopbackSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Guard:
    """What a page tried that it must not: requests off the site, CSP violations, errors."""

    blocked: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        """Fail if the page reached beyond the site, broke the CSP or threw."""
        assert self.blocked == [], f"requests off loopback: {self.blocked}"
        assert self.violations == [], f"CSP violations: {self.violations}"
        assert self.errors == [], f"page errors: {self.errors}"


@contextmanager
def chromium() -> Iterator[Browser]:
    """Launch Debian's Chromium headless (skipped outside CI when it is not installed)."""
    need_tool(chromium_binary, BrowserMissing)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"),
                                             args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def guarded_page(browser: Browser, site: LoopbackSite, guard: Guard,
                 width: int = 1280, height: int = 900) -> Page:
    """Open a page that may reach only `site`; what it tries otherwise goes to `guard`."""
    page = browser.new_page(viewport={"width": width, "height": height})

    def only_the_site(route: Route) -> None:
        if route.request.url.startswith(site.url + "/"):
            route.continue_()
        else:
            guard.blocked.append(route.request.url)
            route.abort()

    def console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            guard.violations.append(message.text)

    page.route("**/*", only_the_site)
    page.on("console", console)
    page.on("pageerror", lambda error: guard.errors.append(str(error)))
    return page


TECHNICAL = {"SHA", "Ed", "WebCrypto", "verify", "js"}  # names of things, in either language
HEX_RUN = re.compile(r"[0-9a-f]{12,}\u2026?")


def english_left(text: str, names: Iterable[str]) -> list[str]:
    """Return the ASCII words left in `text` once hashes, `names` and TECHNICAL are taken out."""
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, " ")
    return [w for w in re.findall(r"[A-Za-z]{2,}", HEX_RUN.sub(" ", text)) if w not in TECHNICAL]


def names_in(bundle: dict[str, Any]) -> set[str]:
    """Return the ids and names a verification of `bundle` may show: data, not words."""
    body = json.loads(bundle["transaction"]["envelope"]["body"])
    nodes = json.loads(bundle["genesis"]["transaction"]["body"])["args"]["nodes"]
    return {bundle["chain_id"], f"ledger.receivables/{bundle['chain_id']}",
            "ledger-verification/1", f"{body['contract']}.{body['action']}", *body["signers"],
            *(n["id"] for n in nodes), *(n["org"] for n in nodes)}
