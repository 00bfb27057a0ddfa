"""The explorer: blocks, transactions, search, the node's status and checkpoints, live heights.

Every member's console has it, and each sees what its node shows it: block
headers for all, a block's transactions and any record for auditors (and
regulators and operators, who join the consortium as auditors), a
transaction for its parties.  Search takes an id or a prefix of 8 or more
hex digits (`Participant.resolve_ids`, which never lists what the caller
may not read), a block height, an organisation (name or USCC: the
credentials and financings with it this organisation may see) or an invoice
number (in the trade background of the credentials it may see, compared in
the invoice's normal form).  `/live` answers the node's heights as JSON
for static/live.js, which reloads a page's live region when a block
commits.  The checkpoints page reads the node's cosigned checkpoint of each
final block (`GET /v1/log/checkpoint?height=`), newest first, a page at a
time: the history is the node's, from the genesis on, not what this console
happened to see.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from client.console.web import (
    NeedLogin,
    NotFound,
    Visit,
    console_of,
    render,
    see_other,
    signed_in,
)
from client.sdk.http import NodeError
from client.sdk.participant import Participant
from ledger.errors import LedgerError
from ledger.tx import parse_envelope

router = APIRouter()
PAGE = 20  # blocks per page
TX_ID = re.compile(r"[0-9a-f]{64}")
HEX_PREFIX = re.compile(r"[0-9a-f]{8,64}")
CHECKPOINT_PAGE = 20  # checkpoints per page of the history: one node request each
BEFORE = re.compile(r"[1-9][0-9]{0,17}")  # a height to page below: decimal digits, 1 or more
PAGES_OF_KIND = {"tx": "/explorer/transactions/{}", "receivable": "/credentials/{}",
                 "financing": "/financings/{}"}  # a financing's page is its parties' and auditors'


def me_of(seen: Visit) -> Participant:
    """Return the console's participant (its node, read as this organisation)."""
    return seen.console.signer.participant()


def body_of(envelope: Any) -> dict[str, Any]:
    """Return a wire envelope's body as a dict (its canonical text parsed; {} if unreadable)."""
    try:
        return parse_envelope(envelope).body.to_json()
    except LedgerError:  # a stored envelope the node served is readable; say nothing if not
        return {}


def is_auditor(seen: Visit) -> bool:
    """Return whether this console's organisation may read everything (auditor role)."""
    return "auditor" in seen.console.roles()


@router.get("/explorer")
def overview(seen: Annotated[Visit, Depends(signed_in())], page: int = 0) -> Response:
    """Show the node's status, the registered nodes and a page of blocks, newest first."""
    me = me_of(seen)
    status = me.status()
    nodes = me.node.get("/v1/nodes")
    height = int(status["height"])
    page = max(0, min(page, height // PAGE))
    top = height - page * PAGE
    start = max(0, top - PAGE + 1)
    blocks = list(me.node.get("/v1/blocks", {"from": start, "limit": top - start + 1})["blocks"])
    blocks.reverse()
    return render(seen, "explorer.html", node_status=status, nodes=nodes, blocks=blocks, page=page,
                  last_page=height // PAGE, final=int(status.get("final_height") or 0))


@router.get("/explorer/blocks/{height}")
def block(height: int, seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Show a block's header and, to auditors, its transactions."""
    if height < 0:
        raise NotFound()
    me = me_of(seen)
    answer = dict(me.node.get(f"/v1/blocks/{height}"))
    if "transactions" in answer:
        answer["transactions"] = [{**tx, "body": body_of(tx.get("envelope"))}
                                  for tx in answer["transactions"]]
    status = me.status()
    return render(seen, "explorer_block.html", block=answer, height=height,
                  head=int(status["height"]), final=int(status.get("final_height") or 0),
                  auditor=is_auditor(seen))


@router.get("/explorer/transactions/{tx_id}")
def transaction(tx_id: str, seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Show a transaction the node lets this organisation see (else the 404 page)."""
    if not TX_ID.fullmatch(tx_id):
        raise NotFound()
    tx = me_of(seen).transaction(tx_id)
    body = body_of(tx.get("envelope"))
    return render(seen, "explorer_tx.html", tx=tx, body=body)


def checkpoint_page(me: Participant, latest: dict[str, Any], top: int) -> list[dict[str, Any]]:
    """Return the checkpoints of final blocks `top` down, CHECKPOINT_PAGE of them or to block 0.

    `latest` is the node's latest (final) checkpoint, not asked for again;
    `top` is at most its height.  Raises NodeError as the node answers.
    """
    final = int(latest["height"])
    return [latest if height == final else me.checkpoint(height)
            for height in range(top, max(-1, top - CHECKPOINT_PAGE), -1)]


def _newer(top: int, final: int) -> str | None:
    """Return the link to the page of checkpoints above `top` (None on the newest page)."""
    if top >= final:
        return None
    above = top + CHECKPOINT_PAGE  # the newer page's lowest height is top + 1
    return "/explorer/checkpoints" + ("" if above >= final else f"?before={above + 1}")


@router.get("/explorer/checkpoints")
def checkpoints(request: Request, seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Show the node's latest cosigned checkpoint and a page of those of final blocks before.

    `before` (optional: decimal digits, 1 or more) pages to the blocks below
    that height; anything else given for it is a 400 page saying so.
    """
    given = request.query_params.getlist("before")
    if given and (len(given) > 1 or not BEFORE.fullmatch(given[0])):
        return render(seen, "error.html", status=400, status_code=400, reason="error_bad_before")
    me = me_of(seen)
    latest = me.checkpoint()
    final = int(latest["height"])
    top = min(int(given[0]) - 1, final) if given else final
    rows = checkpoint_page(me, latest, top)
    bottom = top - len(rows) + 1
    return render(seen, "explorer_checkpoints.html", latest=latest, rows=rows, top=top,
                  bottom=bottom, per_page=CHECKPOINT_PAGE, newer=_newer(top, final),
                  older=f"/explorer/checkpoints?before={bottom}" if bottom > 0 else None)


def invoice_form(number: str) -> str:
    """Return an invoice number in its normal form (NFKC, no whitespace, ASCII upper-cased)."""
    text = "".join(unicodedata.normalize("NFKC", number).split())
    return "".join(c.upper() if c.isascii() else c for c in text)


def _orgs(seen: Visit, q: str) -> list[Any]:
    wanted = q.casefold()
    return [m for m in seen.console.directory.members().values()
            if wanted == str(m["uscc"]).casefold() or wanted in str(m.get("name", "")).casefold()]


def _by_invoice(me: Participant, q: str) -> list[dict[str, Any]]:
    number = invoice_form(q)
    return [r for r in me.receivables(limit=1000)
            if any(invoice_form(str(i.get("number", ""))) == number
                   for i in (r.get("trade") or {}).get("invoices", []))]


def _with_org(me: Participant, uscc: str) -> dict[str, Any]:
    return {"receivables": me.receivables(counterparty=uscc, limit=100),
            "financings": me.financings(counterparty=uscc, limit=100)}


@router.get("/explorer/search")
def search(seen: Annotated[Visit, Depends(signed_in())], q: str = "") -> Response:
    """Find a block, an id by prefix, an organisation or an invoice; one hit opens its page."""
    q = q.strip()[:100]
    me = me_of(seen)
    ids: list[dict[str, str]] = []
    if q.isdigit() and len(q) < 12:
        return see_other(f"/explorer/blocks/{int(q)}")
    if HEX_PREFIX.fullmatch(q.lower()):
        ids = me.resolve_ids(q.lower())
        if len(ids) == 1 and ids[0]["kind"] in PAGES_OF_KIND:
            return see_other(PAGES_OF_KIND[ids[0]["kind"]].format(ids[0]["id"]))
    orgs = [{**m, **_with_org(me, m["uscc"])} for m in _orgs(seen, q)][:5] if len(q) >= 2 else []
    invoices = _by_invoice(me, q) if q else []
    return render(seen, "explorer_search.html", q=q, ids=ids, orgs=orgs, invoices=invoices,
                  pages=PAGES_OF_KIND, searched=bool(q))


@router.get("/live")
def live(request: Request) -> Response:
    """Answer the node's heights as JSON, for static/live.js (a session cookie is needed)."""
    try:
        signed_in()(request)
        status = console_of(request).signer.participant().status()
    except NodeError as exc:
        return JSONResponse({"error": "node_unavailable", "detail": exc.detail}, status_code=503)
    except NeedLogin:
        return JSONResponse({"error": "not_signed_in", "detail": "log in first"},
                            status_code=401)
    return JSONResponse({"height": status["height"], "final_height": status.get("final_height"),
                         "log_size": status.get("log_size")})
