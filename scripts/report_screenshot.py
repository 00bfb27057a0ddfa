#!/usr/bin/env python3
"""Render the HTML audit report of a running node's chain, and screenshot it in headless Chromium.

    LEDGER_PASSWORD=... python scripts/report_screenshot.py --node http://127.0.0.1:8600 \\
        --keystore my-consortium/keys/auditor.json --receivable ROOT_ID --out report

writes report.html and report.png.  The audit report comes from --report
(the JSON of `ledger --json audit`) or, without it, from auditing the node
now; each --receivable's split tree is drawn.  Use an auditor's keystore to
see whole trees.  Plain-HTTP nodes only (the embedded single-machine node).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from client.audit.html_page import render_report
from client.audit.lineage import fetch_lineage_tree
from client.local_consortium.browser import screenshot
from client.sdk.http import NodeClient
from client.sdk.keystore import load_keystore


def _audit(node: NodeClient, report_file: Path | None) -> dict[str, Any]:
    if report_file is not None:
        loaded: dict[str, Any] = json.loads(report_file.read_text(encoding="utf-8"))
        return loaded
    from client.audit import audit_node

    return audit_node(node).to_json()


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, render, screenshot; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--node", default=os.environ.get("LEDGER_NODE", "http://127.0.0.1:8600"))
    parser.add_argument("--keystore", type=Path, required=True)
    parser.add_argument("--password", default=os.environ.get("LEDGER_PASSWORD"))
    parser.add_argument("--receivable", action="append", default=[], help="repeat for more")
    parser.add_argument("--report", type=Path, help="JSON audit report (default: audit now)")
    parser.add_argument("--out", type=Path, default=Path("report"), help="writes OUT.html/.png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=2000)
    args = parser.parse_args(argv)
    if not args.password:
        parser.error("give --password or LEDGER_PASSWORD")
    node = NodeClient(args.node, load_keystore(args.keystore, args.password))
    try:
        report = _audit(node, args.report)
        lineages = {root: fetch_lineage_tree(node, root) for root in args.receivable}
    finally:
        node.close()
    page, png = args.out.with_suffix(".html"), args.out.with_suffix(".png")
    page.write_text(render_report(report, lineages), encoding="utf-8")
    screenshot(page, png, width=args.width, height=args.height)
    print(f"wrote {page} and {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
