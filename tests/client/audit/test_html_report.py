"""`ledger audit --html`: the human report, with lineage drawn from the re-executed state.

A node plays the lineage story (split, transfer, financing; the clock stays
put so the CLI can sign with the system clock); the audit runs from the
node and from a chain file, and the page must show the verdict and every
note of the credential's tree, as the contracts computed it.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from client.cli import app
from client.sdk.keystore import Identity, save_keystore
from node.storage.chain_lines import export_database
from tests.client.lineage_story import build_story_chain
from tests.nodes import running_node

PASSWORD = "audit-html-password"


def test_the_html_report_draws_the_audited_lineage_from_a_file_and_from_a_node(
        tmp_path: Path) -> None:
    runner = CliRunner()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    with running_node(tmp_path, start=start) as n:
        story = build_story_chain(n, settle=False)
        auditor = n.participant("auditor")
        served = auditor.receivable(story.root)
        auditor.close()
        org = n.orgs["auditor"]
        save_keystore(tmp_path / "auditor.json", Identity(org.uscc, org.name, org.key), PASSWORD)
        env = {"LEDGER_PASSWORD": PASSWORD, "LEDGER_NODE": n.url,
               "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
        from_node = tmp_path / "node.html"
        audited = runner.invoke(app, ["--keystore", str(tmp_path / "auditor.json"), "audit",
                                      "--html", str(from_node), "--receivable", story.root],
                                env=env)
        assert audited.exit_code == 0, audited.output
        chain = tmp_path / "chain.jsonl"
        with chain.open("wb") as out:
            export_database(f"sqlite:///{tmp_path / 'node.db'}", out)
    from_file = tmp_path / "file.html"
    offline = {"LEDGER_PASSWORD": PASSWORD, "LEDGER_NODE": "http://127.0.0.1:9"}
    audited = runner.invoke(app, ["audit", "--chain", str(chain), "--html", str(from_file),
                                  "--receivable", story.root], env=offline)
    assert audited.exit_code == 0, audited.output
    for page in (from_node.read_text(encoding="utf-8"), from_file.read_text(encoding="utf-8")):
        assert "PASSED" in page and "<svg" in page
        for note in served["notes"]:
            assert note["id"] in page, note["id"]
        assert re.search(r"split\s*·\s*\d{4}-\d{2}-\d{2}", page)  # actions and dates on edges
        assert "finance" in page and "transfer" in page


def test_an_unknown_receivable_or_one_without_html_is_refused(tmp_path: Path) -> None:
    runner = CliRunner()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    with running_node(tmp_path, start=start) as n:
        build_story_chain(n, settle=False)
        chain = tmp_path / "chain.jsonl"
        with chain.open("wb") as out:
            export_database(f"sqlite:///{tmp_path / 'node.db'}", out)
    env = {"LEDGER_NODE": "http://127.0.0.1:9"}
    unknown = runner.invoke(app, ["audit", "--chain", str(chain), "--html",
                                  str(tmp_path / "r.html"), "--receivable", "ab" * 32], env=env)
    assert unknown.exit_code == 2 and "no receivable abab" in _flat(unknown.output)
    alone = runner.invoke(app, ["audit", "--chain", str(chain), "--receivable", "x"], env=env)
    assert alone.exit_code == 2 and "give --html" in _flat(alone.output)


def _flat(output: str) -> str:
    """The CLI's text without rich's box drawing and line breaks."""
    return re.sub(r"[\s│╭╮╰╯─]+", " ", output)
