"""`create_app(config)`: the node's FastAPI application, with no module-level globals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from node.api import (
    admin,
    blocks,
    export,
    holdings,
    lists,
    log,
    state,
    status,
    sync,
    transactions,
)
from node.api.auth import RecentNonces
from node.api.docs import install_docs
from node.api.errors import install_error_handlers
from node.api.limits import BodySizeLimit
from node.api.openapi import install_openapi
from node.clock import Clock, ManualClock
from node.config import NodeConfig
from node.observability.request_ids import RequestIds
from node.observability.startup import log_stopped
from node.ordering import Orderer
from node.service import NodeService


def create_app(
    config: NodeConfig, *, clock: Clock | None = None, orderer: Orderer | None = None,
    service: NodeService | None = None,
) -> FastAPI:
    """Build the node app; the service starts and stops with the app's lifespan."""
    node = service or NodeService(config, clock=clock, orderer=orderer)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        node.start()
        try:
            yield
        finally:
            node.stop()
            log_stopped(node)

    app = FastAPI(
        title="Receivables ledger node",
        version="1",
        description="A consortium node of the supply-chain receivables ledger.",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load from a CDN: install_docs serves local copies
        redoc_url=None,
    )
    app.state.service = node
    app.state.request_nonces = RecentNonces(config.request_clock_skew_s)
    install_error_handlers(app)
    for module in (transactions, blocks, holdings, lists, log, state, status, sync, export):
        app.include_router(module.router)
    if isinstance(node.clock, ManualClock):
        app.include_router(admin.router)
    app.add_middleware(BodySizeLimit, max_bytes=config.max_request_bytes)
    app.add_middleware(RequestIds)  # added last, so outermost: a 413 gets an id too
    install_openapi(app)
    install_docs(app)
    return app
