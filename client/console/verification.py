"""The verification bundle: what a participant's browser needs to check a transaction itself.

The console page (static/verify.html, static/verify.js) proves, in the
browser, that a transaction is in the log a quorum of the consortium's nodes
cosigned, and that this log extends the one the browser trusted before.  This
module gathers what that needs through the SDK alone, as the node serves it:
the transaction's signed envelope, the signed checkpoint of the node's final
block, the inclusion proof at that checkpoint's size, a consistency proof from
size 1 (the genesis leaf) and one from the size the browser trusted, and the
genesis document the console was started with.

Nothing here is trusted by the browser.  The envelope is hashed there (tx id
and log leaf), the proofs are recomputed there, and the checkpoint counts only
if nodes of a quorum of organisations cosigned it with the keys the genesis
registers; the genesis counts only if its transaction id is the fingerprint
the browser pinned (on first use, or typed in from the consortium's genesis
file).  So the console cannot forge a passing verdict without the nodes'
keys: what the browser takes on trust is the pinned genesis and the page's own
code (docs/SECURITY.md).  Format: docs/FORMATS.md, "The verification bundle".
"""

from __future__ import annotations

from typing import Any

from client.sdk.http import NodeError
from client.sdk.participant import Participant
from ledger.genesis import Genesis

BUNDLE_FORMAT = "ledger-verification/1"
TX_FIELDS = ("tx_id", "status", "valid", "code", "height", "log_index", "final", "envelope")


class BundleUnavailable(Exception):
    """Raised when a transaction cannot be proven yet: not committed, or its block not final."""


def verification_bundle(participant: Participant, tx_id: str, genesis: Genesis, *,
                        since: int | None = None) -> dict[str, Any]:
    """Return the verification bundle of transaction `tx_id`, as `participant` may read it.

    `genesis` is the consortium's genesis (`client.sdk.lightclient.read_genesis`);
    `since` is the log size of the checkpoint the browser trusts, if any (1 or
    more), for the consistency proof.  Raises BundleUnavailable if the
    transaction is not committed or its block is not final, ValueError for a
    genesis of another chain or a `since` below 1, and NodeError as the node
    answers (404 for a transaction the participant may not see).
    """
    if genesis.chain_id != participant.node.chain_id:
        raise ValueError(f"the genesis founds chain {genesis.chain_id!r}, "
                         f"not {participant.node.chain_id!r}")
    if since is not None and since < 1:
        raise ValueError("since is the log size of a trusted checkpoint: 1 or more")
    tx = participant.transaction(tx_id)
    index = tx.get("log_index")
    if tx.get("status") not in ("committed", "invalid") or type(index) is not int:
        raise BundleUnavailable(f"transaction {tx_id} is not committed yet")
    checkpoint = participant.checkpoint()
    size = checkpoint["size"]
    if index >= size:
        raise BundleUnavailable(f"transaction {tx_id} is at log index {index}, beyond the final "
                                f"checkpoint's log of size {size}: its block is not final yet")
    node = participant.node
    return {
        "format": BUNDLE_FORMAT,
        "chain_id": genesis.chain_id,
        "tx_id": tx_id,
        "made_by": participant.uscc,
        "node": node.base_url,
        "genesis": genesis.to_json(),
        "transaction": {k: tx[k] for k in TX_FIELDS if k in tx},
        "checkpoint": checkpoint,
        "inclusion": node.get(f"/v1/log/inclusion/{tx_id}", {"size": size}),
        "genesis_link": node.get("/v1/log/consistency", {"first": 1, "second": size}),
        "consistency": None if since is None else _consistency(participant, since, size),
    }


def _consistency(participant: Participant, since: int, size: int) -> dict[str, Any]:
    """Return the consistency proof between sizes `since` and `size`, or the node's refusal.

    A refusal (the browser trusts a larger log than this node has) is kept as
    `error`, so the page says why it could not check, rather than failing here.
    """
    first, second = sorted((since, size))
    try:
        return dict(participant.node.get("/v1/log/consistency",
                                          {"first": first, "second": second}))
    except NodeError as exc:
        if exc.status != 400:
            raise
        return {"first": first, "second": second, "error": exc.detail}
