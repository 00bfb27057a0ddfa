"""`create_app(console)`: the console's FastAPI application, its pages, assets and error pages.

Every page module of client/console/pages/ is mounted here (`PAGES`); the
static assets are served from the package (no CDN: the pages work with no
internet).  A middleware gives each first-time visitor the cookie that
keys pre-login CSRF tokens and sets the security headers (a strict
Content-Security-Policy: scripts, styles and images from the console only).
Errors become pages in the visitor's language, never a traceback: a missing
login goes to the login page, a role or CSRF refusal is a 403 page, a record
the node does not show this organisation is the 404 page, an unreachable
node is a 503 page.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from client.console.i18n import CATALOG
from client.console.pages import PAGES
from client.console.services import Console
from client.console.web import (
    PRE_COOKIE,
    CsrfRefused,
    Forbidden,
    NeedLogin,
    NotFound,
    render,
    see_other,
    visit,
)
from client.sdk.http import NodeError

log = logging.getLogger("console")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; connect-src 'self'; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def create_app(console: Console) -> FastAPI:
    """Return the console's application over `console`'s parts."""
    app = FastAPI(title="Receivables ledger console", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.console = console
    app.mount("/static", StaticFiles(directory=str(files("client.console") / "static")),
              name="static")
    for router in PAGES:
        app.include_router(router)
    app.middleware("http")(_visitor_cookie_and_headers)
    _access_pages(app)
    _failure_pages(app)
    return app


async def _visitor_cookie_and_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    fresh = None
    if not request.cookies.get(PRE_COOKIE):
        fresh = request.state.pre_token = secrets.token_urlsafe(32)
    response = await call_next(request)
    if fresh is not None:
        response.set_cookie(PRE_COOKIE, fresh, httponly=True, samesite="strict",
                            secure=request.app.state.console.config.https, path="/")
    for name, value in SECURITY_HEADERS.items():
        if name != "Cache-Control" or not request.url.path.startswith("/static/"):
            response.headers.setdefault(name, value)
    return response


def _page(request: Request, status: int, reason: str) -> Response:
    """Return the error page for `status`, saying `reason` (a catalog key)."""
    return render(visit(request), "error.html", status=status, status_code=status,
                  reason=reason)


def _access_pages(app: FastAPI) -> None:
    """Answer a missing login, a refused role or form, and what is not there."""
    page = _page

    @app.exception_handler(NeedLogin)
    def need_login(request: Request, _exc: NeedLogin) -> Response:
        return see_other("/login")

    @app.exception_handler(Forbidden)
    def forbidden(request: Request, exc: Forbidden) -> Response:
        return page(request, 403, exc.reason)

    @app.exception_handler(CsrfRefused)
    def csrf(request: Request, _exc: CsrfRefused) -> Response:
        return page(request, 403, "error_csrf")

    @app.exception_handler(NotFound)
    def not_found(request: Request, _exc: NotFound) -> Response:
        return page(request, 404, "error_not_found")

    @app.exception_handler(HTTPException)
    def http_error(request: Request, exc: HTTPException) -> Response:
        known = {404: "error_not_found", 405: "error_method"}
        return page(request, exc.status_code if exc.status_code in known else 400,
                    known.get(exc.status_code, "error_bad_request"))

    @app.exception_handler(RequestValidationError)
    def bad_request(request: Request, _exc: RequestValidationError) -> Response:
        return page(request, 400, "error_bad_request")



def _failure_pages(app: FastAPI) -> None:
    """Answer a node's refusal or absence, and any failure nobody foresaw, without a traceback."""
    page = _page

    @app.exception_handler(NodeError)
    def node_error(request: Request, exc: NodeError) -> Response:
        if exc.status in (400, 404):  # need to know: another's record looks unknown
            return page(request, 404, "error_not_found")
        log.warning("node answered %s %s: %s", exc.status, exc.code, exc.detail)
        return page(request, 503 if exc.status in (0, 503) else 502, "error_node")

    @app.exception_handler(Exception)
    def bug(request: Request, exc: Exception) -> Response:
        log.error("unexpected failure on %s", request.url.path, exc_info=exc)
        try:
            return page(request, 500, "error_internal")
        except Exception as failed:  # the page that says so failed too
            log.error("the error page failed too", exc_info=failed)
            return _last_resort()


def _last_resort_page() -> str:
    """Return the plain 500 page in both languages, from the catalog's words."""
    (zh_title, en_title), (zh_text, en_text) = CATALOG["error_title_500"], CATALOG["error_internal"]
    return (f'<!doctype html><html lang="zh"><meta charset="utf-8"><title>500</title>'
            f"<h1>{zh_title} · {en_title}</h1><p>{zh_text}</p><p lang=\"en\">{en_text}</p></html>")


def _last_resort() -> Response:
    """Return the 500 page that needs nothing drawn: for when the error page fails too."""
    response = HTMLResponse(_last_resort_page(), status_code=500)
    response.headers.update(SECURITY_HEADERS)
    return response
