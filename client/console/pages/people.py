"""The organisation's console accounts, for admins: add, change role, unlock, reset password.

Each change goes in the audit trail (client/console/users.py) and ends the
sessions of the account changed, so a new role or password takes effect at
once.  Mistakes (a short password, a taken name, demoting the last admin)
come back on the page, beside the form, in the visitor's language.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from client.console import sessions, users
from client.console.clock import now_s
from client.console.users import UserError
from client.console.web import Form, Visit, field, posted, render, see_other, signed_in

router = APIRouter()
Admin = Annotated[Visit, Depends(signed_in("admin"))]


def _page(seen: Visit, status: int = 200, problem: UserError | None = None) -> Response:
    return render(seen, "users.html", status=status, people=users.all_users(seen.console.engine),
                  roles=users.ROLES, problem=problem, now=now_s())


@router.get("/users")
def people(seen: Admin) -> Response:
    """List the accounts, with the forms that change them."""
    return _page(seen)


def _change(seen: Visit, change: str, form: Form, user_id: int | None = None) -> Response:
    engine, by = seen.console.engine, seen.user.name if seen.user else "-"
    try:
        if change == "add":
            users.add_user(engine, name=field(form, "name", 64), role=field(form, "role", 16),
                           password=field(form, "password", 1024), by=by)
        elif change == "role" and user_id is not None:
            users.set_role(engine, user_id, field(form, "role", 16), by=by)
        elif change == "unlock" and user_id is not None:
            users.unlock(engine, user_id, by=by)
        elif change == "password" and user_id is not None:
            users.set_password(engine, user_id, field(form, "password", 1024), by=by)
    except UserError as exc:
        return _page(seen, 400, exc)
    if user_id is not None and change in ("role", "password"):
        sessions.close_all(engine, user_id)
    return see_other("/users")


@router.post("/users")
def add(seen: Admin, form: Annotated[Form, Depends(posted)]) -> Response:
    """Add an account with a role and a first password."""
    return _change(seen, "add", form)


@router.post("/users/{user_id}/role")
def role(user_id: int, seen: Admin, form: Annotated[Form, Depends(posted)]) -> Response:
    """Give an account another role."""
    return _change(seen, "role", form, user_id)


@router.post("/users/{user_id}/unlock")
def unlock(user_id: int, seen: Admin, form: Annotated[Form, Depends(posted)]) -> Response:
    """Lift an account's lockout."""
    return _change(seen, "unlock", form, user_id)


@router.post("/users/{user_id}/password")
def password(user_id: int, seen: Admin, form: Annotated[Form, Depends(posted)]) -> Response:
    """Give an account a new password (and end its sessions)."""
    return _change(seen, "password", form, user_id)
