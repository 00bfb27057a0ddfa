"""The `ledger` command line against a real node: amounts in yuan, ids printed, errors clean."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from client.cli import app
from client.keystore import Identity, save_keystore
from tests.nodes import running_node

PASSWORD = "cli-test-password"


def _keystores(tmp_path: Path, orgs: dict) -> dict[str, Path]:  # type: ignore[type-arg]
    paths = {}
    for name in ("core", "b1", "s1"):
        org = orgs[name]
        paths[name] = tmp_path / f"{name}.json"
        save_keystore(paths[name], Identity(org.uscc, org.name, org.key), PASSWORD)
    return paths


def test_credit_line_issue_and_holdings_through_the_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    now = datetime.now(UTC).replace(microsecond=0)  # the CLI signs with the system clock
    with running_node(tmp_path, start=now - timedelta(minutes=1)) as n:
        keys = _keystores(tmp_path, n.orgs)
        env = {"LEDGER_NODE": n.url, "LEDGER_PASSWORD": PASSWORD}

        def ledger(who: str, *args: str) -> str:
            result = runner.invoke(app, ["--keystore", str(keys[who]), "--json", *args], env=env)
            assert result.exit_code == 0, result.output
            return result.output

        prepared = tmp_path / "line.json"
        ledger("b1", "credit-line", "--core", n.orgs["core"].uscc, "--limit", "1,000,000.00",
               "--expiry", (now + timedelta(days=300)).date().isoformat(),
               "--out", str(prepared))
        granted = json.loads(ledger("core", "cosign", str(prepared)))
        line = granted["events"][0]["credit_line"]
        issued = json.loads(ledger("core", "issue", "--credit-line", line, "--to",
                                   n.orgs["s1"].uscc, "--amount", "250,000.50", "--maturity",
                                   (now + timedelta(days=60)).date().isoformat(),
                                   "--contract-no", "PO-CLI",
                                   "--invoice", "INV-CLI:250,000.50"))
        root = issued["events"][0]["receivable"]
        [note] = json.loads(ledger("s1", "holdings"))
        assert (note["id"], note["amount"], note["status"]) == (root, 25_000_050, "pending")

        refused = runner.invoke(app, ["--keystore", str(keys["s1"]), "reject", "not-an-id"],
                                env=env)
        assert refused.exit_code != 0
