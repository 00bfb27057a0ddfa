"""Every `ledger` command fed broken input: a message naming the problem, never a traceback.

The sweep walks the command tree itself, so a command added later is swept
too: each of its parameters in turn gets broken values (the others good
ones, naming real records of a real node), and the run must end with a
one-line error (exit status 1 or 2) that is not the "unexpected failure"
the CLI reports for its own bugs.  The named cases are the mistakes a user
made in the issue that asked for this (issue 15).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer.main

from client.cli import app, main
from client.sdk.keystore import Identity, save_keystore
from client.sdk.participant import Participant
from tests.nodes import RunningNode, running_node

PASSWORD = "broken-input-password"
TOOLING = {"demo", "bench", "consortium", "node", "network",  # start processes: swept below
           "console"}  # and tests/client/console/test_console_cli.py


@dataclass
class Said:
    """What one run of the CLI printed and how it ended."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return " ".join((self.out + " " + self.err).split())


def ledger(args: Sequence[str], env: dict[str, str]) -> Said:
    """Run the `ledger` entry point in this process, as the console script does."""
    out, err = io.StringIO(), io.StringIO()
    saved_argv, saved_env = sys.argv, dict(os.environ)
    sys.argv = ["ledger", *args]
    os.environ.update(env)
    code = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = saved_argv
        os.environ.clear()
        os.environ.update(saved_env)
    return Said(code, out.getvalue(), err.getvalue())


def assert_clean_refusal(said: Said, args: Sequence[str]) -> None:
    """The run failed with a message, not a traceback or an internal error."""
    assert "Traceback" not in said.out + said.err, (args, said)
    assert "unexpected failure" not in said.text, (args, said)
    assert said.code in (1, 2), (args, said)
    assert said.err.strip(), (args, said)


@dataclass
class World:
    """A running node with records of every kind, and the keystores that see them."""

    node: RunningNode
    keys: dict[str, Path]
    good: dict[str, str]
    files: dict[str, Path]

    def env(self, who: str = "s1") -> dict[str, str]:
        return {"LEDGER_NODE": self.node.url, "LEDGER_PASSWORD": PASSWORD,
                "LEDGER_KEYSTORE": str(self.keys[who])}


def _records(node: RunningNode, keys: dict[str, Path], today: datetime) -> dict[str, str]:
    """Make a credit line, a credential (accepted), a note and a financing; return their ids."""
    from client.sdk.keystore import load_keystore

    me = {who: Participant(node.url, load_keystore(path, PASSWORD)) for who, path in keys.items()}
    orgs = node.orgs
    prepared = me["core"].cosign(me["b1"].propose_credit_line(
        core=orgs["core"].uscc, limit=10_000_000_00, currency="CNY",
        expiry_date=(today + timedelta(days=300)).date().isoformat()))
    granted = me["b1"].submit([prepared.envelope()])[0]
    line = me["b1"].transaction(granted["tx_id"])["events"][0]["credit_line"]
    maturity = (today + timedelta(days=60)).date().isoformat()
    issued = me["core"].issue(credit_line=line, to=orgs["s1"].uscc, amount=1_000_000_00,
                              currency="CNY", maturity_date=maturity, contract_no="PO-B",
                              invoices=[{"seller": orgs["s1"].uscc, "number": "INV-B",
                                         "amount": 1_000_000_00, "allocated": 1_000_000_00}])
    root = issued["events"][0]["receivable"]
    me["s1"].accept(root)
    paid = me["s1"].transfer(root, [(orgs["s2"].uscc, 200_000_00)])
    outputs = paid["events"][0]["outputs"]
    kept = next(o["note"] for o in outputs if o["holder"] == orgs["s1"].uscc)
    asked = me["s1"].request_financing(kept, orgs["b1"].uscc)
    for p in me.values():
        p.close()
    return {"credit_line": line, "receivable": root, "note": kept,
            "financing": asked["events"][0]["financing"], "tx": paid["tx_id"],
            "maturity": maturity}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("broken")
    now = datetime.now(UTC).replace(microsecond=0)
    with running_node(tmp, start=now - timedelta(minutes=1)) as node:
        keys = {}
        for who in ("core", "s1", "s2", "b1", "auditor"):
            org = node.orgs[who]
            keys[who] = tmp / f"{who}.json"
            save_keystore(keys[who], Identity(org.uscc, org.name, org.key), PASSWORD)
        ids = _records(node, keys, now)
        files = {"text": tmp / "notes.txt", "dir": tmp, "missing": tmp / "missing.json",
                 "cert": tmp / "member.crt"}
        files["text"].write_text("not json\n", encoding="utf-8")
        files["cert"].write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                                 encoding="utf-8")
        orgs = node.orgs
        good = {
            "note": ids["note"], "note_id": ids["note"], "receivable": ids["receivable"],
            "root_id": ids["receivable"], "financing": ids["financing"],
            "credit_line": ids["credit_line"], "tx_id": ids["tx"],
            "core": orgs["core"].uscc, "to": orgs["s2"].uscc, "bank": orgs["b1"].uscc,
            "counterparty": orgs["b1"].uscc, "issuer": orgs["core"].uscc,
            "amount": "100.00", "limit": "1,000.00", "fees": "0",
            "maturity": ids["maturity"], "expiry": ids["maturity"],
            "funding_date": now.date().isoformat(), "rate_percent": "2.00",
            "maturity_from": "2020-01-01", "maturity_to": "2099-01-01",
            "expiry_from": "2020-01-01", "expiry_to": "2099-01-01",
            "contract_no": "PO-X", "invoice": "INV-X:100.00", "pay": f"{orgs['s2'].uscc}:100.00",
            "reference": "REF-1", "payment_ref": "REF-1", "reason": "court order",
            "out": str(tmp / "out.json"), "prepared": str(files["text"]),
            "within_days": "30", "limit_rows": "10", "status": "active", "role": "held",
            "fee_payer": "seller", "name": "Someone", "uscc": orgs["s3"].uscc,
        }
        yield World(node, keys, good, files)


BROKEN_IDS = ("", "xyz", "1234", "12345678", "f" * 64, "g" * 64, "0" * 65)
BROKEN_ORGS = ("", "nobody at all", "910000000000000000", "S")
BROKEN_AMOUNTS = ("", "1,00,000", "-1000", "0", "1.234", "abc", "1e5", "١٢٣")
BROKEN_DATES = ("", "2026-13-01", "tomorrow", "2026-1-1", "2026-02-30")
KINDS = {
    "note": BROKEN_IDS, "note_id": BROKEN_IDS, "receivable": BROKEN_IDS, "root_id": BROKEN_IDS,
    "financing": BROKEN_IDS, "credit_line": BROKEN_IDS, "tx_id": BROKEN_IDS,
    "core": BROKEN_ORGS, "to": BROKEN_ORGS, "bank": BROKEN_ORGS, "counterparty": BROKEN_ORGS,
    "issuer": BROKEN_ORGS,
    "amount": BROKEN_AMOUNTS, "limit": BROKEN_AMOUNTS, "fees": ("", "1,00,000", "-1000", "abc"),
    "maturity": BROKEN_DATES, "expiry": BROKEN_DATES, "funding_date": BROKEN_DATES,
    "maturity_from": BROKEN_DATES, "maturity_to": BROKEN_DATES[:3],
    "rate_percent": ("", "abc", "-1", "2,5", "1e2", "0.123456"),
    "invoice": ("INV1", "INV-1", ":100", "INV:1,00,000", "INV:100:abc", "a:b:c:d"),
    "pay": ("", "nobody:100", "100", "S2", ":100"),
    "within_days": ("0", "-1", "abc", "400"),
    "status": ("bogus", ""), "role": ("bogus",), "fee_payer": ("nobody",),
}


def _leaf_commands() -> Iterator[tuple[list[str], Any]]:
    """Yield (path, command) for every command that talks to a node or reads files."""
    def walk(path: list[str], command: Any) -> Iterator[tuple[list[str], Any]]:
        children = getattr(command, "commands", None)
        if children is None:
            yield path, command
            return
        for name, child in sorted(children.items()):
            if not path and name in TOOLING:
                continue
            yield from walk([*path, name], child)

    yield from walk([], typer.main.get_group(app))


def _argv(path: list[str], command: Any, good: dict[str, str], broken: tuple[str, str] | None
          ) -> list[str] | None:
    """Return a command line with good values, one of them replaced by a broken one."""
    args: list[str] = [*path]
    for param in command.params:
        key = "limit_rows" if param.name == "limit" and path[0] != "credit-line" else param.name
        value = broken[1] if broken and broken[0] == param.name else good.get(key)
        if param.param_type_name == "argument":
            if value is None:
                return None
            args.append(value)
        elif param.required or (broken and broken[0] == param.name):
            if value is None:
                return None
            args += [param.opts[0], value]
    return args


def _cases() -> Iterator[tuple[list[str], Any, tuple[str, str]]]:
    for path, command in _leaf_commands():
        for param in command.params:
            for value in KINDS.get(param.name or "", ()):
                yield path, command, (param.name, value)


def test_the_sweep_covers_every_command_with_an_id_amount_date_or_organisation() -> None:
    swept = {" ".join(path) for path, _, _ in _cases()}
    for expected in ("accept", "issue", "transfer", "credit-line", "finance offer",
                     "finance accept", "receivable", "notes", "inbox", "pay", "tx"):
        assert expected in swept


@pytest.mark.parametrize("case", list(_cases()),
                         ids=lambda c: f"{' '.join(c[0])}:{c[2][0]}={c[2][1]!r}")
def test_broken_values_are_refused_with_a_message(
        world: World, case: tuple[list[str], Any, tuple[str, str]]) -> None:
    path, command, broken = case
    who = "core" if path[0] in ("issue", "pay", "withdraw", "cosign") else (
        "b1" if path[:2] in (["finance", "offer"], ["finance", "confirm"]) or
        path[0] == "credit-line" else "s1")
    args = _argv(path, command, world.good, broken)
    assert args is not None, f"no good value for a parameter of {path}"
    said = ledger(args, world.env(who))
    assert_clean_refusal(said, args)


# -- the mistakes named in issue 15 -------------------------------------------------------


def test_cosigning_as_an_organisation_that_is_not_a_signer_says_who_must_sign(
        world: World, tmp_path: Path) -> None:
    prepared = tmp_path / "line.json"
    made = ledger(["credit-line", "--core", world.good["core"], "--limit", "1,000.00",
                   "--expiry", world.good["expiry"], "--out", str(prepared)], world.env("b1"))
    assert made.code == 0, made
    said = ledger(["cosign", str(prepared)], world.env("s1"))
    assert_clean_refusal(said, ["cosign"])
    assert "are not a signer" in said.text and world.node.orgs["core"].name in said.text


def test_a_certificate_given_as_the_keystore_is_named_as_not_a_keystore(world: World) -> None:
    said = ledger(["--keystore", str(world.files["cert"]), "status"], world.env())
    assert_clean_refusal(said, ["status"])
    assert "keystore" in said.text and "Expecting value" not in said.text


def test_a_stopped_node_gets_a_hint_to_start_one(world: World) -> None:
    env = {**world.env(), "LEDGER_NODE": "http://127.0.0.1:9"}  # discard port: nobody listens
    said = ledger(["status"], env)
    assert_clean_refusal(said, ["status"])
    assert "cannot reach the node" in said.text and "ledger node start" in said.text


def test_an_https_node_without_tls_options_gets_the_options_named(world: World) -> None:
    env = {**world.env(), "LEDGER_NODE": world.node.url.replace("http://", "https://")}
    said = ledger(["status"], env)
    assert_clean_refusal(said, ["status"])
    assert "--tls-cert" in said.text


def test_a_wrongly_grouped_amount_is_refused_not_read_as_another(world: World) -> None:
    said = ledger(["credit-line", "--core", world.good["core"], "--limit", "1,00,000",
                   "--expiry", world.good["expiry"], "--out", world.good["out"]],
                  world.env("b1"))
    assert_clean_refusal(said, ["credit-line"])
    assert "1,00,000" in said.text


def test_a_non_auditor_running_audit_is_told_it_is_a_permission_not_a_failed_audit(
        world: World) -> None:
    said = ledger(["audit"], world.env("s1"))
    assert_clean_refusal(said, ["audit"])
    assert "only an auditor may audit" in said.text and "FAILED" not in said.text


def test_json_and_keystore_may_follow_the_subcommand(world: World) -> None:
    env = {k: v for k, v in world.env().items() if k != "LEDGER_KEYSTORE"}
    said = ledger(["notes", "--keystore", str(world.keys["s1"]), "--json"], env)
    assert said.code == 0, said
    assert said.out.lstrip().startswith("[")


def test_an_unknown_id_prefix_says_not_found_and_a_short_one_says_too_short(
        world: World) -> None:
    unknown = ledger(["accept", "0123abcd"], world.env())
    assert_clean_refusal(unknown, ["accept"])
    assert "credential 0123abcd… not found" in unknown.text
    short = ledger(["note", "0123"], world.env())
    assert "too short" in short.text and "at least 8" in short.text


def _tooling_cases(tmp: Path) -> list[tuple[list[str], str]]:
    """Broken tooling command lines, each with a word the refusal must contain."""
    used = tmp / "used"
    used.mkdir()
    (used / "something").write_text("kept\n")
    bad_spec = tmp / "bad.toml"
    bad_spec.write_text('[[organisation]]\nalias = "x"\nuscc = "123"\n', encoding="utf-8")
    missing = str(tmp / "missing")
    return [
        (["node", "start", "--config", f"{missing}/node.toml"], "node.toml"),
        (["network", "up", "--dir", str(tmp / "n1"), "--simulated-clock", "yesterday"],
         "simulated-clock"),
        (["network", "down", "--dir", missing], "missing"),
        (["consortium", "init", str(used)], "empty"),
        (["consortium", "init", str(tmp / "c1"), "--spec", f"{missing}/spec.toml"], "spec.toml"),
        (["consortium", "init", str(tmp / "c2"), "--spec", str(bad_spec)], "uscc"),
        (["demo", "--network", str(used / "something")], "something"),
        (["bench", "--seconds", "-3"], "seconds"),
        (["bench", "--clients", "0"], "clients"),
        (["bench", "--batch", "many"], "batch"),
        (["bench", "--rate", "0", "--network", missing], "rate"),
    ]


def test_tooling_commands_refuse_broken_input_with_a_message(tmp_path: Path) -> None:
    # Found by this test: `bench --seconds -3` and `--clients 0` ran a node, then failed with
    # "unexpected failure (StatisticsError...)"; `demo --network FILE` started a network first.
    # In a process of their own: what they start is stopped by process group.
    env = {**os.environ, "LEDGER_PASSWORD": PASSWORD}
    for args, word in _tooling_cases(tmp_path):
        run = subprocess.run([sys.executable, "-m", "client", *args], env=env, timeout=120,
                             capture_output=True, text=True, check=False)
        said = Said(run.returncode, run.stdout, run.stderr)
        assert_clean_refusal(said, args)
        assert word.lower() in said.text.lower(), (args, said)
    assert not (tmp_path / "n1").exists() and not (tmp_path / "c1").exists()
    assert sorted(p.name for p in (tmp_path / "used").iterdir()) == ["something"]
