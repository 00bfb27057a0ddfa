"""How the node talks HTTP: serving (TLS, caps on request heads) and calling out (etcd, peers).

`tls` builds uvicorn's server settings and the node's own client context,
`head_limits` caps request heads inside uvicorn's HTTP protocol, and
`shared_client` is the HTTP client the node shares between threads for etcd
and peers, closed only when no thread is using it.
"""
