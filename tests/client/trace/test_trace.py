"""`ledger trace`: a note's provenance with proofs, verified offline, and tampering caught.

One node plays the story of tests/client/lineage_story.py for the module;
the auditor's trace of the bank's unpaid rest runs issue -> split ->
financing -> payment.  Every tampering of a saved bundle must turn the
offline verdict to failed, and a trace that cannot reach the issuance (a
supplier deep in the tree may not read its ancestors' transactions) must
say it is incomplete rather than verified.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from client.audit.lineage import fetch_lineage_tree
from client.cli import app
from client.sdk.keystore import Identity, save_keystore
from client.trace.bundle import BUNDLE_FORMAT, build_trace
from client.trace.check import verify_bundle
from ledger.attestation import NodeInfo
from ledger.tx import parse_envelope
from tests.builders import make_orgs
from tests.client.lineage_story import DOCUMENT, StoryChain, build_story_chain
from tests.nodes import network_nodes, node_key, registered_node, running_node, write_genesis

PASSWORD = "trace-test-password"
Bundle = dict[str, Any]


@dataclass(frozen=True)
class Traced:
    """The module's story, the auditor's bundle of the bank's rest, and s4's bundle of its own."""

    story: StoryChain
    bundle: Bundle
    partial: Bundle
    checkpoint: Bundle
    edges: dict[str, tuple[str, str | None]]


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traced]:
    with running_node(tmp_path_factory.mktemp("trace-node")) as n:
        story = build_story_chain(n)
        auditor, s4 = n.participant("auditor"), n.participant("s4")
        try:
            bundle = build_trace(auditor.node, story.notes["b1_rest"])
            partial = build_trace(s4.node, story.notes["s4_rest"])
            tree = fetch_lineage_tree(auditor.node, story.root)
            checkpoint = auditor.checkpoint()
        finally:
            auditor.close()
            s4.close()
    edges = {e.child: (e.action, e.date) for e in tree.edges}
    yield Traced(story, json.loads(json.dumps(bundle)), partial, checkpoint, edges)


def _actions(bundle: Bundle) -> list[str]:
    return [parse_envelope(t["envelope"]).body.action for t in bundle["transactions"]]


def test_an_auditors_trace_verifies_offline_back_to_the_issuance(traced: Traced) -> None:
    bundle, story = traced.bundle, traced.story
    assert bundle["format"] == BUNDLE_FORMAT
    assert [n["id"] for n in bundle["lineage"]] == [
        story.notes["b1_rest"], story.notes["b1"], story.notes["s1"], story.root]
    assert _actions(bundle) == ["issue", "transfer", "accept_terms", "pay"]
    assert bundle["checkpoint"] == traced.checkpoint  # copied whole
    assert all(t["inclusion"]["tree_size"] == traced.checkpoint["size"]
               for t in bundle["transactions"])
    issue = parse_envelope(bundle["transactions"][0]["envelope"]).body
    assert issue.args["trade"]["documents"] == [DOCUMENT]
    assert "terms" in bundle["transactions"][2]["financing"]
    verdict = verify_bundle(bundle)
    assert verdict.passed, verdict.failures
    assert verdict.complete and len(verdict.checks) > 20
    assert any("GET /v1/members" in t for t in verdict.trusted)


def test_the_tree_edges_carry_actions_and_block_dates(traced: Traced) -> None:
    notes = traced.story.notes
    assert traced.edges[notes["s2"]] == ("split", "2026-01-05")
    assert traced.edges[notes["s4"]] == ("transfer", "2026-01-07")
    assert traced.edges[notes["b1"]] == ("finance", "2026-01-10")
    assert traced.edges[notes["s3_rest"]] == ("settle", "2026-04-05")


def test_a_trace_that_cannot_reach_the_issuance_is_incomplete_not_verified(
        traced: Traced) -> None:
    partial = traced.partial  # s4 may not read the issuance nor s1's split
    assert _actions(partial) == ["transfer", "pay"]
    assert len(partial["missing"]) == 2
    verdict = verify_bundle(partial)
    assert not verdict.failures and not verdict.complete and not verdict.passed


def _note(bundle: Bundle, index: int) -> Bundle:
    return bundle["lineage"][index]  # type: ignore[no-any-return]


def _body(entry: Bundle, change: Callable[[Bundle], None]) -> None:
    body = json.loads(entry["envelope"]["body"])
    change(body)
    entry["envelope"]["body"] = json.dumps(body, separators=(",", ":"), sort_keys=True,
                                           ensure_ascii=False)


def _flip(text: str) -> str:
    return ("0" if text[0] != "0" else "1") + text[1:]


TAMPERINGS: dict[str, Callable[[Bundle], None]] = {
    "an issued amount": lambda b: _body(b["transactions"][0],
                                        lambda body: body["args"].update(amount=1)),
    "a transfer's payee": lambda b: _body(
        b["transactions"][1], lambda body: body["args"]["payments"][0].update(
            to=body["args"]["payments"][1]["to"])),
    "a signature": lambda b: b["transactions"][1]["envelope"]["signatures"][0].update(
        sig=b["transactions"][0]["envelope"]["signatures"][0]["sig"]),
    "a proof hash": lambda b: b["transactions"][2]["inclusion"]["proof"].__setitem__(
        0, _flip(b["transactions"][2]["inclusion"]["proof"][0])),
    "a leaf index": lambda b: b["transactions"][2]["inclusion"].update(leaf_index=0),
    "the checkpoint root": lambda b: b["checkpoint"].update(root=_flip(b["checkpoint"]["root"])),
    "the checkpoint size": lambda b: b["checkpoint"].update(size=b["checkpoint"]["size"] + 1),
    "a signer's key": lambda b: next(iter(b["keys"]["members"].values())).update(
        public_key=next(iter(reversed(b["keys"]["members"].values())))["public_key"]),
    "a note's amount": lambda b: _note(b, 2).update(amount=_note(b, 2)["amount"] + 100),
    "a note's holder": lambda b: _note(b, 2).update(holder=_note(b, 0)["holder"]),
    "a note's parent": lambda b: _note(b, 1).update(parent_id=_note(b, 3)["id"]),
    "a note's id": lambda b: _note(b, 0).update(id=_flip(_note(b, 0)["id"])),
    "a note's creator": lambda b: _note(b, 1).update(created_tx=_note(b, 0)["created_tx"]),
    "the traced note": lambda b: b.update(note=_note(b, 1)["id"]),
    "a foreign chain": lambda b: b["checkpoint"].update(chain_id="another-chain"),
    "an invalid transaction": lambda b: b["transactions"][1].update(valid=False),
    "the financing's event": lambda b: b["transactions"][2]["events"][0].update(
        note=_note(b, 3)["id"]),
}


@pytest.mark.parametrize("what", sorted(TAMPERINGS))
def test_any_tampering_of_a_saved_bundle_fails_verification(traced: Traced, what: str) -> None:
    bundle = copy.deepcopy(traced.bundle)
    TAMPERINGS[what](bundle)
    verdict = verify_bundle(bundle)
    assert verdict.failures and not verdict.passed


@pytest.mark.parametrize("drop", ["transactions", "keys"])
def test_a_bundle_missing_its_evidence_is_not_verified(traced: Traced, drop: str) -> None:
    bundle = copy.deepcopy(traced.bundle)
    if drop == "transactions":
        del bundle["transactions"][1]
    else:
        bundle["keys"]["members"] = {}
    assert not verify_bundle(bundle).passed


@pytest.mark.parametrize("garbage", [None, [], {"format": "ledger-trace/1"},
                                     {"format": "ledger-trace/1", "checkpoint": {},
                                      "transactions": [{"envelope": 3}], "lineage": "x"}])
def test_garbage_is_refused_without_raising(garbage: Any) -> None:
    verdict = verify_bundle(garbage)
    assert not verdict.passed and verdict.failures


# -- the command line ----------------------------------------------------------------------


def test_ledger_trace_writes_a_bundle_that_verifies_with_no_node(tmp_path: Path) -> None:
    runner = CliRunner()
    now = datetime.now(UTC).replace(microsecond=0)  # the CLI signs with the system clock
    with running_node(tmp_path, start=now - timedelta(minutes=1)) as n:
        story = build_story_chain(n, settle=False)
        keys = {}
        for name in ("auditor", "s4"):
            org = n.orgs[name]
            keys[name] = tmp_path / f"{name}.json"
            save_keystore(keys[name], Identity(org.uscc, org.name, org.key), PASSWORD)
        env = {"LEDGER_NODE": n.url, "LEDGER_PASSWORD": PASSWORD}
        full, part = tmp_path / "full.json", tmp_path / "part.json"
        told = runner.invoke(app, ["--keystore", str(keys["auditor"]), "trace",
                                   story.notes["b1"], "--out", str(full)], env=env)
        assert told.exit_code == 0, told.output
        for expected in ("issued", "split", "financed", "INV-", DOCUMENT["sha256"],
                         "net proceeds", "signed by", "verified"):
            assert expected in told.output, expected
        as_json = runner.invoke(app, ["--keystore", str(keys["s4"]), "--json", "trace",
                                      story.notes["s4"], "--out", str(part)], env=env)
        assert as_json.exit_code == 0, as_json.output
        assert json.loads(as_json.output)["missing"]
    offline = {"LEDGER_NODE": "http://127.0.0.1:9"}  # the node is gone: nothing to ask
    checked = runner.invoke(app, ["trace", "--verify", str(full)], env=offline)
    assert checked.exit_code == 0, checked.output
    assert "verified" in checked.output and "trusted" in checked.output
    incomplete = runner.invoke(app, ["trace", "--verify", str(part)], env=offline)
    assert incomplete.exit_code == 1 and "incomplete" in incomplete.output
    bundle = json.loads(full.read_text(encoding="utf-8"))
    bundle["checkpoint"]["root"] = _flip(bundle["checkpoint"]["root"])
    full.write_text(json.dumps(bundle), encoding="utf-8")
    forged = runner.invoke(app, ["--json", "trace", "--verify", str(full)], env=offline)
    assert forged.exit_code == 1
    assert json.loads(forged.output)["passed"] is False


# -- a chain whose checkpoints are signed by its registered node ---------------------------


@pytest.fixture(scope="module")
def signed_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("trace-signed")


@pytest.fixture(scope="module")
def signed_bundle(signed_folder: Path) -> Bundle:
    with registered_node(signed_folder, 1) as n:
        story = build_story_chain(n, settle=False)
        auditor = n.participant("auditor")
        try:
            bundle = build_trace(auditor.node, story.notes["b1"])
        finally:
            auditor.close()
    return json.loads(json.dumps(bundle))  # type: ignore[no-any-return]


def test_a_bundle_carries_a_cosigned_checkpoint_and_the_verifier_checks_it(
        signed_bundle: Bundle) -> None:
    assert isinstance(signed_bundle["checkpoint"]["checkpoint"], str)
    verdict = verify_bundle(signed_bundle)
    assert verdict.passed, verdict.failures
    checked = [c for c in verdict.checks if c.subject == "checkpoint"]
    assert len(checked) == 1 and "cosigned by node1" in checked[0].detail
    pinned = {n.id: n for n in network_nodes(1)}
    assert verify_bundle(signed_bundle, pinned).passed


def test_a_forged_checkpoint_signature_or_other_pinned_nodes_fail_the_trace(
        signed_bundle: Bundle) -> None:
    forged = copy.deepcopy(signed_bundle)
    note = forged["checkpoint"]["checkpoint"]
    cut = note.rindex(" ") + 6
    forged["checkpoint"]["checkpoint"] = note[:cut] + ("A" if note[cut] != "A" else "B") + \
        note[cut + 1:]
    failures = verify_bundle(forged).failures
    assert [c.subject for c in failures] == ["checkpoint"]
    strangers = {"node1": NodeInfo("node1", network_nodes(1)[0].org, node_key(7).public_key)}
    assert not verify_bundle(signed_bundle, strangers).passed
    other_size = copy.deepcopy(signed_bundle)
    other_size["checkpoint"]["height"] += 1
    assert "differ from its signed note" in verify_bundle(other_size).failures[0].detail


def test_ledger_trace_verify_pins_the_cosigners_from_a_genesis(
        signed_bundle: Bundle, signed_folder: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    saved = tmp_path / "bundle.json"
    saved.write_text(json.dumps(signed_bundle), encoding="utf-8")
    offline = {"LEDGER_NODE": "http://127.0.0.1:9"}
    pinned = runner.invoke(app, ["--json", "trace", "--verify", str(saved), "--genesis",
                                 str(signed_folder / "genesis.json")], env=offline)
    assert pinned.exit_code == 0, pinned.output
    assert "cosigning nodes' keys: pinned by the verifier" in pinned.output
    other = tmp_path / "other-genesis.json"
    write_genesis(other, make_orgs(), nodes=[NodeInfo("node1", network_nodes(1)[0].org,
                                                      node_key(7).public_key)])
    refused = runner.invoke(app, ["trace", "--verify", str(saved), "--genesis", str(other)],
                            env=offline)
    assert refused.exit_code == 1
    missing = runner.invoke(app, ["trace", "--verify", str(saved), "--genesis",
                                  str(tmp_path / "absent.json")], env=offline)
    assert missing.exit_code == 2 and "cannot read the genesis" in missing.output
