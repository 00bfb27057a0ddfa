"""The lines a node says about itself: the start banner, the ready line, the stop line.

The banner, written once the node has opened its database, names the node,
its chain, its head and where it will serve; the ready line comes once the
port listens and the node's threads run, so a script (or an operator) can
wait for it.  They are logged by `node.lifecycle`, which shows info lines
even when the level is set higher, so `--log-level warning` still says
where the node is.
"""

from __future__ import annotations

import logging
import socket

import uvicorn
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from node.service import NodeService
from node.transport import tls

log = logging.getLogger("node.lifecycle")
log.setLevel(logging.INFO)


def base_url(service: NodeService, port: int | None = None) -> str:
    """Return the URL the node serves at (its configured port, or `port` it bound)."""
    config = service.config
    scheme = "https" if tls.enabled(config) else "http"
    host = f"[{config.host}]" if ":" in config.host else config.host
    return f"{scheme}://{host}:{port if port is not None else config.port}"


def shown_database(url: str) -> str:
    """Return a database URL fit for a log: its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparsable database URL)"


def log_banner(service: NodeService) -> None:
    """Log who this node is, what it holds, and where it will serve."""
    config = service.config
    head = service.chain.head
    orderer = (f"etcd at {config.etcd_endpoints}" if config.etcd_endpoints
               else f"embedded log {config.orderer_path or '(in memory)'}")
    log.info("node %s of chain %s starting at %s: head at height %d (final %d), "
             "ordering through %s, database %s", config.node_id, service.chain.chain_id,
             base_url(service), head.height, service.final_height, orderer,
             shown_database(config.database_url),
             extra={"node_id": config.node_id, "chain_id": service.chain.chain_id,
                    "url": base_url(service), "height": head.height})


def log_ready(service: NodeService, port: int) -> None:
    """Log that the node listens on `port` and runs: the line to wait for."""
    url = base_url(service, port)
    metrics = service.metrics_listener
    log.info("ready: node %s serves %s (API docs at %s/docs)%s", service.config.node_id, url,
             url, f"; metrics at {metrics.url}" if metrics is not None else "",
             extra={"node_id": service.config.node_id, "url": url,
                    "metrics_url": metrics.url if metrics is not None else None})


def log_stopped(service: NodeService) -> None:
    """Log that the node stopped, and where its chain stands."""
    log.info("node %s stopped at height %d (final %d)", service.config.node_id,
             service.chain.head.height, service.final_height)


class AnnouncingServer(uvicorn.Server):
    """A uvicorn server that logs the node's ready line once it listens."""

    def __init__(self, config: uvicorn.Config, service: NodeService) -> None:
        super().__init__(config)
        self.service = service

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start as uvicorn does (the node's lifespan, then the sockets); then say ready."""
        await super().startup(sockets)
        if self.should_exit or not self.servers:
            return
        bound = self.servers[0].sockets[0].getsockname()[1]
        log_ready(self.service, int(bound))
