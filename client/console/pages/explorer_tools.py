"""The explorer's tools: verify a transaction in the browser, run an audit, take files away.

The verify page runs static/verify-page.js and static/verify.js on the
bundle `/explorer/transactions/{id}/bundle` serves
(client/console/verification.py; `from` is the log size the browser
trusts).  What the browser trusts is the genesis: the consortium's genesis
file named in the console's settings (`genesis`), whose fingerprint (the
genesis transaction id) the page shows for a person to compare with their
own copy and pin.  Without that setting the page says so and verifies
nothing.

An auditor's console runs an audit of its node (`client.audit.audit_node`:
the raw export re-derived, trusting nothing stored) and shows the report;
it downloads as JSON or as the HTML report.  The chain file (auditors) and
a note's trace bundle download as files.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from client.console.clock import now_s
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
                  genesis_path=seen.console.config.genesis,
                  fingerprint=None if genesis is None else genesis.transaction.tx_id)


def _auditor(seen: Visit) -> Visit:
    if not is_auditor(seen):
        raise Forbidden("error_not_auditor")
    return seen


@router.get("/explorer/audit")
def audit_page(request: Request, seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Show the last audit this console ran, and the button to run one (auditors only)."""
    _auditor(seen)
    return render(seen, "explorer_audit.html",
                  last=getattr(request.app.state, "audit", None))


@router.post("/explorer/audit")
def run_audit(request: Request, seen: Annotated[Visit, Depends(signed_in())],
              _form: Annotated[Form, Depends(posted)]) -> Response:
    """Audit the node's chain now, trusting nothing stored, and keep the report to show."""
    from client.audit.run import audit_node

    _auditor(seen)
    assert seen.user is not None
    report = audit_node(me_of(seen).node).to_json()
    request.app.state.audit = {"report": report, "by": seen.user.name, "at": now_s()}
    return see_other("/explorer/audit")


def _attachment(body: bytes | str, name: str, kind: str) -> Response:
    return Response(body, media_type=kind,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/explorer/audit/report.{kind}")
def audit_report(kind: str, request: Request,
                 seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Download the last audit report as JSON or as the self-contained HTML report."""
    _auditor(seen)
    last: dict[str, Any] | None = getattr(request.app.state, "audit", None)
    if last is None or kind not in ("json", "html"):
        raise NotFound()
    if kind == "json":
        return _attachment(json.dumps(last["report"], indent=2), "audit-report.json",
                           "application/json")
    from client.audit.html_page import render_report
    return _attachment(render_report(last["report"], {}), "audit-report.html", "text/html")


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

