"""The HTML report in a real browser: headless Chromium renders it and takes a screenshot.

A real node plays a credential's story (split, transfer, financing, partial
payment); the report shows a fed finding and the credential's lineage
picture.  The screenshot is decoded (tests/png.py) and must be a picture of
the window's size with the red verdict banner and the note boxes of the
picture really painted, not a blank or error page.  Outside CI the test
skips when Chromium is absent; `.ci/run` installs it, so in CI it runs.
"""

from __future__ import annotations

import importlib.util
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

from client.audit.html_page import render_report
from client.audit.lineage import fetch_lineage_tree
from client.audit.lineage_svg import BOX_H, BOX_W, STATUS_COLOURS
from client.local_consortium.browser import BrowserMissing, chromium_binary, screenshot
from client.sdk.keystore import Identity, save_keystore
from tests.client.lineage_story import build_story_chain
from tests.nodes import running_node
from tests.png import read_png, write_png
from tests.tools import need_tool

WIDTH, HEIGHT = 1280, 2000
FAIL_BANNER = "#c5221f"


def need_chromium() -> None:
    """Skip the calling test when Chromium is not installed (fail instead under CI)."""
    need_tool(chromium_binary, BrowserMissing)


def _report(tmp_path: Path) -> Path:
    (tmp_path / "node").mkdir()
    with running_node(tmp_path / "node") as n:
        story = build_story_chain(n)
        auditor = n.participant("auditor")
        try:
            tree = fetch_lineage_tree(auditor.node, story.root)
            head = auditor.checkpoint()
        finally:
            auditor.close()
    finding = {"block": 4, "tx": story.txs["split"], "note": story.notes["s2"],
               "check": "re-execution", "message": "fed finding: the result root differs"}
    report = {"passed": False, "findings": [finding], "checkpoints": [head],
              "statistics": {"blocks": head["height"] + 1, "transactions": head["size"],
                             "signatures": head["size"] + 1, "tx_per_s": 1234.5}}
    page = tmp_path / "report.html"
    page.write_text(render_report(report, {story.root: tree}), encoding="utf-8")
    return page


def test_the_report_renders_in_headless_chromium_with_findings_and_lineage(
        tmp_path: Path) -> None:
    need_chromium()
    page = _report(tmp_path)
    png = tmp_path / "report.png"
    screenshot(page, png, width=WIDTH, height=HEIGHT)
    picture = read_png(png.read_bytes())
    assert (picture.width, picture.height) == (WIDTH, HEIGHT)
    assert len(picture.colours()) > 200  # text, borders and fills: not a blank page
    assert picture.count(FAIL_BANNER) > 1000 * 40  # the verdict banner across the page
    assert picture.count("#fce8e6") > 600 * 20  # the finding's row
    # three active notes (the unpaid rests) and three settled ones, each box filled at
    # least 80% with its status colour (the rest is border and text); the legend's
    # swatches alone are 144 pixels
    three_boxes = 3 * BOX_W * BOX_H * 8 // 10
    assert picture.count(STATUS_COLOURS["active"][0]) >= three_boxes
    assert picture.count(STATUS_COLOURS["settled"][0]) >= three_boxes
    keep = os.environ.get("LEDGER_SCREENSHOT_DIR")
    if keep:  # to look at it: the screenshot of a CI run
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / "report.png").write_bytes(png.read_bytes())


def _script() -> ModuleType:
    path = Path(__file__).parents[3] / "scripts" / "report_screenshot.py"
    spec = importlib.util.spec_from_file_location("report_screenshot", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_screenshot_script_renders_a_nodes_report(tmp_path: Path) -> None:
    need_chromium()
    now = datetime.now(UTC).replace(microsecond=0)  # the script signs with the system clock
    audit = tmp_path / "audit.json"
    audit.write_text(json.dumps({"passed": False, "findings": ["block 3: fed finding"],
                                 "statistics": {"blocks": 3}}), encoding="utf-8")
    with running_node(tmp_path, start=now - timedelta(minutes=1)) as n:
        story = build_story_chain(n, settle=False)
        org = n.orgs["auditor"]
        save_keystore(tmp_path / "auditor.json", Identity(org.uscc, org.name, org.key), "pw")
        status = _script().main([
            "--node", n.url, "--keystore", str(tmp_path / "auditor.json"), "--password", "pw",
            "--receivable", story.root, "--report", str(audit), "--out", str(tmp_path / "r"),
            "--height", "1200"])
    assert status == 0
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "fed finding" in page and all(note in page for note in story.notes.values())
    picture = read_png((tmp_path / "r.png").read_bytes())
    assert (picture.width, picture.height) == (WIDTH, 1200)
    assert picture.count(FAIL_BANNER) > 1000 * 40
    assert picture.count(STATUS_COLOURS["active"][0]) >= 3 * BOX_W * BOX_H * 8 // 10


def test_the_png_reader_decodes_every_filter_type() -> None:
    rows = [bytes((x * 7 + y * 13 + c * 50) % 256 for x in range(5) for c in range(3))
            for y in range(5)]
    picture = read_png(write_png(5, 5, rows, filters=[0, 1, 2, 3, 4]))
    assert (picture.width, picture.height) == (5, 5)
    assert list(picture.rows) == rows
    assert picture.count(f"#{rows[2][3:6].hex()}") >= 1
    with pytest.raises(ValueError, match="not a PNG"):
        read_png(b"<html>an error page</html>")
