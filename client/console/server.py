"""Serving the console: unlock the key, open the database, listen, say where, stop cleanly.

`serve` opens the keystore (the key stays in this process), opens the
console's database, binds the listening socket itself (port 0 takes a free
one) and runs uvicorn on it.  It says a start banner (the organisation, the
URL, the nodes, the database) and, once the port listens, a ready line a
script can wait for, `ready: console of NAME serves URL`; Ctrl+C or SIGTERM
stops it with a stop line, never a traceback.
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Callable
from types import FrameType

import uvicorn
from sqlalchemy.engine import make_url

from client.console.app import create_app
from client.console.config import ConsoleConfig
from client.console.services import Console, open_console
from client.sdk.keystore import load_keystore

Say = Callable[[str], None]


class _Stop(Exception):
    """Raised by the SIGTERM handler once uvicorn has shut down, to end `serve` quietly."""


class _Announcing(uvicorn.Server):
    """uvicorn's server, saying the ready line once it listens and a stop line at the end."""

    def __init__(self, config: uvicorn.Config, ready: str, stopped: str, say: Say) -> None:
        super().__init__(config)
        self._lines = (ready, stopped)
        self._say = say

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start as uvicorn does; then say the ready line."""
        await super().startup(sockets)
        if self.started:
            self._say(self._lines[0])

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Stop as uvicorn does; then say the stop line."""
        await super().shutdown(sockets)
        self._say(self._lines[1])


def bind(host: str, port: int) -> socket.socket:
    """Return a listening socket on `host`:`port` (0: a free port); raise OSError if taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(config: ConsoleConfig, port: int) -> str:
    """Return the URL the console serves at on `port`."""
    host = f"[{config.host}]" if ":" in config.host else config.host
    return f"{'https' if config.https else 'http'}://{host}:{port}"


def prepare(config: ConsoleConfig, password: str) -> Console:
    """Open the keystore and the database; raise KeystoreError, CertificateError or OSError."""
    identity = load_keystore(config.keystore, password)
    return open_console(config, identity, password)


def serve(config: ConsoleConfig, console: Console, say: Say) -> None:
    """Serve `console` until Ctrl+C or SIGTERM; raise OSError if the port cannot be bound."""
    sock = bind(config.host, config.port)
    url = url_of(config, sock.getsockname()[1])
    who = f"{console.org_name} ({console.org_uscc})"
    database = make_url(console.config.database_url).render_as_string(hide_password=True)
    say(f"console of {who} starting at {url}: nodes {', '.join(config.nodes)}; "
        f"database {database}; TOTP {'required for checkers and admins' if config.totp else 'off'}")
    served = uvicorn.Config(
        create_app(console), log_level="warning", access_log=False, log_config=None,
        ssl_certfile=str(config.serve_cert) if config.serve_cert else None,
        ssl_keyfile=str(config.serve_key) if config.serve_key else None)
    server = _Announcing(served, f"ready: console of {who} serves {url}",
                         f"console of {who} stopped", say)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise _Stop()

    previous = signal.signal(signal.SIGTERM, stop)  # uvicorn re-raises it after shutting down
    try:
        server.run(sockets=[sock])
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        console.signer.close()
        sock.close()
