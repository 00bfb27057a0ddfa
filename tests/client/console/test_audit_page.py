"""The audit page over HTTP: a click starts an audit in the background, and it outlives the console.

The auditor's console runs as a process (`ledger console start`, English)
before a real node (registered node1, so an audit passes).  The run button
answers at once with the job's page; the page's state token (what
static/live.js polls) changes when the audit ends, and the report is then
on the page and downloadable.  Stopped and started again, the console
still has the report and the history.  A job still `running` refuses a
second start with a 409 naming it; after a restart it is `interrupted`.
The audit trail names who started each audit.  An audit whose node does
not answer ends as an error shown in words on the page (the app served
in this process, its audit pointed at a closed port), never a 500.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert

from client.console import audit_jobs, users
from client.console.audit_jobs import AuditJobs, node_audit
from client.console.config import ConsoleConfig, load_config
from client.console.services import open_console
from client.console.store import audit_jobs as jobs_table
from client.console.store import open_database
from client.local_consortium.launcher import free_port
from client.sdk.http import NodeClient
from client.sdk.keystore import Identity
from client.sdk.participant import Participant
from tests.client.console.bank_world import BankWorld, make_bank_world
from tests.client.console.support import Browserless, password_of, running_console, served
from tests.nodes import registered_node


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BankWorld]:
    folder = tmp_path_factory.mktemp("audit_page")
    with registered_node(folder / "node", 1) as node:
        yield make_bank_world(node, folder)


@pytest.fixture(scope="module")
def settings(world: BankWorld) -> Path:
    return world.settings("auditor", "en")


def _signed_in(url: str, name: str = "vera") -> Browserless:
    person = Browserless(url)
    assert person.log_in(name).status_code == 200
    return person


def _report_when_done(person: Browserless, path: str, timeout: float = 60.0) -> dict[str, object]:
    """Return the report at `path` once the audit has one (polling, as the page does)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = person.http.get(path)
        if answer.status_code == 200:
            return dict(answer.json())
        assert answer.status_code == 404 and time.monotonic() < deadline, answer.text
        time.sleep(0.2)


def test_an_audit_started_by_a_click_and_its_report_outlive_the_console(
        settings: Path) -> None:
    with running_console(settings) as console:
        person = _signed_in(console.url)
        started = person.post("/explorer/audit", token_from="/explorer/audit")
        assert started.status_code == 200
        report = _report_when_done(person, "/explorer/audit/report.json")
        assert report["passed"] is True
        person.close()
    with running_console(settings) as console:  # the console started again
        person = _signed_in(console.url)
        kept = person.http.get("/explorer/audit/report.json")
        assert kept.status_code == 200 and kept.json() == report
        page = person.http.get("/explorer/audit").text
        assert 'id="audit-report"' in page and 'id="audit-verdict">passed<' in page
        assert re.search(r'id="audit-job-\d+"', page)
        for path, status in (("/explorer/audit/jobs/0", 404), ("/explorer/audit/jobs/x", 400),
                             (f"/explorer/audit/jobs/{10**20}", 404),
                             (f"/explorer/audit/jobs/{10**20}/report.json", 404),
                             ("/explorer/audit/report.pdf", 404)):
            assert person.http.get(path).status_code == status, path
        person.close()


def test_a_second_start_is_refused_while_one_runs_and_a_restart_interrupts_it(
        settings: Path, world: BankWorld) -> None:
    with running_console(settings) as console:
        engine = open_database(load_config(settings).database_url)
        with engine.begin() as db:  # an audit under way (as its thread would have it)
            made = db.execute(insert(jobs_table).values(
                started_by="chen", started_at=1_767_600_000, state=audit_jobs.RUNNING,
                detail=""))
            stuck = int(made.inserted_primary_key[0])  # type: ignore[index]
        engine.dispose()
        person = _signed_in(console.url)
        state = person.http.get("/explorer/audit/state").json()["state"]
        assert state == f"{stuck}:running:0"
        refused = person.post("/explorer/audit", token_from="/explorer/audit")
        assert refused.status_code == 409
        assert f"Audit #{stuck}, started by chen at 2026-01-05 08:00:00 UTC, is still running" \
            in refused.text
        assert 'id="audit-running"' in refused.text and "disabled" in refused.text
        engine = open_database(load_config(settings).database_url)
        assert audit_jobs.history(engine)[0].id == stuck  # nothing else was started
        engine.dispose()
        person.close()
    with running_console(settings) as console:
        person = _signed_in(console.url)
        page = person.http.get(f"/explorer/audit/jobs/{stuck}").text
        assert 'id="audit-verdict">interrupted<' in page
        assert "The console stopped while this audit ran" in page
        assert person.http.get(f"/explorer/audit/jobs/{stuck}/report.json").status_code == 404
        started = person.post("/explorer/audit", token_from="/explorer/audit")
        assert started.status_code == 200 and str(started.url).endswith(
            tuple(f"/explorer/audit/jobs/{n}" for n in range(stuck + 1, stuck + 5)))
        job = int(str(started.url).rsplit("/", 1)[1])
        assert _report_when_done(person, f"/explorer/audit/jobs/{job}/report.json")["passed"]
        admin = _signed_in(console.url, "ada")
        trail = admin.http.get("/audit/export.json").json()["audit_trail"]
        assert any(r["event"] == "audit_started" and r["user"] == "vera"
                   and r["detail"] == f"audit #{job}" for r in trail)
        assert any(r["event"] == "audit_ended" and r["detail"].startswith(
            f"audit #{stuck} interrupted") for r in trail)
        person.close()
        admin.close()


def test_an_audit_whose_node_does_not_answer_is_an_error_on_the_page(
        world: BankWorld, tmp_path: Path) -> None:
    org = world.node.orgs["auditor"]
    identity = Identity(org.uscc, org.name, org.key)
    console = open_console(
        ConsoleConfig(keystore=tmp_path / "unused.json", nodes=(world.node.url,),
                      database_url=f"sqlite:///{tmp_path / 'console.db'}", language="en"),
        identity, "", connect=lambda: Participant(world.node.url, identity,
                                                  now=world.node.clock.now))
    users.add_user(console.engine, name="vera", role="viewer", password=password_of("vera"),
                   by="test")
    away = NodeClient(f"http://127.0.0.1:{free_port()}", identity, chain_id="test-chain")
    console.audits = AuditJobs(console.engine, node_audit(lambda: away))
    with served(console) as url:
        person = _signed_in(url)
        started = person.post("/explorer/audit", token_from="/explorer/audit")
        assert started.status_code == 200
        assert console.audits.wait(60)
        page = person.http.get(str(started.url))
        assert page.status_code == 200
        assert 'id="audit-verdict">error<' in page.text
        assert "The audit could not finish: no node answered (http://127.0.0.1:" in page.text
        person.close()
    away.close()
    console.signer.close()
