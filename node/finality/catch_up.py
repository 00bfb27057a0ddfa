"""Catching up from peers: certified blocks for a node the compacted log left behind.

Once every node attested past them (or they fell out of the retention
window), the ordering log's old batches are deleted.  A node that was away
that long asks its peers for the missing blocks.  It trusts no peer: each
block must carry a finality certificate from a quorum of organisations for
its header hash, must extend this node's head, the signed batch sent with it
must be the one it was made from (so this node keeps the batch too), and
re-executing its transactions here must reproduce that exact header.
"""

from __future__ import annotations

import logging
import secrets
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

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
SYNC_PAGE = 20


class CatchUpFailed(LedgerError):
    """No peer could supply the blocks this node needs."""


@dataclass(frozen=True)
class CertifiedBlock:
    """A block as a peer serves it: header, transactions, batch and certificate.

    `batch` is the signed batch the block was made from, or None when the
    peer kept none (a block it committed before batches were kept).
    """

    header: BlockHeader
    envelopes: list[Envelope]
    attestations: list[Attestation]
    batch: bytes | None = None

    @classmethod
    def from_json(cls, value: Any) -> CertifiedBlock:
        """Parse a served block; raise LedgerError if malformed."""
        if not isinstance(value, dict):
            raise LedgerError("a synced block must be a JSON object")
        try:
            batch = value.get("batch")
            return cls(BlockHeader.from_json(value["header"]),
                       [parse_envelope(t) for t in value["transactions"]],
                       [Attestation.from_json(a) for a in value["attestations"]],
                       None if batch is None else b64decode(batch, what="the block's batch"))
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

    def fetch(self, chain_id: str, start: int, limit: int = SYNC_PAGE) -> list[CertifiedBlock]:
        """Return certified blocks from height `start` from the first peer that has them."""
        path = "/v1/sync/blocks?" + urlencode({"from": start, "limit": limit})
        errors = []
        for url in self.urls:
            try:
                request = RequestToSign(chain_id, self._peer_id(url), "GET", path,
                                        timestamp(self._clock), secrets.token_hex(16), b"")
                headers = sign_request(request, self._node_id, self._key,
                                       signer_header=HEADER_NODE)
                response = self._http.request("GET", url + path, headers=headers)
            except ClientClosed:
                raise CatchUpFailed("this node is stopping: its peers' client is closed") from None
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                errors.append(f"{url}: {type(exc).__name__}")  # unreachable, or no node id
                continue
            if response.status_code != 200:
                errors.append(f"{url}: HTTP {response.status_code} {response.text[:200]}")
                continue
            blocks = response.json().get("blocks", [])
            if blocks:
                return [CertifiedBlock.from_json(b) for b in blocks]
            errors.append(f"{url}: no final block from height {start}")
        raise CatchUpFailed(f"no peer served block {start}: " + "; ".join(errors or ["no peers"]))


def catch_up_from_peers(
    chain: Chain, peers: Peers, target: int,
) -> list[tuple[list[CommittedTx], list[Attestation]]]:
    """Fetch, check and re-execute certified blocks until the head reaches `target`.

    Returns, per applied block, what it committed and its checked
    certificate.  Raises CatchUpFailed if no peer can serve the next block,
    LedgerError if a served block fails its checks (the caller retries).
    """
    applied = []
    while chain.head.height < target:
        blocks = peers.fetch(chain.chain_id, chain.head.height + 1)
        for block in blocks:
            height = block.header.height
            if height != chain.head.height + 1:
                raise LedgerError(f"a peer served block {height} when "
                                  f"{chain.head.height + 1} was asked for")
            if height > target:
                break
            certificate = check_certificate(chain.chain_id, height, block.header.hash(),
                                            block.attestations, chain.nodes())
            applied.append((chain.apply_certified(block.header, block.envelopes, block.batch),
                            certificate))
            log.info("caught up block %d from a peer", height)
    return applied
