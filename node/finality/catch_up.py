"""Catching up from peers: certified blocks for a node the compacted log left behind.

Once every node attested past them (or they fell out of the retention
window), the ordering log's old batches are deleted.  A node that was away
that long, or joins late, asks its peers for the missing blocks, from
genesis if need be.  It trusts no peer: each block must carry a finality
certificate from a quorum of organisations for its header hash, must extend
this node's head, the signed batch sent with it must be the one it was made
from (so this node keeps the batch too), and re-executing its transactions
here must reproduce that exact header (`Chain.apply_certified`).  A peer
whose block fails any of this is passed over for the rest of the catch-up,
and the same heights are asked of the next peer.

For speed (issue 17: from genesis at 5,000 transactions a second), pages are
bounded by bytes on the serving side rather than by a small count of blocks,
the next pages are fetched and parsed in a thread of their own while this
one applies the current page, and a block's transactions are taken from its
batch (the list served beside it is parsed only for a block without one).
"""

from __future__ import annotations

import logging
import queue
import secrets
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from ledger.attestation import Attestation, check_certificate
from ledger.block import BlockHeader
from ledger.crypto import PrivateKey, b64decode
from ledger.errors import LedgerError
from ledger.request_auth import HEADER_NODE, RequestToSign, sign_request
from ledger.tx import Envelope, parse_envelope
from node.clock import Clock, timestamp
from node.pipeline.chain import Chain, CommittedTx
from node.transport.shared_client import ClientClosed, SharedClient

log = logging.getLogger(__name__)
SYNC_PAGE = 100  # blocks asked for at once; the serving node stops sooner, at SYNC_PAGE_BYTES
PREFETCH_PAGES = 2  # pages fetched ahead of the one being applied
Applied = Callable[[list[CommittedTx], list[Attestation]], None]


class CatchUpFailed(LedgerError):
    """No peer could supply the blocks this node needs."""


@dataclass(frozen=True)
class CertifiedBlock:
    """A block as a peer serves it: header, transactions, batch and certificate.

    `batch` is the signed batch the block was made from, or None when the
    peer kept none (a block it committed before batches were kept);
    `transactions` are the wire envelopes as served (parsed by
    `envelopes`); `peer` is the URL it came from.
    """

    header: BlockHeader
    transactions: list[Any]
    attestations: list[Attestation]
    batch: bytes | None = None
    peer: str = field(default="", compare=False)

    @property
    def envelopes(self) -> list[Envelope]:
        """Return the served transactions parsed; raise LedgerError if one is malformed."""
        return [parse_envelope(t) for t in self.transactions]

    @classmethod
    def from_json(cls, value: Any, peer: str = "") -> CertifiedBlock:
        """Parse a served block; raise LedgerError if malformed."""
        if not isinstance(value, dict):
            raise LedgerError("a synced block must be a JSON object")
        try:
            batch, transactions = value.get("batch"), value["transactions"]
            if not isinstance(transactions, list):
                raise LedgerError("a synced block's transactions must be a list")
            return cls(BlockHeader.from_json(value["header"]), transactions,
                       [Attestation.from_json(a) for a in value["attestations"]],
                       None if batch is None else b64decode(batch, what="the block's batch"),
                       peer)
        except (KeyError, TypeError) as exc:
            raise LedgerError(f"a synced block lacks {exc}") from exc


class Peers:
    """The other nodes of the consortium, asked in turn for certified blocks."""

    def __init__(self, urls: Sequence[str], *, node_id: str, key: PrivateKey, clock: Clock,
                 verify: ssl.SSLContext | bool = True, timeout_s: float = 10.0) -> None:
        self.urls = [u.rstrip("/") for u in urls]
        self._node_id = node_id
        self._key = key
        self._clock = clock
        self._http = SharedClient(verify=verify, timeout=timeout_s)
        self._peer_ids: dict[str, str] = {}

    def close(self) -> None:
        """Close the connections once a fetch under way ends (node/transport/shared_client.py)."""
        self._http.close()

    def _peer_id(self, url: str) -> str:
        """Return the node id of the peer at `url` (its health answer, asked once).

        A request is signed for the node it is addressed to; on a network the
        peer's answer comes over mutual TLS from a node certificate of the CA.
        """
        known = self._peer_ids.get(url)
        if known is None:
            answer = self._http.request("GET", url + "/v1/health").json()
            known = self._peer_ids[url] = str(answer["node_id"])
        return known

    def fetch(self, chain_id: str, start: int, limit: int = SYNC_PAGE,
              skip: Mapping[str, str] | None = None) -> list[CertifiedBlock]:
        """Return certified blocks from height `start` from the first peer that has them.

        Peers in `skip` (URL -> why) are passed over.  Raises CatchUpFailed,
        with each peer's reason, if none answered with well-formed blocks.
        """
        path = "/v1/sync/blocks?" + urlencode({"from": start, "limit": limit})
        errors = [f"{url}: {why}" for url, why in (skip or {}).items()]
        for url in self.urls:
            if skip and url in skip:
                continue
            try:
                blocks = self._fetch_from(url, chain_id, path)
            except ClientClosed:
                raise CatchUpFailed("this node is stopping: its peers' client is closed") from None
            except (httpx.HTTPError, ValueError, KeyError, TypeError, LedgerError) as exc:
                errors.append(f"{url}: {type(exc).__name__} {str(exc)[:200]}")  # unreachable,
                continue  # no node id, an error answer or a malformed block
            if blocks:
                return blocks
            errors.append(f"{url}: no final block from height {start}")
        raise CatchUpFailed(f"no peer served block {start}: " + "; ".join(errors or ["no peers"]))

    def _fetch_from(self, url: str, chain_id: str, path: str) -> list[CertifiedBlock]:
        """Return the blocks the peer at `url` serves at `path`; raise if it cannot."""
        request = RequestToSign(chain_id, self._peer_id(url), "GET", path,
                                timestamp(self._clock), secrets.token_hex(16), b"")
        headers = sign_request(request, self._node_id, self._key, signer_header=HEADER_NODE)
        response = self._http.request("GET", url + path, headers=headers)
        if response.status_code != 200:
            raise LedgerError(f"HTTP {response.status_code} {response.text[:200]}")
        blocks = orjson.loads(response.content).get("blocks", [])
        if not isinstance(blocks, list):
            raise LedgerError("the answer's blocks are not a list")
        return [CertifiedBlock.from_json(b, url) for b in blocks]


class _Prefetcher:
    """Fetches and parses the pages from `start` to `target` in a thread, PREFETCH_PAGES ahead.

    A failure to fetch ends the pages with that error (`next_page` raises
    it); `close` stops the thread, which drops what it fetched.
    """

    def __init__(self, peers: Peers, chain_id: str, start: int, target: int,
                 skip: Mapping[str, str]) -> None:
        self._peers, self._chain_id, self._target, self._skip = peers, chain_id, target, skip
        self._queue: queue.Queue[list[CertifiedBlock] | BaseException | None] = queue.Queue(
            maxsize=PREFETCH_PAGES)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(start,), daemon=True,
                                        name="catch-up-fetch")
        self._thread.start()

    def _run(self, start: int) -> None:
        try:
            while start <= self._target and not self._stop.is_set():
                blocks = self._peers.fetch(self._chain_id, start, skip=self._skip)
                self._put(blocks)
                start += len(blocks)  # heights are checked as the blocks are applied
        except BaseException as exc:  # handed to the applying thread, which raises it
            self._put(exc)
        self._put(None)

    def _put(self, item: list[CertifiedBlock] | BaseException | None) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def next_page(self) -> list[CertifiedBlock] | None:
        """Return the next page (None after the last); raise what stopped the fetching."""
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def blocks(self) -> Iterator[CertifiedBlock]:
        """Yield the fetched blocks in order."""
        while (page := self.next_page()) is not None:
            yield from page

    def close(self) -> None:
        """Stop fetching."""
        self._stop.set()
        self._thread.join(timeout=30)


def catch_up_from_peers(chain: Chain, peers: Peers, target: int,
                        applied: Applied | None = None) -> int:
    """Fetch, check and re-execute certified blocks until the head reaches `target`.

    `applied(committed, certificate)` is called after each block commits,
    with what it committed and its checked certificate.  A block that
    fails a check has this node pass over the peer that served it and ask
    the next one.  Returns the number of blocks applied; raises
    CatchUpFailed when no peer is left that serves the next block (the
    caller retries later).
    """
    count, distrusted = 0, dict[str, str]()
    while chain.head.height < target:
        fetcher = _Prefetcher(peers, chain.chain_id, chain.head.height + 1, target,
                              dict(distrusted))  # a copy: the thread reads it meanwhile
        try:
            for block in fetcher.blocks():
                if chain.head.height >= target:
                    break
                try:
                    committed, certificate = _apply(chain, block)
                except CatchUpFailed:
                    raise
                except LedgerError as exc:
                    log.warning("a block from %s failed its checks (%s); asking another peer",
                                block.peer, exc)
                    distrusted[block.peer] = f"its block {block.header.height} failed: {exc}"
                    break
                count += 1
                if applied is not None:
                    applied(committed, certificate)
        finally:
            fetcher.close()
    return count


def _apply(chain: Chain, block: CertifiedBlock) -> tuple[list[CommittedTx], list[Attestation]]:
    """Check one served block's certificate and commit it; raise LedgerError if it fails."""
    height = block.header.height
    if height != chain.head.height + 1:
        raise LedgerError(f"a peer served block {height} when {chain.head.height + 1} was "
                          "asked for")
    certificate = check_certificate(chain.chain_id, height, block.header.hash(),
                                    block.attestations, chain.nodes())
    envelopes = None if block.batch is not None else block.envelopes
    committed = chain.apply_certified(block.header, envelopes, block.batch)
    if height % 100 == 0:
        log.info("caught up block %d from %s", height, block.peer)
    return committed, certificate
