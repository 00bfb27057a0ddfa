"""Logging in and out, the second factor, and the language a person reads the console in.

The login form checks the password (client/console/users.py counts
failures and locks the account); a checker or admin, when TOTP is on, then
gets a session that opens only the TOTP page, where they enrol at first
(the secret and its otpauth URI shown as text: no outside QR service) and
give a code; only then is a full session opened, under a new cookie.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from client.console import audit_trail, sessions, users
from client.console.clock import now_s
from client.console.web import (
    LANG_COOKIE,
    Form,
    Visit,
    field,
    local_path,
    posted,
    render,
    see_other,
    visit,
)

router = APIRouter()
YEAR_S = 365 * 24 * 3600


def _set_session(visit: Visit, response: Response, token: str) -> Response:
    response.set_cookie(sessions.COOKIE, token, httponly=True, samesite="strict",
                        secure=visit.console.config.https, path="/")
    return response


@router.get("/login")
def login_page(seen: Annotated[Visit, Depends(visit)]) -> Response:
    """Show the login form (or go home if already logged in)."""
    if seen.session is not None and seen.session.stage == sessions.IN:
        return see_other("/")
    return render(seen, "login.html")


@router.post("/login")
def login(seen: Annotated[Visit, Depends(visit)], form: Annotated[Form, Depends(posted)]
          ) -> Response:
    """Check the name and password; open a session (owing a TOTP code if required)."""
    console = seen.console
    config = console.config
    name = field(form, "name", 64)
    outcome = users.log_in(console.engine, name, field(form, "password", 1024),
                           attempts=config.lockout_attempts, minutes=config.lockout_minutes)
    if outcome.user is None:
        problem = "error_login_locked" if outcome.problem == "locked" else "error_login_wrong"
        return render(seen, "login.html", status=401, error=problem, name=name)
    if seen.session is not None:
        sessions.close(console.engine, seen.session)
    if users.needs_second_factor(outcome.user, config.totp):
        token = sessions.open_session(console.engine, outcome.user.id, sessions.SECOND_FACTOR,
                                      config.session_minutes)
        return _set_session(seen, see_other("/login/totp"), token)
    token = sessions.open_session(console.engine, outcome.user.id, sessions.IN,
                                  config.session_minutes)
    audit_trail.note(console.engine, user=name, event="login", at=now_s())
    return _set_session(seen, see_other("/"), token)


def _owing(seen: Visit) -> Visit:
    if seen.session is None or seen.user is None or seen.session.stage != sessions.SECOND_FACTOR:
        raise _ToLogin()
    return seen


class _ToLogin(Exception):
    """Raised when the TOTP page is asked for without a password login before it."""


def _totp_page(seen: Visit, status: int = 200, error: str | None = None) -> Response:
    assert seen.user is not None
    enrolled = seen.user.totp_enrolled
    secret = None if enrolled else users.totp_secret(seen.console.engine, seen.user.id)
    uri = None if secret is None else users.otpauth_uri(secret, seen.user.name,
                                                        seen.console.org_name)
    return render(seen, "totp.html", status=status, enrolled=enrolled, secret=secret, uri=uri,
                  error=error)


@router.get("/login/totp")
def totp_page(seen: Annotated[Visit, Depends(visit)]) -> Response:
    """Ask for the TOTP code; at the first login, show the secret to enrol with first."""
    try:
        return _totp_page(_owing(seen))
    except _ToLogin:
        return see_other("/login")


@router.post("/login/totp")
def totp(seen: Annotated[Visit, Depends(visit)], form: Annotated[Form, Depends(posted)]
         ) -> Response:
    """Check the TOTP code; open the full session under a new cookie, or count a failure."""
    try:
        seen = _owing(seen)
    except _ToLogin:
        return see_other("/login")
    assert seen.user is not None and seen.session is not None
    console, config = seen.console, seen.console.config
    if not users.check_totp(console.engine, seen.user.id, field(form, "code", 12)):
        locked = users.second_factor_failed(console.engine, seen.user.id,
                                            attempts=config.lockout_attempts,
                                            minutes=config.lockout_minutes)
        if locked:
            sessions.close_all(console.engine, seen.user.id)
            return render(seen, "login.html", status=401, error="error_login_locked")
        return _totp_page(seen, 401, "error_totp_wrong")
    token = sessions.promote(console.engine, seen.session, config.session_minutes)
    audit_trail.note(console.engine, user=seen.user.name, event="login", at=now_s(),
                     detail="with TOTP")
    return _set_session(seen, see_other("/"), token)


@router.post("/logout")
def logout(seen: Annotated[Visit, Depends(visit)], _form: Annotated[Form, Depends(posted)]
           ) -> Response:
    """End the session and go to the login page."""
    if seen.session is not None and seen.user is not None:
        sessions.close(seen.console.engine, seen.session)
        audit_trail.note(seen.console.engine, user=seen.user.name, event="logout", at=now_s())
    response = see_other("/login")
    response.delete_cookie(sessions.COOKIE, path="/")
    return response


@router.post("/language")
def language(request: Request, form: Annotated[Form, Depends(posted)]) -> Response:
    """Remember the language chosen (a cookie) and go back to the page it was chosen on."""
    lang = field(form, "lang", 2)
    response = see_other(local_path(field(form, "next", 500)))
    if lang in ("zh", "en"):
        response.set_cookie(LANG_COOKIE, lang, max_age=YEAR_S, samesite="strict", path="/",
                            secure=request.app.state.console.config.https)
    return response
