"""`ledger audit` and `ledger export`: a clean chain passes from a file and from a node.

Also: the verifier process gives exactly the results of verifying inline (it
only says ahead of time what a signature check would find), a dead verifier
changes nothing but speed, a truncated or garbled file is a finding rather
than a crash, and a node on another history is caught by the cross-node
comparison at the first height where it differs.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from client.audit import audit_chain_file, audit_node, audit_source
from client.audit.replay import Replay
from client.audit.report import REPORT_FORMAT, AuditReport
from client.audit.tables import Conservation
from client.audit.verifier import ProcessVerifier
from client.cli import app
from client.sdk.keystore import Identity, save_keystore
from contracts import CONTRACTS
from ledger.blob_codec import pack, unpack
from ledger.canonical import canonical_bytes
from ledger.execution import Executor
from ledger.genesis import make_genesis
from ledger.timefmt import format_timestamp
from node.ordering import OrderedBatch
from node.pipeline.chain import Chain
from node.storage.chain_lines import export_database
from node.storage.hex_ids import hex_of
from node.storage.store import Store
from scripts.sample_chain import build_sample_chain
from tests.builders import START, build_tx, make_orgs
from tests.client.audit.chain_lines import Lines
from tests.node.support import FACE, grant_line
from tests.nodes import RunningNode, registered_node, running_node

PASSWORD = "audit-test-password"


def _story(n: RunningNode) -> None:
    """A credit line, a credential issued and accepted, a split: dated from the node's clock."""
    bank, core, s1 = (n.participant(who) for who in ("b1", "core", "s1"))
    today = n.clock.now().date()
    prepared = core.cosign(bank.propose_credit_line(
        core=core.uscc, limit=10 * FACE, currency="CNY",
        expiry_date=(today + timedelta(days=300)).isoformat()))
    status = bank.submit([prepared.envelope()])[0]
    line = bank.transaction(status["tx_id"])["events"][0]["credit_line"]
    issued = core.issue(credit_line=line, to=s1.uscc, amount=FACE, currency="CNY",
                        maturity_date=(today + timedelta(days=60)).isoformat(),
                        contract_no="PO-AUDIT", invoices=[{"seller": s1.uscc, "number": "INV-A",
                                                           "amount": FACE, "allocated": FACE}])
    root = issued["events"][0]["receivable"]
    s1.accept(root)
    s1.transfer(root, [(n.orgs["s2"].uscc, FACE // 4)])


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)


def test_the_report_is_plain_data_with_findings_and_statistics(chain_file: bytes) -> None:
    report = audit_source(Lines(chain_file), parallel=False)
    data = json.loads(json.dumps(report.to_json()))
    assert data["format"] == REPORT_FORMAT and data["passed"] is True
    assert set(data["statistics"]) >= {"blocks", "txs", "valid_txs", "invalid_txs",
                                       "signatures", "batches", "attestations", "notes",
                                       "receivables", "seconds", "tx_per_s"}
    assert data["chain"]["head_height"] == report.stats.blocks - 1
    assert data["statistics"]["invalid_txs"] >= 3 and data["findings"] == []


def test_the_verifier_process_changes_nothing_but_speed(chain_file: bytes) -> None:
    lines = chain_file.splitlines(keepends=True)
    block = next(i for i, line in enumerate(lines) if b'"height":9,' in line[:60])

    def flipped(anchor: bytes, offset: int) -> bytes:
        broken = bytearray(lines[block])
        broken[broken.index(anchor) + offset] ^= 0x01
        return b"".join(lines[:block]) + bytes(broken) + b"".join(lines[block + 1:])

    batch = flipped(b'"signature"', -40)  # inside the batch's base64
    envelope = flipped(b'"envelope":{"b64":"', 30)  # a stored transaction's envelope cell
    leaf = flipped(b'"leaf_hash":{"b64":"', 22)  # and a leaf hash cell
    for data in (chain_file, batch, envelope, leaf):
        inline = audit_source(Lines(data), parallel=False)
        ahead = audit_source(Lines(data), parallel=True)
        assert [str(f) for f in inline.findings] == [str(f) for f in ahead.findings]
        assert (inline.head_hash, inline.log_root) == (ahead.head_hash, ahead.log_root)
        assert inline.stats.signatures == ahead.stats.signatures
    assert audit_source(Lines(batch), parallel=False).findings
    (finding,) = audit_source(Lines(leaf), parallel=True).findings
    assert finding.check == "transaction" and "stored leaf_hash differs" in finding.message
    # An envelope is stored once (the kept batch is rebuilt from it), so the damaged one also
    # spoils the batch: the first finding names the transaction, the rest follow from it.
    first, *_ = audit_source(Lines(envelope), parallel=True).findings
    assert first.check == "batch" and "cannot be rebuilt" in first.message and first.tx


def test_a_dead_verifier_only_means_verifying_inline(chain_file: bytes) -> None:
    verifier = ProcessVerifier()
    verifier._process.kill()
    verifier._process.wait()
    for line in chain_file.splitlines(keepends=True)[1:4]:
        verifier.submit(line)
    assert [verifier.next().checked for _ in range(3)] == [0, 0, 0]
    verifier.close()


def test_a_cut_or_garbled_file_is_a_finding_not_a_crash(chain_file: bytes) -> None:
    lines = chain_file.splitlines(keepends=True)
    cut = audit_source(Lines(b"".join(lines[: len(lines) // 2])), parallel=False)
    assert any("cut short" in f.message for f in cut.findings)
    garbled = audit_source(Lines(b"".join([lines[0], b"{nonsense\n", *lines[1:]])),
                           parallel=False)
    assert any(f.check == "source" and "line 2" in f.message for f in garbled.findings)
    empty = audit_source(Lines(b""), parallel=False)
    assert not empty.passed and empty.findings


def test_a_note_row_with_a_value_only_equal_in_another_type_is_found(chain_file: bytes) -> None:
    """1.0 equals 1 and True equals 1 in Python; as stored cells they are not the note's."""
    lines = chain_file.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith(b'{"type":"rows"')
              and b'"table":"notes"' in line)
    record = json.loads(lines[at])
    row = record["rows"][0]
    for column, odd in (("amount", float(row["amount"])), ("height", float(row["height"])),
                        ("height", True) if row["height"] == 1 else ("amount", str(row["amount"]))):
        edited = {**record, "rows": [{**row, column: odd}, *record["rows"][1:]]}
        data = b"".join([*lines[:at], json.dumps(edited).encode() + b"\n", *lines[at + 1:]])
        report = audit_source(Lines(data), parallel=False)
        assert [(f.check, f.note) for f in report.findings] == [("note", row["id"])], \
            [str(f) for f in report.findings]
        assert f"stored {column} differs" in report.findings[0].message


def test_a_line_that_only_starts_like_a_block_line_is_reported_as_what_it_is(
        chain_file: bytes) -> None:
    """Block lines are parsed when their turn comes; one that is not a block still says so."""
    lines = chain_file.splitlines(keepends=True)
    for fake, expected in ((b'{"type":"block",nonsense\n', "line 3 is not a JSON object"),
                           (b'{"type":"block","type":"mystery"}\n', "unknown type 'mystery'")):
        report = audit_source(Lines(b"".join([*lines[:2], fake, *lines[2:]])), parallel=False)
        assert any(f.check == "source" and expected in f.message for f in report.findings), \
            [str(f) for f in report.findings]
        assert report.stats.blocks == len([line for line in lines
                                           if line.startswith(b'{"type":"block"')])


def test_a_clean_chain_audits_clean_from_a_node_and_from_its_exports(tmp_path: Path) -> None:
    with running_node(tmp_path, start=_now()) as n:  # the CLI signs with the system clock
        _story(n)
        report = audit_node(n.participant("auditor").node)
        assert report.passed, [str(f) for f in report.findings]
        assert report.stats.nodes_compared == 1
        assert report.stats.txs == n.service.chain.log.size
        assert report.log_root == n.service.chain.log.root().hex()
        assert report.head_hash == n.service.chain.head.hash()
        runner, env = _cli(tmp_path, n)
        out = tmp_path / "chain.jsonl"
        exported = runner.invoke(app, [*_as_auditor(tmp_path), "--json", "export", "--out",
                                       str(out)], env=env)
        assert exported.exit_code == 0, exported.output
        offline = tmp_path / "offline.jsonl"
        copied = runner.invoke(app, ["--json", "export", "--out", str(offline), "--database",
                                     f"sqlite:///{tmp_path / 'node.db'}"], env=env)
        assert copied.exit_code == 0, copied.output
        audited = runner.invoke(app, [*_as_auditor(tmp_path), "--json", "audit", "--node",
                                      n.url], env=env)
        assert audited.exit_code == 0, audited.output
        assert json.loads(audited.output)["statistics"]["tx_per_s"] > 0
    for path in (out, offline):
        from_file = audit_chain_file(path)
        assert from_file.passed, [str(f) for f in from_file.findings]
        assert from_file.head_hash == report.head_hash
        cli = runner.invoke(app, ["audit", "--chain", str(path)], env=env)
        assert cli.exit_code == 0, cli.output
        assert "audit PASSED" in cli.output and "transactions verified per second" in cli.output


def test_the_audit_fails_with_a_finding_naming_the_block(tmp_path: Path) -> None:
    with running_node(tmp_path) as n:
        _story(n)
    with sqlite3.connect(tmp_path / "node.db") as db:
        stored, envelope = db.execute("SELECT id, envelope FROM transactions WHERE height = 2"
                                      ).fetchone()
        db.execute("UPDATE transactions SET envelope = ? WHERE id = ?",
                   (pack(unpack(envelope).replace(b'"sig":"', b'"sig":"A', 1)), stored))
    tx_id = hex_of(stored)
    runner, env = _cli(tmp_path, None)
    out = tmp_path / "chain.jsonl"
    runner.invoke(app, ["export", "--out", str(out), "--database",
                        f"sqlite:///{tmp_path / 'node.db'}"], env=env)
    failed = runner.invoke(app, ["--json", "audit", "--chain", str(out)], env=env)
    assert failed.exit_code == 1
    findings = json.loads(failed.output)["findings"]
    # The envelope is stored once and the kept batch rebuilt from it, so the batch is spoilt
    # too: the first finding is at the block, and one names the transaction.
    assert (findings[0]["block"], findings[0]["check"]) == (2, "batch")
    assert {"block": 2, "tx": tx_id, "note": None, "check": "transaction",
            "message": f"a stored transaction row ({tx_id!r}) is not one this block's batch gives"
            } in findings


def test_a_node_on_another_history_is_caught_where_it_differs(tmp_path: Path) -> None:
    for side in ("a", "b"):
        (tmp_path / side).mkdir()
    with running_node(tmp_path / "a") as a, running_node(tmp_path / "b") as b:
        grant_line(a)
        grant_line(a)
        grant_line(b)
        out = io.BytesIO()
        export_database(f"sqlite:///{tmp_path / 'a' / 'node.db'}", out)
        report = audit_source(Lines(out.getvalue()), nodes=[b.participant("auditor").node])
    assert report.stats.nodes_compared == 1
    wrong = {(f.check, f.block) for f in report.findings}
    assert ("cross_node", 1) in wrong and ("cross_node", 0) not in wrong


def _cli(tmp_path: Path, n: RunningNode | None) -> tuple[CliRunner, dict[str, str]]:
    env = {"LEDGER_PASSWORD": PASSWORD, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    if n is not None:
        org = n.orgs["auditor"]
        save_keystore(tmp_path / "auditor.json", Identity(org.uscc, org.name, org.key), PASSWORD)
        env["LEDGER_NODE"] = n.url
    return CliRunner(), env


def _as_auditor(tmp_path: Path) -> list[str]:
    return ["--keystore", str(tmp_path / "auditor.json")]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_byte_flip_in_a_chain_file_is_found(chain_file: bytes, data: st.DataObject) -> None:
    """Past the header line (whose export time and source are provenance, not chain data)."""
    start = chain_file.index(b"\n") + 1
    position = data.draw(st.integers(start, len(chain_file) - 2), label="position")
    flipped = bytearray(chain_file)
    flipped[position] ^= data.draw(st.integers(1, 255), label="xor")
    report = audit_source(Lines(bytes(flipped)), parallel=False)
    assert report.findings, (position, chain_file[position - 30:position + 30])
    assert not any("could not check" in f.message for f in report.findings)


def test_an_attestation_column_of_another_name_is_found(chain_file: bytes) -> None:
    """CI's byte flip once made `state_signature` into `rtate_signature`: the state signature
    was then simply absent (as from a database that keeps none), and the audit passed."""
    flipped = chain_file.replace(b'"state_signature":{"b64"', b'"rtate_signature":{"b64"', 1)
    assert flipped != chain_file
    report = audit_source(Lines(flipped), parallel=False)
    assert any("'rtate_signature'" in f.message for f in report.findings), report.findings[:3]


def test_contract_code_other_than_the_pinned_is_reported_from_the_pinned_height(
    tmp_path: Path,
) -> None:
    orgs = make_orgs()
    pinned = "ab" * 32
    genesis = make_genesis("test-chain", START, {o.uscc: (o.member(), o.key)
                                                 for o in orgs.values()}, {},
                           contracts_hash=pinned)
    url = f"sqlite:///{tmp_path / 'node.db'}"
    chain = Chain(Store(url), genesis, Executor(CONTRACTS))
    line = build_tx(orgs, ["b1", "core"], "receivable", "grant_credit_line", {
        "bank": orgs["b1"].uscc, "core": orgs["core"].uscc, "limit": FACE, "currency": "CNY",
        "expiry_date": "2026-12-31"}, now=START)
    chain.apply_batch(OrderedBatch(1, orjson.dumps({
        "chain_id": "test-chain", "proposer": "n1", "time": format_timestamp(START),
        "txs": [line.to_json()]})))
    chain.store.close()
    out = io.BytesIO()
    export_database(url, out)
    report = audit_source(Lines(out.getvalue()), parallel=False)
    [finding] = report.findings
    assert (finding.check, finding.block) == ("contract_code", 1)
    assert pinned in finding.message and report.contract_code in finding.message


def test_conservation_names_the_receivable_whose_notes_do_not_add_up() -> None:
    replay = Replay(AuditReport())
    root, leaf = "a" * 64, "b" * 64
    records = {
        f"receivable/{root}": {"status": "active", "face": 100, "paid": 0, "live": [leaf]},
        f"note/{leaf}": {"id": leaf, "root_id": root, "amount": 60, "status": "active"},
    }
    replay.state.apply({k: canonical_bytes(v) for k, v in records.items()}, 7)
    replay.last_writer[f"receivable/{root}"] = (7, "c" * 64)
    Conservation(replay.report, replay).check()
    [finding] = replay.report.findings
    assert (finding.check, finding.block, finding.tx, finding.note) == (
        "conservation", 7, "c" * 64, root)
    assert "live notes 60 + cleared 0 != face 100" in finding.message


def test_every_checkpoint_cosignature_is_checked_against_the_rebuilt_log(
        tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "node.db"
    build_sample_chain(f"sqlite:///{path}", transactions=60, lanes=10)
    clean = io.BytesIO()
    export_database(f"sqlite:///{path}", clean)
    report = audit_source(Lines(clean.getvalue()), parallel=False)
    assert report.passed
    assert report.stats.checkpoint_signatures == report.stats.attestations > 0
    with sqlite3.connect(path) as db:  # a genuine signature of node1, over the block before
        (earlier,) = db.execute("SELECT note_signature FROM attestations WHERE height = 2 "
                                "AND node_id = 'node1'").fetchone()
        db.execute("UPDATE attestations SET note_signature = ? WHERE height = 3 "
                   "AND node_id = 'node1'", (earlier,))
    moved = io.BytesIO()
    export_database(f"sqlite:///{path}", moved)
    findings = audit_source(Lines(moved.getvalue()), parallel=False).findings
    assert [(f.check, f.block) for f in findings] == [("checkpoint", 3)]
    assert "node1's signature over the checkpoint of block 3" in findings[0].message


def test_an_attestation_row_without_its_checkpoint_signature_column_is_found(
        chain_file: bytes) -> None:
    """A NULL cosignature is an attestation from before checkpoints; no column is tampering."""
    lines = chain_file.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith(b'{"type":"block"')
              and b'"note_signature":{"b64"' in line)
    renamed = lines[at].replace(b'"note_signature":', b'"oote_signature":', 1)
    report = audit_source(Lines(b"".join([*lines[:at], renamed, *lines[at + 1:]])),
                          parallel=False)
    block = json.loads(lines[at])["block"]["height"]
    assert [(f.check, f.block) for f in report.findings] == [("certificate", block),
                                                             ("checkpoint", block)]
    assert "format does not name: 'oote_signature'" in report.findings[0].message
    assert "has no note_signature column" in report.findings[1].message


def test_a_compared_nodes_signed_checkpoint_must_be_cosigned_by_the_rebuilt_registry(
        tmp_path: Path) -> None:
    from client.audit.cross import _signed
    from client.audit.engine import Engine
    from ledger.checkpoint import parse_signed_checkpoint, sign_checkpoint
    from tests.nodes import node_key

    with registered_node(tmp_path, 1) as n:
        grant_line(n)
        served = n.participant("auditor").checkpoint()
        out = io.BytesIO()
        export_database(f"sqlite:///{tmp_path / 'node.db'}", out)
    report = AuditReport()
    engine = Engine(report)
    engine.run(iter(io.BytesIO(out.getvalue())))
    assert report.passed and served["cosigners"] == ["node1"]

    def findings_for(checkpoint: dict[str, Any]) -> list[str]:
        checked = AuditReport()
        _signed(checked, engine.replay, "n", checkpoint, int(checkpoint["height"]))
        return [f.message for f in checked.findings]

    assert findings_for(served) == []
    signed = parse_signed_checkpoint(served["checkpoint"])
    impostor = sign_checkpoint(signed.checkpoint, "node1", node_key(2))  # not node1's key
    forged = type(signed)(signed.checkpoint, (impostor,)).encode()
    assert "signed checkpoint" in findings_for({**served, "checkpoint": forged})[0]
    assert "other than its plain fields" in findings_for({**served, "size": served["size"] + 1})[0]


def test_table_findings_come_in_the_same_order_when_compared_in_a_forked_copy(
        chain_file: bytes) -> None:
    lines = chain_file.splitlines(keepends=True)
    cut = []
    for line in lines:  # drop the first row of every page of stored table rows
        record = json.loads(line)
        if record.get("type") == "rows" and isinstance(record.get("rows"), list):
            record["rows"] = record["rows"][1:]
            line = json.dumps(record, separators=(",", ":")).encode() + b"\n"
        cut.append(line)
    data = b"".join(cut)
    inline = audit_source(Lines(data), parallel=False)
    ahead = audit_source(Lines(data), parallel=True)
    assert {f.check for f in inline.findings} >= {"state", "note", "party", "nonce"}
    assert [str(f) for f in inline.findings] == [str(f) for f in ahead.findings]
