"""The dashboard: which organisation this is, how its node is, who is signed in, what waits.

A skeleton the role pages build on: the organisation's name and USCC, its
node's heights (or that no node answers, in words: the page still shows),
the user's role, and counts of what waits in the inbox and the approvals
queue, each a link.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from client.console import approvals
from client.console.web import Visit, render, signed_in
from client.sdk.http import NodeError

router = APIRouter()


def node_view(seen: Visit) -> dict[str, Any]:
    """Return the node's status for a page: url, heights, or `down` with why."""
    try:
        me = seen.console.signer.participant()
        status = me.status()
        inbox = seen.console.inbox(me, status)
    except NodeError as exc:
        return {"down": True,
                "why": exc.detail if exc.status == 0 else f"{exc.code}: {exc.detail}"}
    todo = [i for i in inbox["items"] if not i["kind"].startswith("awaiting_")]
    return {"down": False, "url": me.node.base_url, "node_id": status.get("node_id"),
            "chain_id": status.get("chain_id"), "height": status.get("height"),
            "final": status.get("final_height"), "time": status.get("time"),
            "todo": len(todo), "as_of": inbox.get("as_of")}


@router.get("/")
def dashboard(seen: Annotated[Visit, Depends(signed_in())]) -> Response:
    """Show the organisation, its node, the user's role and what waits."""
    pending = approvals.listed(seen.console.engine, approvals.PENDING)
    return render(seen, "home.html", node=node_view(seen), pending=len(pending))
