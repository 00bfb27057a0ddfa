"""Mutual TLS for a node: what uvicorn serves with, and the node's own client context.

With `tls_cert_path`, `tls_key_path` and `tls_ca_path` set, the node serves
HTTPS and *requires* every client to present a certificate issued by the
consortium CA (`ssl.CERT_REQUIRED`, TLS 1.3 only: the consortium's
certificates are Ed25519, and every party here speaks TLS 1.3).  OpenSSL
checks the chain to the CA and the validity period during the handshake; a
client without such a certificate gets no HTTP answer at all.  Which member
may do what is still decided per request, from its signature and its
membership status on chain.

Without these settings the node serves plain HTTP: that mode is only for the
embedded single-machine default (demo, tests, one host on loopback).

`client_context` is the node's own client side (trusts the CA, presents the
node certificate): for etcd, and for calls to other nodes.
"""

from __future__ import annotations

import ssl
from typing import Any

import uvicorn

from node.config import NodeConfig
from node.transport import head_limits

MIN_VERSION = ssl.TLSVersion.TLSv1_3

# Idle keep-alive connections are closed after this long: longer than the SDK keeps them
# pooled (client/sdk/http.py KEEPALIVE_EXPIRY_S), so it never sends on one being closed
KEEP_ALIVE_S = 15


def enabled(config: NodeConfig) -> bool:
    """Return whether `config` asks for TLS; raise ValueError if it is only half set up."""
    given = {"tls_cert_path": config.tls_cert_path, "tls_key_path": config.tls_key_path,
             "tls_ca_path": config.tls_ca_path}
    if all(v is None for v in given.values()):
        return False
    missing = sorted(k for k, v in given.items() if v is None)
    if missing:
        raise ValueError(f"TLS needs tls_cert_path, tls_key_path and tls_ca_path together; "
                         f"missing: {', '.join(missing)}")
    for name, path in given.items():
        if path is not None and not path.is_file():
            raise ValueError(f"{name}: no such file {path}")
    return True


def server_kwargs(config: NodeConfig) -> dict[str, Any]:
    """Return uvicorn's TLS settings for `config` (empty: plain HTTP)."""
    if not enabled(config):
        return {}
    return {"ssl_certfile": str(config.tls_cert_path), "ssl_keyfile": str(config.tls_key_path),
            "ssl_ca_certs": str(config.tls_ca_path), "ssl_cert_reqs": ssl.CERT_REQUIRED}


def uvicorn_config(app: Any, config: NodeConfig, **settings: Any) -> uvicorn.Config:
    """Return a loaded uvicorn config serving `app` on the node's host and port.

    The HTTP protocol caps request heads (`node/transport/head_limits.py`).
    Idle connections stay open KEEP_ALIVE_S, longer than clients keep them.  With TLS,
    the server context is tightened after uvicorn built it: TLS 1.3 only,
    client certificate required.  Raises ValueError for a limit that is not
    positive.
    """
    settings.setdefault("timeout_keep_alive", KEEP_ALIVE_S)
    served = uvicorn.Config(app, host=config.host, port=config.port,
                            http=head_limits.protocol_class(config), **server_kwargs(config),
                            **settings)
    served.load()
    if served.ssl is not None:
        served.ssl.minimum_version = MIN_VERSION
        served.ssl.verify_mode = ssl.CERT_REQUIRED
    return served


def client_context(config: NodeConfig) -> ssl.SSLContext | None:
    """Return the node's client context (trust the CA, present the node cert), or None."""
    if not enabled(config):
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(config.tls_ca_path))
    context.minimum_version = MIN_VERSION
    context.load_cert_chain(str(config.tls_cert_path), str(config.tls_key_path))
    return context
