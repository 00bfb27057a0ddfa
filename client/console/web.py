"""What every page of the console uses: the visit, the guards, and rendering.

A page is a route in a module of client/console/pages/ that takes a `Visit`
(who asks, in which language, with which CSRF token) through one of the
guards, and returns `render(visit, "its_template.html", ...)`:

    @router.get("/inbox")
    def inbox(visit: Annotated[Visit, Depends(signed_in())]) -> HTMLResponse:
        return render(visit, "inbox.html", items=...)

    @router.post("/inbox/accept")
    def accept(visit: Annotated[Visit, Depends(signed_in("maker"))],
               form: Annotated[Form, Depends(posted)]) -> Response:
        ...
        return see_other("/approvals")

- `signed_in(*roles)`: a fully logged-in user (else to the login page), of
  one of `roles` if given (else a 403 page);
- `posted`: the submitted form, refused with a 403 page unless it carries
  the visit's CSRF token; every POST route takes it;
- `NotFound`, `Forbidden`: raise them for a 404 or 403 page; a node's 404 or
  400 (`NodeError`) also becomes the 404 page (client/console/app.py).

Templates extend `base.html`; every string goes through `t(key)`
(client/console/i18n.py); `yuan`, `org`, `short` and `when` format amounts,
organisations, ids and times.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from client.console import approvals, sessions, users
from client.console.i18n import Translator, translator
from client.console.services import Console
from client.console.users import User

Form = FormData
LANG_COOKIE = "console_lang"
PRE_COOKIE = "console_pre"  # keys the CSRF token of forms shown before login


class NeedLogin(Exception):
    """Raised when a page needs a logged-in user and the visitor is not one."""


class Forbidden(Exception):
    """Raised when the user's role may not do this (a 403 page naming the reason key)."""

    def __init__(self, reason: str = "error_forbidden") -> None:
        super().__init__(reason)
        self.reason = reason


class NotFound(Exception):
    """Raised when what was asked for does not exist or is not this organisation's to see."""


class CsrfRefused(Exception):
    """Raised when a POST does not carry the visit's CSRF token."""


@dataclass(frozen=True)
class Visit:
    """One request as the pages see it."""

    request: Request
    console: Console
    lang: str
    t: Translator
    user: User | None
    session: sessions.Session | None
    csrf: str


def console_of(request: Request) -> Console:
    """Return the console's services (set by create_app)."""
    console: Console = request.app.state.console
    return console


def visit(request: Request) -> Visit:
    """Return the visit of `request`: language, session (if any), user and CSRF token."""
    console = console_of(request)
    lang = request.cookies.get(LANG_COOKIE, console.config.language)
    if lang not in ("zh", "en"):
        lang = console.config.language
    session = sessions.current(console.engine, request.cookies.get(sessions.COOKIE),
                               console.config.session_minutes)
    user = users.find(console.engine, session.user_id) if session else None
    csrf = session.csrf if session else anonymous_csrf(console.secret, pre_token(request))
    return Visit(request, console, lang, translator(lang), user, session, csrf)


def pre_token(request: Request) -> str:
    """Return the visitor's pre-login cookie (set by the middleware on a first visit)."""
    return str(getattr(request.state, "pre_token", None) or request.cookies.get(PRE_COOKIE, ""))


def anonymous_csrf(secret: bytes, pre: str) -> str:
    """Return the CSRF token of forms shown before login: an HMAC of the visitor's cookie."""
    return hmac.new(secret, b"csrf:" + pre.encode(), hashlib.sha256).hexdigest()


def signed_in(*roles: str) -> Callable[[Request], Visit]:
    """Return a guard: a fully logged-in user, of one of `roles` if any are named."""
    def guard(request: Request) -> Visit:
        seen = visit(request)
        if seen.user is None or seen.session is None or seen.session.stage != sessions.IN:
            raise NeedLogin()
        if roles and seen.user.role not in roles:
            raise Forbidden("error_role")
        return seen
    return guard


async def posted(request: Request) -> FormData:
    """Return the submitted form; raise CsrfRefused unless it carries the visit's CSRF token."""
    form = await request.form()
    given = form.get("csrf_token")
    expected = visit(request).csrf
    if not isinstance(given, str) or not hmac.compare_digest(given, expected):
        raise CsrfRefused()
    return form


def field(form: FormData, name: str, limit: int = 200) -> str:
    """Return a text field of `form` ("" if absent), at most `limit` characters, trimmed."""
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def render(visit: Visit, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Return the page `template` for `visit`, with `context` and what every page shows."""
    console = visit.console
    page = console.templates.get_template(template).render(
        t=visit.t, lang=visit.lang, user=visit.user, csrf=visit.csrf, org=console.org,
        org_name=console.org_name, org_uscc=console.org_uscc, path=visit.request.url.path,
        **context)
    return HTMLResponse(page, status_code=status)


def see_other(url: str) -> RedirectResponse:
    """Return a redirect to `url` after a POST (303: the browser follows with a GET)."""
    return RedirectResponse(url, status_code=303)


def local_path(target: str, default: str = "/") -> str:
    """Return `target` if it is a path on this console, else `default` (no open redirects)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def prepare_and_show(seen: Visit, action: str, args: dict[str, Any], subject: str,
                     facts: dict[str, str]) -> Response:
    """Queue `action` for a checker and go to it in the queue (or show why it cannot be).

    Every page that prepares a signed action comes through here: a subject
    already awaiting approval is a 409, anything else refused (not a maker,
    an unknown action) a 403, each with the reason in words.
    """
    assert seen.user is not None
    try:
        approval_id = approvals.prepare(seen.console.engine, seen.user, action, args,
                                        subject=subject, facts=facts)
    except approvals.ApprovalError as exc:
        status = 409 if str(exc) == "error_already_pending" else 403
        return render(seen, "error.html", status=status, status_code=status, reason=str(exc))
    return see_other(f"/approvals#approval-{approval_id}")
