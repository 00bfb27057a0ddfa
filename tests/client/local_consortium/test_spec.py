"""`ledger consortium init --spec`: a consortium of its own organisations, or a clear refusal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from client.cli import app
from client.local_consortium.consortium import DEFAULT_CAST
from client.local_consortium.launcher import free_port, node_command
from client.local_consortium.network import NODE_ORGS
from client.local_consortium.spec import (
    SpecError,
    example_spec,
    example_spec_text,
    load_spec,
)
from ledger.genesis import Genesis
from ledger.membership import is_valid_uscc, make_uscc

PASSWORD = "spec-test-password"
CORE, SUPPLIER, BANK, AUDITOR = (make_uscc(f"9144030{n}MA5F0000{n}") for n in range(1, 5))
SPEC = f"""
[[organisation]]
alias = "maker"
name = "深圳整机制造有限公司 (Shenzhen Assembly)"
uscc = "{CORE}"
roles = ["core_enterprise"]
node = true

[[organisation]]
alias = "parts"
name = "Dongguan Parts Co."
uscc = "{SUPPLIER}"
roles = ["supplier"]

[[organisation]]
alias = "lender"
name = "Pearl River Bank"
uscc = "{BANK}"
roles = ["bank"]
node = true

[[organisation]]
alias = "checker"
name = "Audit & Co."
uscc = "{AUDITOR}"
roles = ["auditor"]
node = false
"""


def _init(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--password", PASSWORD, "--json", "consortium", "init",
                                    *args])


def _said(result: Result) -> str:
    """Return what the command printed, as one line (rich wraps long lines)."""
    return " ".join(result.output.split())


def _spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_init_from_a_spec_founds_exactly_its_organisations_and_nodes(tmp_path: Path) -> None:
    target = tmp_path / "mine"
    result = _init(tmp_path, str(target), "--spec", str(_spec(tmp_path, SPEC)),
                   "--chain-id", "pearl-river")
    assert result.exit_code == 0, result.output
    made = json.loads((target / "consortium.json").read_text(encoding="utf-8"))
    assert made["chain_id"] == "pearl-river"
    assert {alias: (o["uscc"], o["roles"]) for alias, o in made["orgs"].items()} == {
        "maker": (CORE, ["core_enterprise"]), "parts": (SUPPLIER, ["supplier"]),
        "lender": (BANK, ["bank"]), "checker": (AUDITOR, ["auditor"])}
    assert made["orgs"]["maker"]["name"] == "深圳整机制造有限公司 (Shenzhen Assembly)"
    genesis = Genesis.from_json(json.loads((target / "genesis.json").read_text()))
    args = json.loads(genesis.transaction.body_bytes)["args"]
    assert sorted(m["uscc"] for m in args["members"]) == sorted([CORE, SUPPLIER, BANK, AUDITOR])
    assert [(n["id"], n["org"]) for n in args["nodes"]] == [("node-maker", CORE),
                                                             ("node-lender", BANK)]
    assert sorted(p.name for p in (target / "nodes").glob("*.key")) == ["lender.key",
                                                                       "maker.key"]
    assert json.loads(result.output)["nodes"] == ["node-maker", "node-lender"]


def test_the_node_toml_of_a_spec_with_nodes_runs_its_first_node(tmp_path: Path) -> None:
    """On a chain with registered nodes only a registered node may sign batches."""
    target = tmp_path / "mine"
    assert _init(tmp_path, str(target), "--spec", str(_spec(tmp_path, SPEC))).exit_code == 0
    port = free_port()
    log = (tmp_path / "node.log").open("wb")
    node = subprocess.Popen(node_command("serve", "--config", str(target / "node.toml"),
                                         "--port", str(port)), stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_for_health(url, node)
        env = {"LEDGER_NODE": url, "LEDGER_PASSWORD": PASSWORD}

        def ledger(alias: str, *args: str) -> Any:
            keystore = str(target / "keys" / f"{alias}.json")
            done = CliRunner().invoke(app, ["--keystore", keystore, "--json", *args], env=env)
            assert done.exit_code == 0, done.output
            return json.loads(done.output)

        assert ledger("checker", "status")["node_id"] == "node-maker"
        expiry = (datetime.now(UTC) + timedelta(days=300)).date().isoformat()
        ledger("lender", "credit-line", "--core", CORE, "--limit", "1,000.00", "--expiry",
               expiry, "--out", str(tmp_path / "line.json"))
        granted = ledger("maker", "cosign", str(tmp_path / "line.json"))
        assert granted["status"] == "committed" and granted["height"] == 1  # a signed batch
    finally:
        node.terminate()
        node.wait(timeout=10)
        log.close()


def _wait_for_health(url: str, node: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        assert node.poll() is None, "the node exited during start-up"
        try:
            if httpx.get(url + "/v1/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("the node did not answer")


def test_init_without_a_spec_founds_the_example_consortium_with_stable_usccs(
        tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    assert _init(tmp_path, str(first)).exit_code == 0
    assert _init(tmp_path, str(second)).exit_code == 0
    orgs = [json.loads((d / "consortium.json").read_text())["orgs"] for d in (first, second)]
    example = example_spec()
    assert {a: o["uscc"] for a, o in orgs[0].items()} == {
        o.alias: o.uscc for o in example.organisations}
    assert orgs[0] == orgs[1]
    assert (first / "keys" / "core.json").read_bytes() != (second / "keys" / "core.json") \
        .read_bytes()  # the same organisations, each consortium with its own keys
    assert all(is_valid_uscc(o.uscc) for o in example.organisations)


def test_the_example_spec_is_the_cast_the_network_and_the_demo_found() -> None:
    example = example_spec()
    assert example.organisations == DEFAULT_CAST
    assert example.node_aliases == NODE_ORGS  # `network up` runs nodes for exactly these
    printed = CliRunner().invoke(app, ["consortium", "example-spec"])
    assert printed.exit_code == 0 and printed.output == example_spec_text()


BROKEN = {
    "not TOML": ("[[organisation]\nalias = 1", "is not valid TOML"),
    "no organisations": ("# nothing\n", "no organisations"),
    "unknown top-level key": ('chain = "x"\n' + SPEC, "unknown top-level key(s) 'chain'"),
    "organisation not a table": ('organisation = ["core"]\n', "organisation 1 is not a table"),
    "duplicate USCC": (SPEC.replace(SUPPLIER, CORE), f"uscc '{CORE}' is given twice"),
    "duplicate alias": (SPEC.replace('"parts"', '"maker"'), "alias 'maker' is given twice"),
    "bad check character": (SPEC.replace(BANK, BANK[:-1] + ("0" if BANK[-1] != "0" else "1")),
                            "check character"),
    "USCC of the wrong length": (SPEC.replace(BANK, BANK[:-2]), "has 16 characters"),
    "USCC outside the alphabet": (SPEC.replace(BANK, "I" + BANK[1:]),
                                  "outside the GB 32100 alphabet"),
    "unknown role": (SPEC.replace('["bank"]', '["bank", "regulator"]'),
                     "unknown role(s) 'regulator'"),
    "no roles": (SPEC.replace('["bank"]', "[]"), "roles must be a non-empty list"),
    "no bank": (SPEC.replace('["bank"]', '["supplier"]'), "no organisation has the role 'bank'"),
    "no core enterprise": (SPEC.replace('["core_enterprise"]', '["supplier"]'),
                           "no organisation has the role 'core_enterprise'"),
    "no auditor": (SPEC.replace('["auditor"]', '["bank"]'),
                   "no organisation has the role 'auditor'"),
    "node not a boolean": (SPEC.replace("node = false", 'node = "yes"'),
                           "node must be true or false"),
    "missing name": (SPEC.replace('name = "Pearl River Bank"\n', ""), "missing name"),
    "empty name": (SPEC.replace('"Pearl River Bank"', '"  "'), "name must be"),
    "bad alias": (SPEC.replace('"parts"', '"../parts"'), "alias '../parts' must be"),
    "unknown key": (SPEC.replace("node = false", "nodes = false"), "unknown key(s) 'nodes'"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_spec_is_refused_naming_the_problem_and_nothing_is_written(
        tmp_path: Path, case: str) -> None:
    text, expected = BROKEN[case]
    target = tmp_path / "mine"
    result = _init(tmp_path, str(target), "--spec", str(_spec(tmp_path, text)))
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # a message, not a traceback
    assert expected in _said(result), result.output
    assert not target.exists()


def test_every_problem_of_a_spec_is_named_at_once(tmp_path: Path) -> None:
    text = SPEC.replace(BANK, CORE).replace('["auditor"]', '["janitor"]')
    with pytest.raises(SpecError) as refused:
        load_spec(_spec(tmp_path, text))
    message = str(refused.value)
    assert "'janitor'" in message and f"uscc '{CORE}' is given twice" in message
    assert "no organisation has the role" not in message  # the auditor's roles are mistyped
    text = SPEC.replace(BANK, CORE).replace('["auditor"]', '["bank"]')
    with pytest.raises(SpecError) as refused:
        load_spec(_spec(tmp_path, text))
    assert "given twice" in str(refused.value) and "'auditor'" in str(refused.value)


def test_a_missing_or_unreadable_spec_is_refused_cleanly(tmp_path: Path) -> None:
    missing = _init(tmp_path, str(tmp_path / "a"), "--spec", str(tmp_path / "nope.toml"))
    assert missing.exit_code == 2 and isinstance(missing.exception, SystemExit)
    assert "cannot read the consortium spec" in _said(missing)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe[[organisation]]")
    result = _init(tmp_path, str(tmp_path / "b"), "--spec", str(binary))
    assert result.exit_code == 2 and "is not UTF-8 text" in _said(result)


def test_an_existing_folder_is_refused_cleanly(tmp_path: Path) -> None:
    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("mine")
    result = _init(tmp_path, str(used))
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert "is not empty" in _said(result)
    assert sorted(p.name for p in used.iterdir()) == ["notes.txt"]
    made = tmp_path / "made"
    assert _init(tmp_path, str(made)).exit_code == 0
    again = _init(tmp_path, str(made))
    assert again.exit_code == 2 and "already holds a consortium" in _said(again)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert "is not a folder" in _said(_init(tmp_path, str(a_file)))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _init(tmp_path, str(empty)).exit_code == 0


def test_a_bad_chain_id_is_refused_cleanly(tmp_path: Path) -> None:
    result = _init(tmp_path, str(tmp_path / "c"), "--chain-id", "a\nb" + "x" * 60)
    assert result.exit_code == 2 and "--chain-id" in _said(result)
    assert not (tmp_path / "c").exists()


def test_the_ledger_command_prints_no_traceback_for_a_broken_spec(tmp_path: Path) -> None:
    spec = _spec(tmp_path, SPEC.replace(SUPPLIER, CORE))
    env = {**os.environ, "LEDGER_PASSWORD": PASSWORD}
    done = subprocess.run([sys.executable, "-m", "client", "consortium", "init",
                           str(tmp_path / "c"), "--spec", str(spec)], capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "is given twice" in done.stderr
