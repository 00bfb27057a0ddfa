"""The `ledger` command line against a real node: amounts in yuan, ids printed, errors clean."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from client.cli import app
from client.local_consortium.pki import ed25519_key_from_seed, write_private_key
from client.sdk.keystore import Identity, save_keystore
from tests.builders import make_orgs
from tests.nodes import node_tls, running_node
from tests.pki import shared_pki

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



def test_the_cli_reaches_a_tls_node_with_the_member_certificate(tmp_path: Path) -> None:
    runner = CliRunner()
    now = datetime.now(UTC).replace(microsecond=0)  # the CLI signs with the system clock
    files = node_tls(1, make_orgs()["core"])
    with running_node(tmp_path, start=now - timedelta(minutes=1), tls_cert_path=files.cert,
                      tls_key_path=files.key, tls_ca_path=files.ca) as n:
        keys = _keystores(tmp_path, n.orgs)
        member = shared_pki().member_files(n.orgs["s1"])
        sealed = tmp_path / "s1.tls.pem"  # as consortium init writes it: under the password
        write_private_key(sealed, ed25519_key_from_seed(n.orgs["s1"].key.seed), PASSWORD)
        env = {"LEDGER_NODE": n.url, "LEDGER_PASSWORD": PASSWORD}
        base = ["--keystore", str(keys["s1"]), "--json"]
        tls = ["--tls-cert", str(member.cert), "--tls-key", str(sealed),
               "--tls-ca", str(member.ca)]
        answered = runner.invoke(app, [*base, *tls, "status"], env=env)
        assert answered.exit_code == 0, answered.output
        assert json.loads(answered.output)["chain_id"] == "test-chain"
        without = runner.invoke(app, [*base, "status"], env=env)
        assert without.exit_code == 2 and "is a TLS node: pass tls" in without.output
        half = runner.invoke(app, [*base, *tls[:2], "status"], env=env)
        assert half.exit_code == 2 and "together" in half.output


def test_policies_in_words_and_as_the_node_answers_them(tmp_path: Path) -> None:
    runner = CliRunner()
    now = datetime.now(UTC).replace(microsecond=0)  # the CLI signs with the system clock
    founded = {"review_tenor_days": 120, "governance_approval_percent": 1}
    with running_node(tmp_path, start=now - timedelta(minutes=1), policies=founded) as n:
        keys = _keystores(tmp_path, n.orgs)
        env = {"LEDGER_NODE": n.url, "LEDGER_PASSWORD": PASSWORD}
        later = n.service.chain.head.height + 50
        core = n.participant("core")
        try:
            core.act("propose", contract="governance", change={
                "kind": "set_policy", "name": "min_split_amount", "value": 20_000,
                "from_height": later})
        finally:
            core.close()
        words = runner.invoke(app, ["--keystore", str(keys["s1"]), "policies"], env=env)
        raw = runner.invoke(app, ["--keystore", str(keys["s1"]), "--json", "policies"], env=env)
    assert words.exit_code == 0, words.output
    assert "bank review needed past:" in words.output
    assert "a tenor of 120 days" in words.output
    assert "smallest split piece:" in words.output and "100.00 (in the" in words.output
    assert f"from block {later}:" in words.output
    assert "smallest split piece: 200.00" in words.output
    assert "highest financing rate:" in words.output and "24.00 % a year" in words.output
    assert raw.exit_code == 0, raw.output
    answer = json.loads(raw.output)
    assert answer["policies"]["review_tenor_days"] == {"value": 120, "from_height": 0}
    assert answer["scheduled"] == [{"name": "min_split_amount", "value": 20_000,
                                    "from_height": later}]
