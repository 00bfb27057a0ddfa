"""Snapshots: taken at a final head, restored into an empty database only if they verify.

A node restored from a network node's snapshot serves the same holdings and
inclusion proofs (of transactions below the snapshot too) that verify
against a quorum-cosigned checkpoint, answers 410 for what it no longer
holds, and follows the chain from there.  A forged snapshot (a state value,
a header, a cosignature) is refused with a message naming the problem, and
nothing is written.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from client.local_consortium.launcher import free_port
from client.sdk.http import NodeError
from client.sdk.proofs import verify_tx_inclusion
from ledger.canonical import parse_json
from ledger.checkpoint import check_cosigned, parse_signed_checkpoint
from ledger.genesis import Genesis
from ledger.signed_note import SignedNote, parse_note
from ledger.snapshot import SnapshotRefused
from node.__main__ import main as node_main
from node.snapshot.restore import fill, restore, verify
from node.snapshot.take import take_snapshot
from node.storage.store import Store
from scripts.sample_chain import build_sample_chain, sample_genesis
from tests.node.support import grant_line, issue_accepted
from tests.nodes import network_node, running_network, wait_until_final, wait_until_level

Lines = list[dict[str, Any]]


@pytest.fixture(scope="module")
def sample_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the snapshot of a small sample chain (two registered nodes attest every block)."""
    folder = tmp_path_factory.mktemp("sample")
    url = f"sqlite:///{folder / 'full.db'}"
    build_sample_chain(url, transactions=600, lanes=20)
    take_snapshot(url, folder / "snapshot.jsonl", wait_s=0)
    return folder / "snapshot.jsonl"


def _forged(source: Path, target: Path, change: Callable[[Lines], None]) -> Path:
    lines = [orjson.loads(line) for line in source.read_bytes().splitlines()]
    change(lines)
    target.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return target


def _refused(tmp_path: Path, snapshot: Path, processes: int = 0) -> str:
    """Restore `snapshot` into a new database; return the refusal, checking nothing was written.

    With `processes` > 1 the worker processes read the transaction and state
    pages themselves (node/snapshot/sqlite_restore.py), so each check is
    made there, not by the process reading the file.
    """
    database = tmp_path / "restored.db"
    with pytest.raises(SnapshotRefused) as refused:
        restore(f"sqlite:///{database}", sample_genesis(), snapshot, processes=processes)
    assert not database.exists()  # the file filled while checking was deleted, not renamed
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("restored")) == []
    return str(refused.value)


def _section(lines: Lines, kind: str) -> dict[str, Any]:
    return next(line for line in lines if line["type"] == kind)


def test_a_sample_snapshot_restores_into_an_empty_database_only(
    sample_snapshot: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'restored.db'}"
    head = restore(url, sample_genesis(), sample_snapshot)
    full = sqlite3.connect(sample_snapshot.parent / "full.db")
    restored = sqlite3.connect(tmp_path / "restored.db")
    for query in ("SELECT key, height, value FROM state ORDER BY key",
                  "SELECT * FROM notes ORDER BY id", "SELECT * FROM records ORDER BY id",
                  "SELECT header FROM blocks ORDER BY height",
                  "SELECT id, log_index, leaf_hash FROM transactions ORDER BY log_index",
                  "SELECT * FROM log_subtrees ORDER BY level, idx",
                  "SELECT * FROM state_accumulator"):
        assert full.execute(query).fetchall() == restored.execute(query).fetchall(), query
    assert restored.execute("SELECT count(*) FROM transactions WHERE code = 'archived'"
                            ).fetchone() == (head.log_size,)
    with pytest.raises(Exception, match="already holds a chain"):
        restore(url, sample_genesis(), sample_snapshot)


def test_a_restore_cut_short_leaves_its_file_for_the_next_to_delete(
    sample_snapshot: Path, tmp_path: Path
) -> None:
    """SQLite is filled in one pass into `<name>.restoring`, renamed only once all checked;
    a crash leaves that file, and the target as it was, for the next restore to redo."""
    left = tmp_path / "restored.db.restoring"
    left.write_bytes(b"half a database, left by a crash")
    head = restore(f"sqlite:///{tmp_path / 'restored.db'}", sample_genesis(), sample_snapshot)
    assert not left.exists()
    store = Store(f"sqlite:///{tmp_path / 'restored.db'}")
    assert store.head_height() == head.height
    store.close()


@pytest.mark.parametrize("processes", [0, 2])
def test_a_changed_state_value_is_refused_as_a_digest_mismatch(
    sample_snapshot: Path, tmp_path: Path, processes: int
) -> None:
    def change(lines: Lines) -> None:
        rows = _section(lines, "state")["rows"]
        key = next(i for i, r in enumerate(rows) if r[0].startswith("note/"))
        rows[key][2] = rows[key][2].replace('"amount":', '"amount":1', 1)

    message = _refused(tmp_path, _forged(sample_snapshot, tmp_path / "f.jsonl", change),
                       processes)
    assert message.startswith("state digest mismatch: the snapshot's state rows digest to ")


@pytest.mark.parametrize("processes", [0, 2])
def test_a_changed_header_or_a_dropped_cosignature_is_refused(
    sample_snapshot: Path, tmp_path: Path, processes: int
) -> None:
    def header(lines: Lines) -> None:
        rows = _section(lines, "headers")["rows"]
        rows[2] = rows[2].replace('"proposer":"node1"', '"proposer":"node2"')

    def attestation(lines: Lines) -> None:
        head = lines[0]["height"]
        for line in lines:
            if line["type"] == "attestations":
                line["rows"] = [r for r in line["rows"] if (r[0], r[1]) != (head, "node2")]
        lines[0]["counts"]["attestations"] -= 1

    def state_note(lines: Lines) -> None:
        note = parse_note(lines[0]["state_note"])
        lines[0]["state_note"] = SignedNote(note.text, note.signatures[:1]).encode()

    assert "does not link to header 2" in _refused(
        tmp_path, _forged(sample_snapshot, tmp_path / "h.jsonl", header), processes)
    assert "signatures from 1 organisation(s); finality needs 2" in _refused(
        tmp_path, _forged(sample_snapshot, tmp_path / "a.jsonl", attestation), processes)
    assert "state note is not a quorum's" in _refused(
        tmp_path, _forged(sample_snapshot, tmp_path / "n.jsonl", state_note), processes)


@pytest.mark.parametrize("processes", [0, 2])
def test_malformed_misplaced_or_repeated_rows_are_refused_by_name(
    sample_snapshot: Path, tmp_path: Path, processes: int
) -> None:
    def short_leaf(lines: Lines) -> None:
        _section(lines, "txs")["rows"][3][4] = "AAAA"

    def moved_entry(lines: Lines) -> None:
        rows = _section(lines, "txs")["rows"]
        rows[3][2] += 1  # its position in its block

    def bad_height(lines: Lines) -> None:
        _section(lines, "state")["rows"][5][1] = lines[0]["height"] + 1

    def unordered(lines: Lines) -> None:
        rows = _section(lines, "state")["rows"]
        rows[4], rows[5] = rows[5], rows[4]

    def not_a_note(lines: Lines) -> None:  # refused before the digest could be: no crash
        rows = _section(lines, "state")["rows"]
        rows[next(i for i, r in enumerate(rows) if r[0].startswith("note/"))][2] = "[1]"

    def repeated_id(lines: Lines) -> None:
        rows = _section(lines, "txs")["rows"]
        rows[4][3] = rows[3][3]  # the leaves, so the cosigned log, are unchanged

    def repeated_nonce(lines: Lines) -> None:
        rows = _section(lines, "nonces")["rows"]
        rows.append(rows[0])
        lines[0]["counts"]["nonces"] += 1

    for change, expected in [
            (short_leaf, "a transaction row of the snapshot is malformed (after log entry 2)"),
            (moved_entry, "transaction 3 of the snapshot does not sit in the log where"),
            (bad_height, "a state row of the snapshot is malformed (after key "),
            (unordered, "the snapshot's state keys are not in strictly increasing order at "),
            (not_a_note, "the snapshot's state value of 'note/"),
            (repeated_id, "the snapshot repeats a row: UNIQUE constraint failed: "
                          "transactions.id"),
            (repeated_nonce, "the snapshot repeats a row: UNIQUE constraint failed: "
                             "nonces.signer, nonces.nonce")]:
        forged = _forged(sample_snapshot, tmp_path / f"{change.__name__}.jsonl", change)
        assert _refused(tmp_path, forged, processes).startswith(expected), change.__name__


@pytest.mark.parametrize("processes", [0, 2])
def test_lines_out_of_place_or_after_the_end_are_refused(
    sample_snapshot: Path, tmp_path: Path, processes: int
) -> None:
    """A line is taken for what it is, not for how it begins; nothing may follow the end."""
    lines = sample_snapshot.read_bytes().splitlines(keepends=True)
    state = next(i for i, line in enumerate(lines) if line.startswith(b'{"type":"state",'))
    disguised = tmp_path / "disguised.jsonl"  # begins as a state page, parses as a nonces page
    retyped = lines[state].removesuffix(b"}\n") + b',"type":"nonces"}\n'
    disguised.write_bytes(b"".join([*lines[:state], retyped, *lines[state + 1:]]))
    assert _refused(tmp_path, disguised, processes) == (
        f"line {state + 1} of the snapshot begins as a state page but is not one" if processes
        else "a row of the snapshot's nonces is malformed")  # read here: a nonces page
    longer = tmp_path / "longer.jsonl"
    longer.write_bytes(b"".join(lines) + lines[state])
    assert _refused(tmp_path, longer, processes) == (
        "the snapshot file goes on after its end line")


def test_a_snapshot_laid_out_otherwise_restores_the_same(sample_snapshot: Path,
                                                         tmp_path: Path) -> None:
    """The workers read only lines laid out as the writer lays them out; a snapshot whose
    lines name their keys in another order is read here instead, into the same database."""
    lines = [orjson.loads(line) for line in sample_snapshot.read_bytes().splitlines()]
    other = tmp_path / "other.jsonl"
    other.write_bytes(b"".join(orjson.dumps(dict(reversed(line.items()))) + b"\n"
                               for line in lines))
    restore(f"sqlite:///{tmp_path / 'as_written.db'}", sample_genesis(), sample_snapshot,
            processes=2)
    restore(f"sqlite:///{tmp_path / 'other.db'}", sample_genesis(), other, processes=2)
    written, otherwise = (sqlite3.connect(tmp_path / name) for name in ("as_written.db",
                                                                        "other.db"))
    for table in ("state", "notes", "records", "transactions", "tx_parties", "nonces",
                  "log_subtrees", "blocks", "attestations", "state_accumulator"):
        query = f"SELECT * FROM {table} ORDER BY 1, 2"
        assert written.execute(query).fetchall() == otherwise.execute(query).fetchall(), table


def test_a_file_changed_between_check_and_write_commits_nothing(
    sample_snapshot: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.jsonl"
    shutil.copy(sample_snapshot, copy)
    head, digest, checked = verify(copy, sample_genesis())
    _forged(copy, copy, lambda lines: _section(lines, "nonces")["rows"].pop())
    store = Store(f"sqlite:///{tmp_path / 'restored.db'}")
    with pytest.raises(SnapshotRefused, match="changed between its check and its restore"):
        fill(store, copy, head, digest, checked)
    assert store.head_height() is None
    store.close()


def test_the_command_line_refuses_in_one_line(sample_snapshot: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    genesis = tmp_path / "genesis.json"
    genesis.write_bytes(orjson.dumps(sample_genesis().to_json()))
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(b"".join(sample_snapshot.read_bytes().splitlines(keepends=True)[:-2]))
    assert node_main(["restore", "--database", f"sqlite:///{tmp_path / 'x.db'}", "--genesis",
                      str(genesis), "--snapshot", str(cut)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no end line" in err


@pytest.mark.etcd
def test_a_node_from_a_snapshot_serves_proves_and_follows(
    tmp_path: Path, etcd_members: list[Any]
) -> None:
    urls = [m.client_url for m in etcd_members]
    with running_network(tmp_path, urls, count=3, registered=4) as nodes:
        line = grant_line(nodes[0])
        wait_until_level(nodes)
        root = issue_accepted(nodes[1], line, "s1")
        height = wait_until_level(nodes)
        wait_until_final(nodes, height)
        snapshot = tmp_path / "snapshot.jsonl"
        head = take_snapshot(f"sqlite:///{tmp_path / 'node1' / 'node.db'}", snapshot, wait_s=20)
        assert head.height == height
        folder = tmp_path / "node4"
        folder.mkdir()
        shutil.copy(tmp_path / "node1" / "genesis.json", folder / "genesis.json")
        genesis = Genesis.from_json(parse_json((folder / "genesis.json").read_bytes()))
        restore(f"sqlite:///{folder / 'node.db'}", genesis, snapshot, processes=2)
        peers = ",".join(n.url for n in nodes)
        with network_node(tmp_path, urls, 4, registered=4, port=free_port(),
                          peers=peers) as fresh:
            full, new = nodes[0].participant("s1"), fresh.participant("s1")
            assert new.holdings() == full.holdings() and new.receivable(root)
            issued = next(e for e in full.events() if e["action"] == "issue")
            with pytest.raises(NodeError) as archived:
                new.transaction(issued["tx_id"])
            assert (archived.value.status, archived.value.code) == (410, "archived")
            assert f"archived below the snapshot at height {height}" in archived.value.detail
            stranger = fresh.participant("s2")  # no party to it: the id looks unknown, as ever
            with pytest.raises(NodeError) as hidden:
                stranger.transaction(issued["tx_id"])
            assert (hidden.value.status, hidden.value.code) == (404, "not_found")
            assert new.events() == []  # the feed starts after the snapshot
            checkpoint = new.checkpoint()
            check_cosigned(parse_signed_checkpoint(checkpoint["checkpoint"]), "test-chain",
                           fresh.service.chain.nodes())
            proof = new.node.get(f"/v1/log/inclusion/{issued['tx_id']}",
                                 {"size": checkpoint["size"]})
            verify_tx_inclusion(full.transaction(issued["tx_id"])["envelope"], issued["tx_id"],
                                proof, checkpoint)
            later = issue_accepted(nodes[2], line, "s2")  # the chain moves on; it follows
            level = wait_until_level([*nodes, fresh])
            wait_until_final([*nodes, fresh], level)
            assert fresh.service.store.headers(0, 1000) == nodes[0].service.store.headers(0, 1000)
            holder = fresh.participant("s2")
            assert holder.proven_note(later)["id"] == later
            for participant in (full, new, holder, stranger):
                participant.close()


@pytest.mark.postgres
def test_a_snapshot_round_trip_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    from sqlalchemy import text

    from node.storage.store import make_engine
    from tests.pg import new_database

    source, target = new_database(postgres_url), new_database(postgres_url)
    build_sample_chain(source, transactions=300, lanes=15)
    take_snapshot(source, tmp_path / "snapshot.jsonl", wait_s=0)
    restore(target, sample_genesis(), tmp_path / "snapshot.jsonl")
    for query in ("SELECT key, height, value FROM state ORDER BY key",
                  "SELECT * FROM records ORDER BY id", "SELECT * FROM notes ORDER BY id",
                  "SELECT * FROM state_accumulator"):
        answers = []
        for url in (source, target):
            engine = make_engine(url)
            with engine.connect() as conn:
                answers.append(conn.execute(text(query)).all())
            engine.dispose()
        assert answers[0] == answers[1], query
