"""A signed HTTP connection to one node.

Every request carries the member's signature (ledger.request_auth), so the
node knows who is asking and can show it only what it may see.  A request is
signed for the node it goes to (its id, from `GET /v1/health`), so it is
signed again for each node a fail-over tries.  Errors come back as
`NodeError` with the node's code and text; a submission the node refused
because it cannot take it now (503: it cannot order, its backlog is full)
comes back as `NotAccepted`, a NodeError meaning nothing was accepted.

Requests are signed with the time, which the node checks against its own
clock: the system clock, or a simulation node's own time, which a client
given no clock of its own follows (client/sdk/node_clock.py); a request
refused (401) by a followed node whose clock has moved since is signed
again with its new time.

On a network the connection is mutual TLS: pass `tls`, a context that trusts
the consortium CA and presents the member's certificate
(`client_context` of `client.sdk.tls`; on a local consortium
`Consortium.tls_context(alias, password)` builds the same).
"""

from __future__ import annotations

import secrets
import ssl
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import httpx
import orjson

from client.sdk.keystore import Identity
from client.sdk.node_clock import ClockAhead, NodeClocks, Now
from ledger.request_auth import RequestToSign, sign_request
from ledger.timefmt import format_timestamp

T = TypeVar("T")


class NodeError(Exception):
    """Raised when a node answers with an error (4xx/5xx) or cannot be reached."""

    def __init__(self, status: int, code: str, detail: str, body: Any = None) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.body = body


class NotAccepted(NodeError):
    """Raised when a node refused a submission with 503: it accepted none of it.

    The node recorded nothing of the refused submission (it could not
    order, its backlog was full, or its database could not record it), so
    submitting the same transactions again, later or through another node,
    is safe.  `retry_after` is the node's Retry-After hint in seconds, if any.
    """

    def __init__(self, status: int, code: str, detail: str, body: Any = None,
                 retry_after: float | None = None) -> None:
        super().__init__(status, code, detail, body)
        self.retry_after = retry_after
        self.args = ("not accepted (nothing was recorded on the node; it is safe to submit the "
                     f"same transactions again later): {status} {code}: {detail}",)


# An idle pooled connection is dropped after this long: well inside the time a node keeps
# it open (15 s, node/transport/tls.py), so a request never goes out on a connection the
# node is closing that moment (reset, no answer: lost to the caller)
KEEPALIVE_EXPIRY_S = 4.0
REFUSAL_CODES = frozenset({"ordering_unavailable", "pending_backlog_full", "storage_unavailable"})
"""The codes of a 503 answer to a submission that mean: nothing of it was accepted."""


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
        now: Now | None = None, timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None, tls: ssl.SSLContext | None = None,
        follow_ahead: bool | None = None,
    ) -> None:
        """Connect as `identity`; with `now`, sign with that clock and follow no node's.

        `follow_ahead` allows following a simulated clock ahead of the system
        clock (see client/sdk/node_clock.py).

        Raises ValueError for no URL, or an https URL without `tls`; NodeError
        if no node answers `GET /v1/health` (unless `chain_id` is given).
        """
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
        self.clocks = NodeClocks(now, follow_ahead)
        self.now = self.clocks.now
        self._http = httpx.Client(timeout=timeout, transport=transport,
                                  verify=tls if tls is not None else True,
                                  limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY_S))
        self._node_ids: dict[str, str] = {}
        self._chain_id = chain_id
        self.chain_id = chain_id or self._fetch_chain_id()

    @property
    def base_url(self) -> str:
        """Return the URL of the node currently used."""
        return self.urls[self._current]

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _fetch_chain_id(self) -> str:
        return self._failover(lambda url: self._health(url)[0])

    def _health(self, url: str) -> tuple[str, str]:
        """Return (chain id, node id) of the node at `url`; raise httpx errors or NodeError."""
        response = self._http.get(url + "/v1/health")
        if response.status_code >= 400:
            self._raise_for(response)
        try:
            answer = orjson.loads(response.content)
            chain_id, node_id = str(answer["chain_id"]), str(answer["node_id"])
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise NodeError(response.status_code, "not_a_node",
                            f"{url} did not answer /v1/health as a node does") from exc
        if self._chain_id is not None and chain_id != self._chain_id:
            raise NodeError(response.status_code, "wrong_chain",
                            f"{url} serves chain {chain_id!r}, not {self._chain_id!r}")
        try:
            self.clocks.learn(url, answer)
        except ValueError as exc:
            raise NodeError(response.status_code, "not_a_node", f"{url}: {exc}") from exc
        self._node_ids[url] = node_id
        return chain_id, node_id

    def simulated_time(self) -> datetime | None:
        """Ask the current node its clock now: a simulation node's time, None on the system clock.

        Raises NodeError if no node answers.
        """
        def ask(url: str) -> datetime | None:
            self._health(url)
            return self.clocks.simulated(url)

        return self._failover(ask)

    def time(self) -> datetime:
        """Return the time requests to the current node are signed with, and transactions dated.

        That is a followed simulation node's time, else `now()`.  Raises
        NodeError if no node answers.
        """
        return self._failover(self._time_at)

    def _time_at(self, url: str) -> datetime:
        """Return the time to sign with at `url` (asking the node its clock, once)."""
        self.node_id(url)
        return self.clocks.signing_time(url)

    def _relearn_clock(self, url: str) -> bool:
        """Ask a node refusing a request for its clock again; return whether to sign again.

        Raises NodeError 'clock_ahead' for a simulation node not followed
        because its clock is ahead of this machine's.
        """
        if not self.clocks.follows:
            return False
        before = self.clocks.simulated(url)
        self._health(url)
        try:
            return self.clocks.moved(url, before)
        except ClockAhead as exc:
            raise NodeError(401, "clock_ahead", str(exc)) from exc

    def node_id(self, url: str) -> str:
        """Return the id of the node at `url` (asked once): requests to it are signed for it."""
        known = self._node_ids.get(url)
        return known if known is not None else self._health(url)[1]

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
        target = _target(path, params)
        body = b"" if payload is None else orjson.dumps(payload)
        return self._send(method, target, body, json_body=payload is not None)

    def _signed(self, url: str, method: str, target: str, body: bytes) -> dict[str, str]:
        """Return the headers that sign this request for the node at `url`."""
        unsigned = RequestToSign(self.chain_id, self.node_id(url), method, target,
                                 format_timestamp(self._time_at(url)), secrets.token_hex(16),
                                 body)
        return sign_request(unsigned, self.identity.uscc, self.identity.key)

    def stream_lines(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[bytes]:
        """GET `path` from the current node and yield its body line by line, undecoded.

        For newline-delimited answers too large to hold (the raw export).
        Each line keeps its newline.  Raises NodeError if the node answers
        with an error or cannot be reached.
        """
        target = _target(path, params)
        try:
            headers = self._signed(self.base_url, "GET", target, b"")
            with self._http.stream("GET", self.base_url + target, headers=headers) as response:
                if response.status_code >= 400:
                    response.read()
                    self._raise_for(response)
                yield from _lines(response.iter_bytes())
        except httpx.HTTPError as exc:
            raise NodeError(0, "unreachable", f"{self.base_url}: {type(exc).__name__} {exc}") \
                from exc

    def _send(self, method: str, target: str, body: bytes, *, json_body: bool) -> Any:
        response = self._exchange(method, target, body, json_body=json_body)
        if response.status_code >= 400:
            self._raise_for(response)
        try:
            return orjson.loads(response.content) if response.content else None
        except orjson.JSONDecodeError:
            return None

    @staticmethod
    def _raise_for(response: httpx.Response) -> None:
        """Raise the NodeError an error answer stands for."""
        try:
            answer = orjson.loads(response.content) if response.content else None
        except orjson.JSONDecodeError:
            answer = None
        code = answer.get("error", "error") if isinstance(answer, dict) else "error"
        detail = answer.get("detail", response.text) if isinstance(answer, dict) else (
            response.text)
        if response.status_code == 503 and code in REFUSAL_CODES:
            raise NotAccepted(response.status_code, code, detail, answer,
                              _seconds(response.headers.get("Retry-After")))
        raise NodeError(response.status_code, code, detail, answer)


    def _exchange(self, method: str, target: str, body: bytes, *,
                  json_body: bool) -> httpx.Response:
        """Send to the current node, failing over to the others; raise NodeError if none answers.

        Each attempt is signed for the node it goes to; one refused (401) by
        a simulation node whose clock has moved since is signed again with
        its new time (a refused request recorded nothing).
        """
        def send(url: str) -> httpx.Response:
            headers = self._signed(url, method, target, body)
            if json_body:
                headers["Content-Type"] = "application/json"
            return self._http.request(method, url + target, content=body, headers=headers)

        def attempt(url: str) -> httpx.Response:
            response = send(url)
            if response.status_code == 401 and self._relearn_clock(url):
                response = send(url)
            return response

        return self._failover(attempt)

    def _failover(self, attempt: Callable[[str], T]) -> T:
        """Run `attempt(url)` on the current node, then the next ones while they are unreachable.

        The node that answers stays the current one.  Raises NodeError
        'unreachable' naming every node's error if none answers.
        """
        errors = []
        for _ in range(len(self.urls)):
            url = self.base_url
            try:
                return attempt(url)
            except httpx.HTTPError as exc:
                errors.append(f"{url}: {type(exc).__name__} {exc}")
                self._current = (self._current + 1) % len(self.urls)
                self.failovers += 1
        raise NodeError(0, "unreachable", "; ".join(errors))


def _lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Yield the newline-terminated lines of a byte stream (the last may lack its newline)."""
    parts: list[bytes] = []
    for chunk in chunks:
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            parts.append(chunk[start:end + 1])
            yield b"".join(parts)
            parts = []
            start = end + 1
        if start < len(chunk):
            parts.append(chunk[start:])
    if parts:
        yield b"".join(parts)


def _seconds(value: str | None) -> float | None:
    """Return a Retry-After value given in seconds, or None (absent, or an HTTP date)."""
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


def _target(path: str, params: Mapping[str, Any] | None) -> str:
    """Return the request target as it goes on the wire (and is signed): percent-encoded.

    `path` may carry a query of its own; `params` are appended to it.
    """
    path, _, given = path.partition("?")
    query = urlencode({k: _param(v) for k, v in (params or {}).items() if v is not None})
    query = "&".join(q for q in (quote(given, safe=PATH_SAFE + "?"), query) if q)
    encoded = quote(path, safe=PATH_SAFE)
    return f"{encoded}?{query}" if query else encoded


PATH_SAFE = "/:@!$&'()*+,;=-._~%"  # RFC 3986 pchar and '/', kept as they are


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
