"""An auditor's audits run in the background, one at a time, and stay in the console's database.

Against a real node (registered node1 of a chain, so its checkpoints are
cosigned and an audit passes), on SQLite and on PostgreSQL: an audit
started returns at once and runs in a worker thread, then ends `passed`
with its report; a second start while one runs is refused and starts
nothing; an audit whose node does not answer ends `error` with the reason
in words; a job a stopped console left `running` is `interrupted` when a
console opens the database again; the history and its reports are there
after the database is opened afresh (a restart), and an older database
without the table gains it.  The audit trail says who started each audit
and how it ended.

To hold an audit in `running`, the real audit is wrapped to wait for a
gate first; it then runs as it would.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, inspect, select, text

from client.console import audit_jobs
from client.console.audit_jobs import AuditJobs, AuditRunning, node_audit
from client.console.config import ConsoleConfig
from client.console.services import open_console
from client.console.store import audit, open_database
from client.console.store import audit_jobs as jobs_table
from client.local_consortium.launcher import free_port
from client.sdk.http import NodeClient
from client.sdk.keystore import Identity
from client.sdk.participant import Participant
from tests.nodes import RunningNode, registered_node
from tests.pg import new_database, postgres_server


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    with registered_node(tmp_path_factory.mktemp("audit_jobs") / "node", 1) as served:
        yield served


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with postgres_server(tmp_path_factory.mktemp("audit_jobs_pg")) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'console.db'}"
    return new_database(request.getfixturevalue("pg_server"), "audits")


@pytest.fixture
def auditor(node: RunningNode) -> Iterator[Participant]:
    me = node.participant("auditor")
    yield me
    me.close()


def _gated(audit: audit_jobs.Audit) -> tuple[audit_jobs.Audit, threading.Event]:
    """Return `audit` waiting for a gate before it runs, and the gate."""
    gate = threading.Event()

    def run(progress: audit_jobs.Progress) -> dict[str, object]:
        assert gate.wait(60)
        return audit(progress)
    return run, gate


def _trail(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as db:
        rows = db.execute(select(audit.c.event, audit.c.user, audit.c.detail)
                          .order_by(audit.c.id)).all()
    return [(r.event, r.user, r.detail) for r in rows]


def test_an_audit_runs_in_the_background_and_a_second_is_refused_meanwhile(
        database_url: str, auditor: Participant) -> None:
    engine = open_database(database_url)
    run, gate = _gated(node_audit(lambda: auditor.node))
    jobs = AuditJobs(engine, run)
    job_id = jobs.start("vera")  # returns while the audit waits: it runs in another thread
    assert audit_jobs.running(engine) == audit_jobs.find(engine, job_id)
    assert audit_jobs.find(engine, job_id).state == audit_jobs.RUNNING  # type: ignore[union-attr]
    with pytest.raises(AuditRunning) as refused:
        jobs.start("wang")
    assert refused.value.job is not None and refused.value.job.id == job_id
    assert [j.id for j in audit_jobs.history(engine)] == [job_id]  # nothing else started
    gate.set()
    assert jobs.wait(60)
    done = audit_jobs.find(engine, job_id)
    assert done is not None and done.state == audit_jobs.PASSED
    assert done.report is not None and done.report["passed"] is True
    assert done.report["chain"]["log_size"] == auditor.checkpoint()["size"]
    assert done.finished_at is not None and done.finished_at >= done.started_at
    assert jobs.progress(job_id) is None
    assert _trail(engine) == [("audit_started", "vera", f"audit #{job_id}"),
                              ("audit_ended", "vera", f"audit #{job_id} passed")]
    assert jobs.start("wang") > job_id  # once it ended, another may start (ids may skip)
    assert jobs.wait(60)
    engine.dispose()


def test_an_audit_whose_node_does_not_answer_ends_in_error(
        database_url: str, node: RunningNode) -> None:
    engine = open_database(database_url)
    org = node.orgs["auditor"]
    away = NodeClient(f"http://127.0.0.1:{free_port()}", Identity(org.uscc, org.name, org.key),
                      chain_id="test-chain")
    jobs = AuditJobs(engine, node_audit(lambda: away))
    job_id = jobs.start("vera")
    assert jobs.wait(60)
    ended = audit_jobs.find(engine, job_id)
    assert ended is not None and ended.state == audit_jobs.ERROR and ended.report is None
    assert ended.detail.startswith("no node answered (http://127.0.0.1:"), ended.detail
    assert _trail(engine)[-1][0] == "audit_ended" and "error: no node answered" in _trail(
        engine)[-1][2]
    away.close()
    engine.dispose()


def test_a_job_a_stopped_console_left_running_is_interrupted_at_the_next_start(
        database_url: str, node: RunningNode, tmp_path: Path) -> None:
    engine = open_database(database_url)
    with engine.begin() as db:  # as a console that died mid-audit left it
        db.execute(insert(jobs_table).values(started_by="vera", started_at=1_767_600_000,
                                             state=audit_jobs.RUNNING, detail=""))
    with pytest.raises(AuditRunning):  # while it looks running, nothing starts
        AuditJobs(engine, node_audit(lambda: pytest.fail("no audit may start"))).start("wang")
    org = node.orgs["auditor"]
    identity = Identity(org.uscc, org.name, org.key)
    config = ConsoleConfig(keystore=tmp_path / "unused.json", nodes=(node.url,),
                           database_url=database_url)
    console = open_console(config, identity, "", connect=lambda: Participant(
        node.url, identity, now=node.clock.now))
    [job] = audit_jobs.history(engine)
    assert (job.state, job.detail) == (audit_jobs.INTERRUPTED, audit_jobs.INTERRUPTED_DETAIL)
    assert job.finished_at is not None
    assert _trail(engine)[-1] == ("audit_ended", "vera",
                                  f"audit #{job.id} interrupted: {audit_jobs.INTERRUPTED_DETAIL}")
    assert audit_jobs.settle_interrupted(engine) == 0
    new = console.audits.start("wang")  # no longer blocked
    assert console.audits.wait(60)
    assert audit_jobs.find(console.engine, new).state == audit_jobs.PASSED  # type: ignore[union-attr]
    console.signer.close()
    engine.dispose()


def test_the_history_and_its_reports_outlive_the_process(
        database_url: str, auditor: Participant) -> None:
    engine = open_database(database_url)
    with engine.begin() as db:  # a database from before the table existed
        db.execute(text("DROP TABLE console_audit_jobs"))
    engine.dispose()
    engine = open_database(database_url)  # a console started again gains the table
    assert "console_audit_jobs" in inspect(engine).get_table_names()
    jobs = AuditJobs(engine, node_audit(lambda: auditor.node))
    first = jobs.start("vera")
    assert jobs.wait(60)
    second = jobs.start("wang")
    assert jobs.wait(60)
    engine.dispose()

    again = open_database(database_url)
    history = audit_jobs.history(again)
    assert [(j.id, j.started_by, j.state) for j in history] == [
        (second, "wang", audit_jobs.PASSED), (first, "vera", audit_jobs.PASSED)]
    assert all(j.report is None for j in history)  # the list leaves the reports out
    kept = audit_jobs.find(again, first)
    assert kept is not None and kept.report is not None and kept.report["passed"] is True
    latest = audit_jobs.latest_report(again)
    assert latest is not None and latest.id == second
    again.dispose()
