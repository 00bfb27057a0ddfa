"""FastAPI dependencies: the node service and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ledger.membership import Member, Role
from node.api.errors import ApiError
from node.auth import RecentNonces, authenticate
from node.service import NodeService


def get_service(request: Request) -> NodeService:
    """Return the node service bound to this app."""
    service: NodeService = request.app.state.service
    return service


async def get_caller(request: Request) -> Member:
    """Return the member who signed this request (401 if none did)."""
    service = get_service(request)
    nonces: RecentNonces = request.app.state.request_nonces
    body = await request.body()
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    headers = {k.lower(): v for k, v in request.headers.items()}
    return authenticate(service, nonces, method=request.method, path=path, headers=headers,
                        body=body)


Service = Annotated[NodeService, Depends(get_service)]
Caller = Annotated[Member, Depends(get_caller)]


def is_auditor(member: Member) -> bool:
    """Return whether `member` may read everything."""
    return member.has_role(Role.AUDITOR)


MAX_INT = 2**63 - 1  # the largest integer both SQLite and PostgreSQL store


def not_found(what: str) -> ApiError:
    """Return the error for an unknown (or invisible) id; the two are indistinguishable."""
    return ApiError("not_found", f"{what} not found")
