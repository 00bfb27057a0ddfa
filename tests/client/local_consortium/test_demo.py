"""The main job: `ledger demo` plays the whole story against a node process and its audit passes."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from client.local_consortium.demo import run_demo


def test_the_demo_runs_end_to_end_and_its_audit_passes(tmp_path: Path) -> None:
    out = io.StringIO()
    assert run_demo(tmp_path, Console(file=out, width=400)) is True
    text = out.getvalue()
    assert "audit PASSED" in text
    for rule in ("a note is financed only once",
                 "an invoice is never used beyond its amount (no double financing)",
                 "the payments do not exceed the note's amount",
                 "each split piece is at least the minimum amount"):
        assert rule in text
    assert "13,333.33" in text and "2,986,666.67" in text  # 3,000,000.00 at 2% for 80 days
