"""A small client for etcd v3's JSON gateway, with fail-over between members.

The node talks to etcd over HTTP/JSON (HTTPS with client certificates on a
network: see node/transport/tls.py) (`/v3/kv/...`, `/v3/watch`) so no
gRPC or protobuf versions need pinning.  Keys and values travel base64
encoded and 64-bit integers come back as strings; this module hides both.
Every call tries the members in turn until one answers, within a deadline:
when a member dies, or the leader changes, work continues through another.
"""

from __future__ import annotations

import base64
import json
import logging
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from node.transport.shared_client import ClientClosed, SharedClient

log = logging.getLogger(__name__)
COMPACTED_MESSAGE = "required revision has been compacted"
DELETE_CHUNK = 100  # etcd allows 128 operations per transaction by default


class EtcdUnavailable(Exception):
    """No etcd member answered within the deadline."""


class EtcdCompacted(Exception):
    """A watch asked for revisions that etcd has already compacted away."""

    def __init__(self, compact_revision: int) -> None:
        super().__init__(f"etcd history is compacted up to revision {compact_revision}")
        self.compact_revision = compact_revision


@dataclass(frozen=True)
class KeyValue:
    """One etcd key with its value and revisions."""

    key: bytes
    value: bytes
    create_revision: int
    mod_revision: int


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _kv(item: dict[str, Any]) -> KeyValue:
    return KeyValue(
        key=base64.b64decode(item.get("key", "")), value=base64.b64decode(item.get("value", "")),
        create_revision=int(item.get("create_revision", 0)),
        mod_revision=int(item.get("mod_revision", 0)),
    )


def prefix_end(prefix: bytes) -> bytes:
    """Return the range end that covers every key starting with `prefix`."""
    return prefix[:-1] + bytes([prefix[-1] + 1])


class EtcdClient:
    """Unary key-value calls and watches against an etcd cluster."""

    def __init__(self, endpoints: Sequence[str], *, timeout_s: float = 2.0,
                 deadline_s: float = 15.0, ssl_context: ssl.SSLContext | None = None) -> None:
        """Talk to `endpoints`; https ones need `ssl_context` (trust the CA, present a cert)."""
        if not endpoints:
            raise ValueError("etcd needs at least one endpoint")
        self.endpoints = [e.rstrip("/") for e in endpoints]
        if ssl_context is None and any(e.startswith("https:") for e in self.endpoints):
            raise ValueError("https etcd endpoints need a TLS context (the node's certificate "
                             "and the consortium CA: tls_cert_path, tls_key_path, tls_ca_path)")
        self._timeout = timeout_s
        self._deadline = deadline_s
        self._preferred = 0
        self._lock = threading.Lock()
        self._http = SharedClient(timeout=timeout_s,
                                  verify=ssl_context if ssl_context is not None else True)

    def close(self) -> None:
        """Close the HTTP connections once calls under way end; new calls get EtcdUnavailable.

        Open watches are cut short and end; see node/transport/shared_client.py for why
        the connections are not simply closed under them.
        """
        self._http.close()

    def _post(self, url: str, body: dict[str, Any]) -> httpx.Response:
        """POST on the shared client; a closed client is EtcdUnavailable, not a crash."""
        try:
            return self._http.request("POST", url, json=body)
        except ClientClosed:
            raise EtcdUnavailable("the etcd client is closed") from None

    # -- unary calls ----------------------------------------------------------

    def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST `body` to `path` on the first member that answers; raise EtcdUnavailable."""
        started = time.monotonic()
        errors: list[str] = []
        while True:
            with self._lock:
                order = self.endpoints[self._preferred:] + self.endpoints[:self._preferred]
            for endpoint in order:
                try:
                    response = self._post(endpoint + path, body)
                except httpx.HTTPError as exc:
                    errors.append(f"{endpoint}: {type(exc).__name__}")
                    continue
                if response.status_code == 200:
                    with self._lock:
                        self._preferred = self.endpoints.index(endpoint)
                    return dict(response.json())
                if COMPACTED_MESSAGE in response.text:  # a definite answer: retrying cannot help
                    raise EtcdCompacted(0)
                errors.append(f"{endpoint}: HTTP {response.status_code} {response.text[:200]}")
            if time.monotonic() - started > self._deadline:
                raise EtcdUnavailable("no etcd member answered: " + "; ".join(errors[-6:]))
            time.sleep(0.2)

    def put_if_absent(self, key: bytes, value: bytes) -> tuple[bool, int]:
        """Create `key` unless it exists; return (created, its create revision).

        Idempotent: a retry after a lost reply finds the key and reports the
        revision at which the first attempt created it.
        """
        reply = self.call("/v3/kv/txn", {
            "compare": [{"key": _b64(key), "target": "CREATE", "create_revision": "0"}],
            "success": [{"request_put": {"key": _b64(key), "value": _b64(value)}}],
            "failure": [{"request_range": {"key": _b64(key)}}],
        })
        if reply.get("succeeded"):
            return True, int(reply["header"]["revision"])
        kvs = reply["responses"][0]["response_range"].get("kvs", [])
        if not kvs:  # deleted between compare and range: cannot happen in one txn
            raise EtcdUnavailable(f"etcd returned no value for existing key {key!r}")
        return False, int(kvs[0]["create_revision"])

    def range_prefix(self, prefix: bytes, *, min_create_revision: int = 0,
                     max_create_revision: int = 0, limit: int = 0,
                     revision: int = 0, keys_only: bool = False,
                     end: bytes | None = None) -> tuple[list[KeyValue], int, bool]:
        """Read keys under `prefix` (up to `end`) in create order.

        Returns (key-values, the store revision read at, whether more
        remain).  `revision` reads a consistent snapshot; raises
        EtcdCompacted if that snapshot is gone.
        """
        request: dict[str, Any] = {
            "key": _b64(prefix), "range_end": _b64(end or prefix_end(prefix)),
            "sort_order": "ASCEND", "sort_target": "CREATE",
        }
        if min_create_revision:
            request["min_create_revision"] = str(min_create_revision)
        if max_create_revision:
            request["max_create_revision"] = str(max_create_revision)
        if limit:
            request["limit"] = str(limit)
        if revision:
            request["revision"] = str(revision)
        if keys_only:
            request["keys_only"] = True
        reply = self.call("/v3/kv/range", request)
        kvs = [_kv(item) for item in reply.get("kvs", [])]
        return kvs, int(reply["header"]["revision"]), bool(reply.get("more", False))

    def get(self, key: bytes, *, revision: int = 0) -> KeyValue | None:
        """Return the key's value (now, or at store `revision`), or None.

        Raises EtcdCompacted if `revision` is older than the compacted history.
        """
        request: dict[str, Any] = {"key": _b64(key)}
        if revision:
            request["revision"] = str(revision)
        reply = self.call("/v3/kv/range", request)
        kvs = reply.get("kvs", [])
        return _kv(kvs[0]) if kvs else None

    def put_if_unchanged(self, key: bytes, value: bytes, mod_revision: int) -> bool:
        """Write `key` only if it was last modified at `mod_revision` (0: absent)."""
        reply = self.call("/v3/kv/txn", {
            "compare": [{"key": _b64(key), "target": "MOD", "mod_revision": str(mod_revision)}],
            "success": [{"request_put": {"key": _b64(key), "value": _b64(value)}}],
        })
        return bool(reply.get("succeeded"))

    def delete_keys(self, keys: Sequence[bytes]) -> int:
        """Delete the given keys (in one transaction per chunk); return the last revision."""
        revision = 0
        for start in range(0, len(keys), DELETE_CHUNK):
            chunk = keys[start:start + DELETE_CHUNK]
            reply = self.call("/v3/kv/txn", {"success": [
                {"request_delete_range": {"key": _b64(k)}} for k in chunk]})
            revision = int(reply["header"]["revision"])
        return revision

    def delete_range(self, start: bytes, end: bytes) -> int:
        """Delete every key in [start, end); return the revision after."""
        reply = self.call("/v3/kv/deleterange", {"key": _b64(start), "range_end": _b64(end)})
        return int(reply["header"]["revision"])

    def compact(self, revision: int) -> bool:
        """Drop history before `revision` (physically); False if it was already compacted."""
        try:
            self.call("/v3/kv/compaction", {"revision": str(revision), "physical": True})
        except EtcdCompacted:
            return False
        return True

    # -- watches --------------------------------------------------------------

    def watch_prefix(self, prefix: bytes, start_revision: int,
                     stop: threading.Event) -> Iterator[list[KeyValue]]:
        """Yield batches of PUT events under `prefix` from `start_revision` on, forever.

        Reconnects to another member when a stream breaks, resuming after
        the last revision seen; raises EtcdCompacted if the history asked
        for is gone.  Returns when `stop` is set.
        """
        next_revision = start_revision
        attempt = 0
        while not stop.is_set():
            with self._lock:
                endpoint = self.endpoints[(self._preferred + attempt) % len(self.endpoints)]
            try:
                for events in self._stream(endpoint, prefix, next_revision, stop):
                    attempt = 0
                    if events:
                        next_revision = events[-1].mod_revision + 1
                        yield events
            except ClientClosed:
                return
            except httpx.HTTPError as exc:
                if self._http.closed:  # cut short by close()
                    return
                log.info("etcd watch on %s broke (%s); trying another member", endpoint,
                         type(exc).__name__)
            attempt += 1
            if attempt % len(self.endpoints) == 0:
                stop.wait(0.2)

    def _stream(self, endpoint: str, prefix: bytes, start: int,
                stop: threading.Event) -> Iterator[list[KeyValue]]:
        request = {"create_request": {
            "key": _b64(prefix), "range_end": _b64(prefix_end(prefix)),
            "start_revision": str(start), "filters": ["NODELETE"], "progress_notify": True,
        }}
        timeout = httpx.Timeout(self._timeout, read=15.0)
        with self._http.stream("POST", endpoint + "/v3/watch", json=request,
                               timeout=timeout) as response:
            if response.status_code != 200:
                raise httpx.HTTPStatusError("watch refused", request=response.request,
                                            response=response)
            for line in response.iter_lines():
                if stop.is_set():
                    return
                if not line.strip():
                    continue
                result = json.loads(line).get("result", {})
                compacted = int(result.get("compact_revision", 0))
                if compacted:
                    raise EtcdCompacted(compacted)
                if result.get("canceled"):
                    raise httpx.StreamError(f"watch canceled: {result.get('cancel_reason')}")
                yield [_kv(e["kv"]) for e in result.get("events", [])
                       if e.get("type", "PUT") == "PUT"]
