"""A signed HTTP connection to one node.

Every request carries the member's signature (ledger.request_auth), so the
node knows who is asking and can show it only what it may see.  Errors come
back as `NodeError` with the node's code and text.

On a network the connection is mutual TLS: pass `tls`, a context that trusts
the consortium CA and presents the member's certificate
(`Consortium.tls_context(alias, password)` or `member_tls_context`).
"""

from __future__ import annotations

import secrets
import ssl
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from client.keystore import Identity
from ledger.request_auth import RequestToSign, sign_request
from ledger.timefmt import format_timestamp

Now = Callable[[], datetime]


def system_now() -> datetime:
    """Return the current UTC time."""
    return datetime.now(UTC)


class NodeError(Exception):
    """Raised when a node answers with an error (4xx/5xx) or cannot be reached."""

    def __init__(self, status: int, code: str, detail: str, body: Any = None) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.body = body


class NodeClient:
    """Signed JSON requests as one member, to one node or to the first of several that answers.

    With several node URLs (any nodes of the consortium), a request that
    cannot reach its node (refused, reset, timed out) is sent to the next
    one, and that node stays the current one.  Every node holds the same
    ledger, so reads are the same; a resubmitted transaction is recognised
    by its id wherever it already arrived.
    """

    def __init__(
        self, base_url: str | Sequence[str], identity: Identity, *, chain_id: str | None = None,
        now: Now = system_now, timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None, tls: ssl.SSLContext | None = None,
    ) -> None:
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        if not urls:
            raise ValueError("a node client needs at least one node URL")
        self.urls = [u.rstrip("/") for u in urls]
        self._current = 0
        self.failovers = 0  # how often a request moved on to another node
        for url in self.urls:
            if url.startswith("https:") and tls is None and transport is None:
                raise ValueError(f"{url} is a TLS node: pass tls (the consortium CA and this "
                                 f"member's certificate, see Consortium.tls_context)")
        self.identity = identity
        self.now = now
        self._http = httpx.Client(timeout=timeout, transport=transport,
                                  verify=tls if tls is not None else True)
        self.chain_id = chain_id or self._fetch_chain_id()

    @property
    def base_url(self) -> str:
        """Return the URL of the node currently used."""
        return self.urls[self._current]

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _fetch_chain_id(self) -> str:
        answer = self._send("GET", "/v1/health", b"", {})
        return str(answer["chain_id"])

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET `path` with query `params`; return the decoded JSON answer."""
        return self.request("GET", path, params=params)

    def post(self, path: str, payload: Any, params: Mapping[str, Any] | None = None) -> Any:
        """POST `payload` as JSON to `path`; return the decoded JSON answer."""
        return self.request("POST", path, params=params, payload=payload)

    def request(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
        payload: Any = None,
    ) -> Any:
        """Send a signed request and return the decoded answer; raise NodeError on failure."""
        query = urlencode({k: _param(v) for k, v in (params or {}).items() if v is not None})
        target = f"{path}?{query}" if query else path
        body = b"" if payload is None else orjson.dumps(payload)
        unsigned = RequestToSign(self.chain_id, method, target, format_timestamp(self.now()),
                                 secrets.token_hex(16), body)
        headers = sign_request(unsigned, self.identity.uscc, self.identity.key)
        if payload is not None:
            headers["Content-Type"] = "application/json"
        return self._send(method, target, body, headers)

    def _send(self, method: str, target: str, body: bytes, headers: dict[str, str]) -> Any:
        response = self._exchange(method, target, body, headers)
        try:
            answer = orjson.loads(response.content) if response.content else None
        except orjson.JSONDecodeError:
            answer = None
        if response.status_code >= 400:
            code = answer.get("error", "error") if isinstance(answer, dict) else "error"
            detail = answer.get("detail", response.text) if isinstance(answer, dict) else (
                response.text)
            raise NodeError(response.status_code, code, detail, answer)
        return answer


    def _exchange(self, method: str, target: str, body: bytes,
                  headers: dict[str, str]) -> httpx.Response:
        """Send to the current node, failing over to the others; raise NodeError if none answers."""
        errors = []
        for _ in range(len(self.urls)):
            url = self.base_url
            try:
                return self._http.request(method, url + target, content=body, headers=headers)
            except httpx.HTTPError as exc:
                errors.append(f"{url}: {type(exc).__name__} {exc}")
                self._current = (self._current + 1) % len(self.urls)
                self.failovers += 1
        raise NodeError(0, "unreachable", "; ".join(errors))


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
