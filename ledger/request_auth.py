"""Signed HTTP requests: how a member proves who it is when it reads the ledger.

The client signs (domain tag REQUEST) the canonical JSON of the chain id,
the id of the node the request is addressed to, the method, the request
target (path and query as sent), a timestamp, a fresh nonce and the SHA-256
of the body, and sends the signature with its USCC in headers.  The node
checks the signature against the member's registered key, with its own node
id, the timestamp against its clock and the nonce against those recently
seen, so a captured request can be neither altered, nor replayed at this
node, nor replayed at another node of the consortium (each node remembers
only its own nonces, which is why the addressee is signed).
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.canonical import canonical_bytes
from ledger.crypto import Domain, PrivateKey, b64encode, sha256_hex

HEADER_MEMBER = "X-Ledger-Member"
HEADER_TIME = "X-Ledger-Time"
HEADER_NONCE = "X-Ledger-Nonce"
HEADER_SIGNATURE = "X-Ledger-Signature"
HEADER_NODE = "X-Ledger-Node"  # instead of HEADER_MEMBER when a node signs (block sync)


@dataclass(frozen=True)
class RequestToSign:
    """The parts of an HTTP request that a member signs."""

    chain_id: str
    node: str  # the id of the node addressed (GET /v1/health says it)
    method: str
    path: str
    time: str
    nonce: str
    body: bytes

    def message(self) -> bytes:
        """Return the canonical bytes that are signed."""
        return canonical_bytes({
            "chain_id": self.chain_id,
            "node": self.node,
            "method": self.method.upper(),
            "path": self.path,
            "time": self.time,
            "nonce": self.nonce,
            "body_sha256": sha256_hex(self.body),
        })


def sign_request(request: RequestToSign, member: str, key: PrivateKey, *,
                 signer_header: str = HEADER_MEMBER) -> dict[str, str]:
    """Return the headers that authenticate `request` as coming from `member`.

    A registered node signs the same way, naming itself in `HEADER_NODE`.
    """
    signature = key.sign(Domain.REQUEST, request.message())
    return {
        signer_header: member,
        HEADER_TIME: request.time,
        HEADER_NONCE: request.nonce,
        HEADER_SIGNATURE: b64encode(signature),
    }
