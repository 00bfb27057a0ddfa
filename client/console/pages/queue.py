"""The approvals queue: what makers prepared, for checkers to approve or reject.

Anyone signed in may look (pending, approved, rejected, refused by the node),
each with who prepared it, when, what it does in words and its typed
arguments; the approve and reject buttons are a checker's, and the rules
(not one's own, only a pending one, a reason to reject) are
client/console/approvals.py's, which this page only words.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from client.console import approvals
from client.console.approvals import ApprovalError
from client.console.web import Form, Visit, field, posted, render, see_other, signed_in

router = APIRouter()
STATUS = {"error_no_approval": 404, "error_not_pending": 409}


@router.get("/approvals")
def queue(seen: Annotated[Visit, Depends(signed_in())], state: str = "pending") -> Response:
    """List the approvals in `state` (pending by default)."""
    if state not in approvals.STATES:
        state = approvals.PENDING
    listed = approvals.listed(seen.console.engine, state)
    return render(seen, "approvals.html", state=state, states=approvals.STATES, items=listed)


def _refused(seen: Visit, exc: ApprovalError) -> Response:
    return render(seen, "error.html", status=STATUS.get(str(exc), 403),
                  status_code=STATUS.get(str(exc), 403), reason=str(exc))


@router.post("/approvals/{approval_id}/approve")
def approve(approval_id: int, seen: Annotated[Visit, Depends(signed_in())],
            _form: Annotated[Form, Depends(posted)]) -> Response:
    """Approve as a checker: sign and submit now; show the outcome in the queue."""
    assert seen.user is not None
    try:
        done = approvals.approve(seen.console.engine, seen.console.signer, seen.user,
                                 approval_id)
    except ApprovalError as exc:
        return _refused(seen, exc)
    return see_other(f"/approvals?state={done.state}#approval-{approval_id}")


@router.post("/approvals/{approval_id}/reject")
def reject(approval_id: int, seen: Annotated[Visit, Depends(signed_in())],
           form: Annotated[Form, Depends(posted)]) -> Response:
    """Reject as a checker, with the reason given."""
    assert seen.user is not None
    try:
        approvals.reject(seen.console.engine, seen.user, approval_id, field(form, "reason", 500))
    except ApprovalError as exc:
        return _refused(seen, exc)
    return see_other(f"/approvals?state=rejected#approval-{approval_id}")
