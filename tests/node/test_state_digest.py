"""GET /v1/state/digest: the world state's digest after each final block, kept across restarts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from client.sdk.http import NodeError
from ledger.state_digest import ALGORITHM, StateDigest
from node.storage import state_digests
from tests.node.support import error_of, grant_line, issue_accepted, raw, stored_state
from tests.nodes import RunningNode, running_node


def _of_store(n: RunningNode) -> str:
    """Return the digest of the state as stored, computed from scratch."""
    return StateDigest.of((k, v[0]) for k, v in stored_state(n).items()).digest().hex()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """Return the node's database: its own SQLite file (None), or a fresh PostgreSQL one."""
    return None if request.param == "sqlite" else str(request.getfixturevalue("fresh_postgres_url"))


def test_each_block_has_the_digest_of_its_state_and_a_restart_resumes_it(
    tmp_path: Path, database_url: str | None
) -> None:
    with running_node(tmp_path, database_url=database_url) as n:
        auditor = n.participant("auditor")
        digests = [auditor.node.get("/v1/state/digest", {"height": 0})["digest"]]
        for _ in range(2):
            issue_accepted(n, grant_line(n), "s1")
            head = auditor.status()
            answer = auditor.node.get("/v1/state/digest")
            assert answer == {"height": head["height"], "block_hash": head["head_hash"],
                              "algorithm": ALGORITHM, "digest": _of_store(n),
                              "cosigners": [], "state_note": None}  # no node key: unsigned
            digests.append(answer["digest"])
        assert len(set(digests)) == len(digests)  # the state changed each time
        auditor.close()
    with running_node(tmp_path, database_url=database_url) as n:
        kept = state_digests.head_accumulator(n.service.store.engine)
        assert kept is not None and kept[0] == head["height"]  # resumed, not recomputed
        auditor = n.participant("auditor")
        assert auditor.node.get("/v1/state/digest")["digest"] == digests[-1]
        issue_accepted(n, grant_line(n), "s1")
        assert auditor.node.get("/v1/state/digest")["digest"] == _of_store(n)
        auditor.close()


def test_a_database_from_before_digests_gets_its_head_digest_at_start(tmp_path: Path) -> None:
    with running_node(tmp_path) as n:
        issue_accepted(n, grant_line(n), "s1")
        head = n.service.chain.head.height
    with sqlite3.connect(tmp_path / "node.db") as db:  # as an older node left it
        db.execute("DROP TABLE state_digests")
        db.execute("DROP TABLE state_accumulator")
    with running_node(tmp_path) as n:
        auditor = n.participant("auditor")
        assert auditor.node.get("/v1/state/digest")["digest"] == _of_store(n)
        with pytest.raises(NodeError) as older:
            auditor.node.get("/v1/state/digest", {"height": head - 1})
        assert (older.value.status, older.value.code) == (404, "not_found")
        assert "kept no state digest" in older.value.detail
        auditor.close()


def test_a_height_not_final_or_malformed_is_refused(tmp_path: Path) -> None:
    with running_node(tmp_path) as n:
        head = n.service.chain.head.height
        auditor = n.orgs["auditor"]
        code, detail = error_of(raw(n, auditor, "GET", f"/v1/state/digest?height={head + 1}"), 404)
        assert code == "not_found" and "not final" in detail
        for bad in ("-1", "x", "2147483648"):
            error_of(raw(n, auditor, "GET", f"/v1/state/digest?height={bad}"), 400)
        assert raw(n, None, "GET", "/v1/state/digest").status_code == 401
