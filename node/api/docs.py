"""The API's documentation page, `/docs` (Swagger UI), with no internet.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so on a closed
network (where consortium nodes run) they were blank.  Here the page loads
the Swagger UI 5 assets of the installed `fastapi-offline` package, served
by the node under `/docs/assets`.  ReDoc is not offered: its page fetches
its logo from the internet whatever it is given.  Neither the page nor the
assets need a signed request, like `/openapi.json` they describe; they are
left out of that document, being pages about it rather than API.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"
ASSET_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png")


def asset_directory() -> Path:
    """Return the folder of the installed Swagger UI assets.

    Raises RuntimeError naming the package if a file is missing.
    """
    folder = Path(str(files("fastapi_offline") / "static"))
    missing = [name for name in ASSET_FILES if not (folder / name).is_file()]
    if missing:
        raise RuntimeError(f"the fastapi-offline package lacks {', '.join(missing)} "
                           f"in {folder}: reinstall it")
    return folder


def install_docs(app: FastAPI) -> None:
    """Serve `/docs` from local assets (the app is made with FastAPI's docs URLs None)."""
    app.mount(ASSETS, StaticFiles(directory=asset_directory()), name="docs-assets")
    title = app.title

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title=f"{title}: API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png")
