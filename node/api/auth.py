"""Authenticating callers: every read is a signed request from a consortium member.

A header that merely names the caller proves nothing; the node checks the
Ed25519 signature over the request (ledger.request_auth) against the key the
ledger holds for that member, that the member is active, that the timestamp
is within the allowed skew of the node's clock, and that the nonce has not
been seen within that window.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from datetime import timedelta

from ledger.attestation import NodeInfo
from ledger.crypto import Domain, PublicKey, b64decode
from ledger.errors import LedgerError, SignatureError
from ledger.membership import Member
from ledger.request_auth import (
    HEADER_MEMBER,
    HEADER_NODE,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIME,
    RequestToSign,
)
from ledger.timefmt import parse_timestamp
from node.service import NodeService

NONCE_PATTERN = re.compile(r"[0-9a-f]{16,64}")
MAX_REMEMBERED_NONCES = 1_000_000


class AuthenticationError(LedgerError):
    """Raised when a request is not signed by an active consortium member."""

    code = "unauthenticated"


class RecentNonces:
    """Request nonces seen within the skew window (older ones can no longer be replayed)."""

    def __init__(self, window_s: float) -> None:
        self._window = window_s
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, member: str, nonce: str) -> bool:
        """Record the nonce; return False if it was already used recently."""
        now = time.monotonic()
        with self._lock:
            while self._seen and (
                next(iter(self._seen.values())) < now - 2 * self._window
                or len(self._seen) > MAX_REMEMBERED_NONCES
            ):
                self._seen.popitem(last=False)
            if (member, nonce) in self._seen:
                return False
            self._seen[(member, nonce)] = now
            return True


def authenticate(
    service: NodeService, nonces: RecentNonces, *, method: str, path: str,
    headers: dict[str, str], body: bytes,
) -> Member:
    """Return the member who signed this request; raise AuthenticationError otherwise."""
    member_id = headers.get(HEADER_MEMBER.lower())
    member = service.member(member_id) if member_id else None
    if member_id and (member is None or not member.is_active):
        raise AuthenticationError(f"{member_id} is not an active member of this consortium")
    _check_signed(service, nonces, HEADER_MEMBER, member.public_key if member else None,
                  method=method, path=path, headers=headers, body=body)
    assert member is not None  # _check_signed refused a request naming no member
    return member


def authenticate_node(
    service: NodeService, nonces: RecentNonces, *, method: str, path: str,
    headers: dict[str, str], body: bytes,
) -> NodeInfo:
    """Return the registered node that signed this request; raise AuthenticationError."""
    node_id = headers.get(HEADER_NODE.lower())
    node = service.queries.registered_node(node_id) if node_id else None
    if node_id and node is None:
        raise AuthenticationError(f"{node_id} is not a registered node of this consortium")
    _check_signed(service, nonces, HEADER_NODE, node.public_key if node else None,
                  method=method, path=path, headers=headers, body=body)
    assert node is not None
    return node


def _check_signed(
    service: NodeService, nonces: RecentNonces, signer_header: str, key: PublicKey | None, *,
    method: str, path: str, headers: dict[str, str], body: bytes,
) -> None:
    """Check the request signature headers against `key` (the signer named in `signer_header`)."""
    signer, stamp, nonce, signature = (
        headers.get(name.lower()) for name in
        (signer_header, HEADER_TIME, HEADER_NONCE, HEADER_SIGNATURE)
    )
    if not (signer and stamp and nonce and signature) or key is None:
        raise AuthenticationError(
            f"requests must be signed: send {signer_header}, X-Ledger-Time, "
            "X-Ledger-Nonce and X-Ledger-Signature"
        )
    if not NONCE_PATTERN.fullmatch(nonce):
        raise AuthenticationError("X-Ledger-Nonce must be 16 to 64 lower-case hex digits")
    _check_time(service, stamp)
    node_id = service.config.node_id
    request = RequestToSign(service.queries.chain_id, node_id, method, path, stamp, nonce, body)
    try:
        raw = b64decode(signature, what="X-Ledger-Signature")
        key.verify(Domain.REQUEST, request.message(), raw)
    except SignatureError as exc:
        raise AuthenticationError(
            f"the request signature does not verify (a request is signed for the node it is "
            f"sent to, with its target as sent; this is node {node_id})") from exc
    if not nonces.claim(signer, nonce):
        raise AuthenticationError("this request nonce was already used (replayed request)")


def _check_time(service: NodeService, stamp: str) -> None:
    try:
        moment = parse_timestamp(stamp, what="X-Ledger-Time")
    except LedgerError as exc:
        raise AuthenticationError(str(exc)) from exc
    skew = timedelta(seconds=service.config.request_clock_skew_s)
    if abs(moment - service.clock.now()) > skew:
        raise AuthenticationError("X-Ledger-Time is too far from the node's clock")
