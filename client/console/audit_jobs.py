"""An auditor's audits of its node as background jobs: one at a time, each kept with its report.

An audit re-derives the node's whole chain from its raw export, trusting
nothing stored (client/audit/run.py `audit_node`): minutes on a long chain,
too long for a web request (a proxy gives up, the browser waits, a second
click would start a second audit).  So `AuditJobs.start` records the job in
the console's database (`audit_jobs`: who started it, when, its state) and
runs the audit in a worker thread; the job ends `passed` or `failed` with
the report's JSON, or `error` with what went wrong in words (no node
answered, say).  The database itself refuses a second `running` job (a
partial unique index), so two clicks, tabs or people start one audit.

The progress (transactions checked of the log's size) is kept in memory
only: it means something only while this process runs the audit.  A job
left `running` by a console that stopped is marked `interrupted` at the
next start (`settle_interrupted`): nothing can be running then.  The audit
trail says who started each audit and how it ended.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from client.console import audit_trail
from client.console.clock import now_s
from client.console.store import audit_jobs
from client.sdk.http import NodeClient, NodeError

log = logging.getLogger("console.audit")
RUNNING, PASSED, FAILED, ERROR, INTERRUPTED = (
    "running", "passed", "failed", "error", "interrupted")
STATES = (RUNNING, PASSED, FAILED, ERROR, INTERRUPTED)
INTERRUPTED_DETAIL = "the console stopped while this audit ran: run it again"
Progress = Callable[[int, int], None]  # (transactions checked, log size or 0)
Audit = Callable[[Progress], dict[str, Any]]  # runs one audit; returns the report's JSON


class AuditRunning(Exception):
    """Raised when an audit is asked for while another runs (`job`, unless it just ended)."""

    def __init__(self, job: AuditJob | None) -> None:
        super().__init__("an audit is already running")
        self.job = job


@dataclass(frozen=True)
class AuditJob:
    """One audit: who started it, when, how it ended, and its report once loaded."""

    id: int
    started_by: str
    started_at: int
    state: str
    finished_at: int | None
    detail: str
    report: dict[str, Any] | None = None  # loaded by `find` and `latest_report` only

    @property
    def has_report(self) -> bool:
        """Return whether the audit finished with a report (passed or failed)."""
        return self.state in (PASSED, FAILED)


def _job(row: Any, with_report: bool = False) -> AuditJob:
    report = json.loads(row.report) if with_report and row.report else None
    return AuditJob(row.id, row.started_by, row.started_at, row.state, row.finished_at,
                    row.detail or "", report)


_LISTED = (audit_jobs.c.id, audit_jobs.c.started_by, audit_jobs.c.started_at,
           audit_jobs.c.state, audit_jobs.c.finished_at, audit_jobs.c.detail)


def history(engine: Engine, limit: int = 50) -> list[AuditJob]:
    """Return the latest `limit` audits, newest first, without their reports."""
    with engine.connect() as db:
        rows = db.execute(select(*_LISTED).order_by(audit_jobs.c.id.desc()).limit(limit))
        return [_job(r) for r in rows]


def find(engine: Engine, job_id: int) -> AuditJob | None:
    """Return audit `job_id` with its report (None if there is no such audit)."""
    if not 0 < job_id < 2**31:  # no such row, and no integer column can hold it
        return None
    with engine.connect() as db:
        row = db.execute(select(audit_jobs).where(audit_jobs.c.id == job_id)).first()
    return None if row is None else _job(row, with_report=True)


def latest_report(engine: Engine) -> AuditJob | None:
    """Return the latest audit that finished with a report, with it (None if none has)."""
    with engine.connect() as db:
        row = db.execute(select(audit_jobs).where(audit_jobs.c.state.in_((PASSED, FAILED)))
                         .order_by(audit_jobs.c.id.desc()).limit(1)).first()
    return None if row is None else _job(row, with_report=True)


def running(engine: Engine) -> AuditJob | None:
    """Return the audit running now, if any."""
    with engine.connect() as db:
        row = db.execute(select(*_LISTED).where(audit_jobs.c.state == RUNNING)).first()
    return None if row is None else _job(row)


def settle_interrupted(engine: Engine) -> int:
    """Mark the audits left `running` by a console that stopped as interrupted; return how many.

    Called when the console starts (one console process per database): no
    audit runs then, so one still `running` was cut short with its process.
    """
    now = now_s()
    with engine.begin() as db:
        stuck = db.execute(select(audit_jobs.c.id, audit_jobs.c.started_by)
                           .where(audit_jobs.c.state == RUNNING)).all()
        for row in stuck:
            db.execute(update(audit_jobs).where(audit_jobs.c.id == row.id).values(
                state=INTERRUPTED, finished_at=now, detail=INTERRUPTED_DETAIL))
            audit_trail.record(db, user=row.started_by, event="audit_ended", at=now,
                               detail=f"audit #{row.id} {INTERRUPTED}: {INTERRUPTED_DETAIL}")
    return len(stuck)


def node_audit(node: Callable[[], NodeClient]) -> Audit:
    """Return the audit of the chain the node `node()` gives serves (its raw export).

    `node` is called when the audit starts, so a console whose node was down
    at its start audits the node it reaches then.  The audit raises
    NodeError if no node answers at the start: the auditor library would
    report an unreadable export as a failed audit of an empty chain, which
    says nothing about the chain.  An export that breaks off later is a
    finding of a failed audit, as in `ledger audit`.
    """
    def run(progress: Progress) -> dict[str, Any]:
        from client.audit.run import audit_node  # the auditor: loaded at the first audit

        client = node()
        client.get("/v1/health")
        return audit_node(client, progress).to_json()
    return run


def _failure(exc: Exception) -> str:
    """Return in words why an audit could not finish."""
    if isinstance(exc, NodeError):
        return (f"no node answered ({exc.detail})" if exc.status == 0
                else f"the node refused: {exc.code}: {exc.detail}")
    return f"{type(exc).__name__}: {exc}"


class AuditJobs:
    """Starts audits in a worker thread, one at a time, and knows how far the running one is."""

    def __init__(self, engine: Engine, audit: Audit) -> None:
        self.engine = engine
        self._audit = audit
        self._progress: dict[int, tuple[int, int]] = {}
        self._thread: threading.Thread | None = None

    def start(self, by: str) -> int:
        """Record an audit started by `by` and run it in the background; return its id.

        Raises AuditRunning if one is running already (nothing is started).
        """
        now = now_s()
        try:
            with self.engine.begin() as db:
                made = db.execute(insert(audit_jobs).values(
                    started_by=by, started_at=now, state=RUNNING, detail=""))
                job_id = int(made.inserted_primary_key[0])  # type: ignore[index]
                audit_trail.record(db, user=by, event="audit_started", at=now,
                                   detail=f"audit #{job_id}")
        except IntegrityError as exc:  # the one-running index: another audit runs
            raise AuditRunning(running(self.engine)) from exc
        self._progress[job_id] = (0, 0)
        self._thread = threading.Thread(target=self._run, args=(job_id, by), daemon=True,
                                        name=f"console-audit-{job_id}")
        self._thread.start()
        return job_id

    def progress(self, job_id: int) -> tuple[int, int] | None:
        """Return (transactions checked, log size or 0) of the audit this process runs, if any."""
        return self._progress.get(job_id)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the audit this process started last to end; return whether it has."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return thread is None or not thread.is_alive()

    def _run(self, job_id: int, by: str) -> None:
        """Run the audit and record how it ended (never leaving it `running` while alive)."""
        report: dict[str, Any] | None = None
        try:
            report = self._audit(lambda done, total: self._note(job_id, done, total))
            state, detail = (PASSED if report.get("passed") else FAILED), ""
        except Exception as exc:  # the node is away, or an audit bug: the job says which
            if not isinstance(exc, NodeError):
                log.exception("audit #%d failed", job_id)
            state, detail = ERROR, _failure(exc)[:2000]
        try:
            self._finish(job_id, by, state, detail, report)
        except Exception:  # the database is away: the next start marks it interrupted
            log.exception("could not record the end of audit #%d", job_id)
        finally:
            self._progress.pop(job_id, None)

    def _note(self, job_id: int, done: int, total: int) -> None:
        self._progress[job_id] = (done, total)

    def _finish(self, job_id: int, by: str, state: str, detail: str,
                report: dict[str, Any] | None) -> None:
        now = now_s()
        with self.engine.begin() as db:
            db.execute(update(audit_jobs).where(audit_jobs.c.id == job_id).values(
                state=state, finished_at=now, detail=detail,
                report=None if report is None else json.dumps(report, ensure_ascii=False)))
            audit_trail.record(db, user=by, event="audit_ended", at=now,
                               detail=f"audit #{job_id} {state}" + (f": {detail}" if detail
                                                                   else ""))
