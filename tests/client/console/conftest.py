"""Fixtures the console's browser tests share: one Chromium per module, a screenshot folder."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from client.local_consortium.browser import BrowserMissing, chromium_binary
from tests.tools import need_tool


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, launched once per test module (Playwright cannot fetch its own)."""
    need_tool(chromium_binary, BrowserMissing)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=shutil.which("chromium"),
                                              args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: LEDGER_SCREENSHOT_DIR to keep them, else the test's folder."""
    keep = os.environ.get("LEDGER_SCREENSHOT_DIR")
    folder = Path(keep) if keep else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder
