"""What the `ledger` command line says when something goes wrong: the problem, then a hint.

Every failure a user can cause (or meet: a stopped node, a missing TLS
option, a wrong password) becomes one message on stderr and exit status 1;
a traceback is never the answer.  `explain` turns each kind of error into
words; an error nobody foresaw is reported as a bug, with the way to see
its traceback (LEDGER_DEBUG=1).
"""

from __future__ import annotations

from client.sdk.http import NodeError, NotAccepted
from client.sdk.keystore import KeystoreError
from client.sdk.participant import TransactionFailed
from ledger.errors import LedgerError

EXPECTED = (NodeError, TransactionFailed, KeystoreError, LedgerError, OSError)
TLS_HINT = ("give --tls-cert certs/<alias>.crt, --tls-key keys/<alias>.tls.pem and --tls-ca "
            "ca/ca.crt from the consortium folder (or LEDGER_TLS_CERT, LEDGER_TLS_KEY, "
            "LEDGER_TLS_CA)")
START_HINT = ("is the node running? Start one with `ledger node start --config DIR/node.toml` "
              "or `ledger network up --dir DIR`, or point --node (LEDGER_NODE) at a running "
              "node")


def explain(exc: BaseException) -> str:
    """Return what went wrong, in words a user can act on."""
    if isinstance(exc, TransactionFailed):
        return (f"refused by the ledger's rules: {exc.status.get('reason')} "
                f"({exc.status.get('code')}; the transaction changed nothing)")
    if isinstance(exc, NotAccepted):
        return str(exc)
    if isinstance(exc, NodeError):
        return _node_error(exc)
    if isinstance(exc, FileNotFoundError):
        return f"no such file: {exc.filename}"
    if isinstance(exc, IsADirectoryError):
        return f"{exc.filename} is a folder, not a file"
    if isinstance(exc, PermissionError):
        return f"not allowed to open {exc.filename}"
    if isinstance(exc, (KeystoreError, LedgerError, OSError)):
        return str(exc)
    return (f"unexpected failure ({type(exc).__name__}: {exc}). This is a bug in the ledger "
            "command line; run again with LEDGER_DEBUG=1 to see where it happened")


def _node_error(exc: NodeError) -> str:
    """Return a node's refusal or an unreachable node in words, with what to do about it."""
    if exc.status == 0:
        return _unreachable(exc.detail)
    if exc.status == 404:
        return f"not found: {exc.detail}"
    if exc.status in (401, 403):
        return f"the node refused you ({exc.code}): {exc.detail}"
    if exc.status == 400:
        return f"the node refused the request: {exc.detail}"
    return f"the node answered {exc.status} {exc.code}: {exc.detail}"


def _unreachable(detail: str) -> str:
    """Return why no node answered, guessing from the transport's words what to do."""
    lowered = detail.lower()
    if "ssl" in lowered or "certificate" in lowered or "tls" in lowered:
        return f"the TLS handshake failed ({detail}); {TLS_HINT}"
    if "disconnected" in lowered or "remoteprotocolerror" in lowered:
        return (f"the node closed the connection ({detail}); if it serves HTTPS, use an "
                f"https:// URL and {TLS_HINT}")
    return f"cannot reach the node ({detail}); {START_HINT}"
