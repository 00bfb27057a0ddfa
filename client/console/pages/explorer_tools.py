"""The explorer's tools: verify a transaction in the browser, run an audit, take files away.

The verify page runs static/verify-page.js and static/verify.js on the
bundle `/explorer/transactions/{id}/bundle` serves
(client/console/verification.py; `from` is the log size the browser
trusts), with every word they show in the visitor's language
(client/console/i18n_verify.py).  What the browser trusts is the genesis: the consortium's genesis
file named in the console's settings (`genesis`), whose fingerprint (the
genesis transaction id) the page shows for a person to compare with their
own copy and pin.  Without that setting the page says so and verifies
nothing.

An auditor's console audits its node (`client.audit.audit_node`: the raw
export re-derived, trusting nothing stored) in the background, one audit at
a time (client/console/audit_jobs.py): the button starts it and goes to its
page, which shows how far it is and refreshes itself (static/live.js polls
`/explorer/audit/state`) until the report is there; a second start while
one runs is a 409 naming the running one.  Every audit stays in the
console's database, its report downloadable as JSON or as the HTML report.
The chain file (auditors) and a note's trace bundle download as files.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from client.console import audit_jobs
from client.console.audit_jobs import AuditJob, AuditRunning
from client.console.i18n_verify import verify_words
from client.console.pages.explorer import TX_ID, is_auditor, me_of
from client.console.verification import BundleUnavailable, verification_bundle
from client.console.web import (
    Forbidden,
    Form,
    NotFound,
    Visit,
    posted,
    render,
    see_other,
    signed_in,
)
from client.sdk.http import NodeError
from client.sdk.lightclient import read_genesis
from ledger.genesis import Genesis

router = APIRouter()
NOTE_ID = re.compile(r"[0-9a-f]{64}")
HISTORY = 50  # past audits listed on the page
STEP = 5  # the running audit's page is shown again at each STEP percent checked


def _genesis(seen: Visit) -> Genesis | None:
    """Return the genesis named in the console's settings, or None if none is named."""
    path = seen.console.config.genesis
    return None if path is None else read_genesis(path)


def _error(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status)


@router.get("/explorer/transactions/{tx_id}/bundle")
def bundle(tx_id: str, request: Request,
           seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Answer the transaction's verification bundle (docs/FORMATS.md §11) as JSON.

    `from` (optional) is the log size of the checkpoint the browser trusts.
    """
    raw = request.query_params.get("from")
    if not TX_ID.fullmatch(tx_id):
        return _error(404, "not_found", f"transaction {tx_id} is not a 64-hex transaction id")
    if raw is not None and not (raw.isdigit() and 0 < int(raw) < 2**53):
        return _error(400, "bad_request", "from is the log size of a trusted checkpoint: 1 or more")
    genesis = _genesis(seen)
    if genesis is None:
        return _error(404, "no_genesis", "this console's settings name no genesis file")
    try:
        found = verification_bundle(me_of(seen), tx_id, genesis,
                                    since=None if raw is None else int(raw))
    except BundleUnavailable as exc:
        return _error(409, "not_final", str(exc))
    except NodeError as exc:
        if exc.status in (400, 404):
            return _error(404, "not_found", f"transaction {tx_id} is not one this "
                                            "organisation may see")
        raise
    return JSONResponse(found)


@router.get("/explorer/transactions/{tx_id}/verify")
def verify(tx_id: str, seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Show the in-browser verification of a transaction, and what it trusts."""
    if not TX_ID.fullmatch(tx_id):
        raise NotFound()
    genesis = _genesis(seen)
    return render(seen, "explorer_verify.html", tx_id=tx_id,
                  genesis_path=seen.console.config.genesis, words=verify_words(seen.t),
                  fingerprint=None if genesis is None else genesis.transaction.tx_id)


def _auditor(seen: Visit) -> Visit:
    if not is_auditor(seen):
        raise Forbidden("error_not_auditor")
    return seen


def _shown(seen: Visit, job: AuditJob | None, status: int = 200,
           notice: str | None = None) -> Response:
    """Return the audit page showing `job` (with its report), the one running and the history."""
    engine = seen.console.engine
    now = audit_jobs.running(engine)
    return render(seen, "explorer_audit.html", status=status, shown=job, running=now,
                  progress=None if now is None else seen.console.audits.progress(now.id),
                  jobs=audit_jobs.history(engine, HISTORY), notice=notice, token=_token(seen))


def _token(seen: Visit) -> str:
    """Return what changes when the audit page should be shown again (static/live.js polls it).

    The latest audit's id and state, and while one runs, how far it is in steps of
    STEP percent (each step shows the page again).
    """
    latest = audit_jobs.history(seen.console.engine, 1)
    if not latest:
        return "none"
    job = latest[0]
    done, total = seen.console.audits.progress(job.id) or (0, 0)
    percent = (100 * done // total) // STEP * STEP if total else 0
    return f"{job.id}:{job.state}:{percent if job.state == audit_jobs.RUNNING else ''}"


@router.get("/explorer/audit")
def audit_page(seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Show the latest audit (running, or its report), the button to run one, and the history."""
    _auditor(seen)
    latest = audit_jobs.history(seen.console.engine, 1)
    return _shown(seen, audit_jobs.find(seen.console.engine, latest[0].id) if latest else None)


@router.get("/explorer/audit/jobs/{job_id}")
def audit_job_page(job_id: int, seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Show one audit of the history (its report, if it finished with one)."""
    _auditor(seen)
    job = audit_jobs.find(seen.console.engine, job_id)
    if job is None:
        raise NotFound()
    return _shown(seen, job)


@router.get("/explorer/audit/state")
def audit_state(seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Answer what the audit page shows, as a token static/live.js compares (auditors only)."""
    _auditor(seen)
    return JSONResponse({"state": _token(seen)})


@router.post("/explorer/audit")
def run_audit(seen: Annotated[Visit, Depends(signed_in())],
              _form: Annotated[Form, Depends(posted)]) -> Response:
    """Start an audit of the node in the background and go to it (409 if one runs already)."""
    _auditor(seen)
    assert seen.user is not None
    try:
        job_id = seen.console.audits.start(seen.user.name)
    except AuditRunning as exc:
        return _shown(seen, exc.job, status=409, notice="au_already_running")
    return see_other(f"/explorer/audit/jobs/{job_id}")


def _attachment(body: bytes | str, name: str, kind: str) -> Response:
    return Response(body, media_type=kind,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _report_file(job: AuditJob | None, kind: str) -> Response:
    """Return `job`'s report as a JSON or HTML download (404 if it has none)."""
    if job is None or job.report is None or kind not in ("json", "html"):
        raise NotFound()
    if kind == "json":
        return _attachment(json.dumps(job.report, indent=2), f"audit-report-{job.id}.json",
                           "application/json")
    from client.audit.html_page import render_report
    return _attachment(render_report(job.report, {}), f"audit-report-{job.id}.html",
                       "text/html")


@router.get("/explorer/audit/report.{kind}")
def audit_report(kind: str, seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Download the latest audit report as JSON or as the self-contained HTML report."""
    _auditor(seen)
    return _report_file(audit_jobs.latest_report(seen.console.engine), kind)


@router.get("/explorer/audit/jobs/{job_id}/report.{kind}")
def audit_job_report(job_id: int, kind: str,
                     seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Download one audit's report as JSON or HTML (404 if it ended without one)."""
    _auditor(seen)
    return _report_file(audit_jobs.find(seen.console.engine, job_id), kind)


@router.get("/explorer/chain")
def chain_file(seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Download the node's chain file (auditors), to audit offline with `ledger audit --chain`."""
    me = me_of(_auditor(seen))
    lines = me.node.stream_lines("/v1/export")
    first = next(lines)  # a refusal raises here, before the download starts
    name = f"{me.node.chain_id}.chain.jsonl"

    def rest() -> Any:
        yield first
        yield from lines
    return StreamingResponse(rest(), media_type="application/x-ndjson",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/explorer/trace/{note_id}")
def trace(note_id: str, seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Download a note's trace bundle (`ledger trace`), checkable offline with `ledger/` alone."""
    from client.trace.bundle import build_trace

    if not NOTE_ID.fullmatch(note_id):
        raise NotFound()
    bundle = build_trace(me_of(seen).node, note_id)
    return _attachment(json.dumps(bundle, indent=2), f"trace-{note_id[:12]}.json",
                       "application/json")

