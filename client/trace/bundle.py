"""`ledger trace`: a note's provenance back to its issuance, with the proofs to check it offline.

A trace bundle is one JSON document (format `ledger-trace/1`):

- `note`: the note traced; `lineage`: that note and its ancestors up to the
  issued credential, as `GET /v1/notes/{id}/lineage` serves them (note first);
- `checkpoint`: the node's whole checkpoint answer (`chain_id`, `size`,
  `root`, `height`, `block_hash`, and a signed note under `checkpoint` where
  the node serves one), taken *after* the lineage, so the log it describes
  holds every transaction of the path;
- `transactions`: issuance first, one entry per transaction that created a
  note of the path: `tx_id`, `height`, `log_index`, `valid`, `block_time`,
  the full `envelope` (signed body and signatures), the `events`, and
  `inclusion`, an RFC 9162 inclusion proof against the checkpoint's size;
  a financing also carries the node's `financing` record when the caller
  may read it (its terms, for the story; not covered by any proof);
- `missing`: transactions of the path the caller may not read (they are
  visible to their parties, the issuer and auditors), so the trace stops
  short of issuance;
- `names`: every member's name by USCC, for the story;
- `nodes`: the registered nodes (`GET /v1/nodes`), who cosign the checkpoint;
- `keys`: the public keys of every signer, `source` saying where they come
  from: the member list of the node that made the bundle, taken on trust.

`client/trace/check.py` checks a bundle with no node; `client/trace/story.py`
tells it.
"""

from __future__ import annotations

from typing import Any

from client.audit.lineage import BlockTimes
from client.sdk.http import NodeClient, NodeError
from ledger.tx import parse_envelope

BUNDLE_FORMAT = "ledger-trace/1"


def _get_or_none(node: NodeClient, path: str) -> Any:
    """GET `path`; return None if the node answers 404 (unknown, or not visible to us)."""
    try:
        return node.get(path)
    except NodeError as exc:
        if exc.status == 404:
            return None
        raise


def _entry(node: NodeClient, tx: dict[str, Any], checkpoint: dict[str, Any],
           times: BlockTimes) -> dict[str, Any]:
    tx_id = str(tx["tx_id"])
    proof = node.get(f"/v1/log/inclusion/{tx_id}", {"size": checkpoint["size"]})
    entry = {
        "tx_id": tx_id, "height": tx.get("height"), "log_index": tx.get("log_index"),
        "valid": tx.get("valid"), "block_time": times.time(int(tx["height"])),
        "envelope": tx["envelope"], "events": tx.get("events", []), "inclusion": proof,
    }
    if parse_envelope(tx["envelope"]).body.action == "accept_terms":
        financing = next((e.get("financing") for e in entry["events"]
                          if e.get("type") == "financed"), None)
        if isinstance(financing, str):
            record = _get_or_none(node, f"/v1/records/financing/{financing}")
            if record is not None:
                entry["financing"] = record
    return entry


def build_trace(node: NodeClient, note_id: str) -> dict[str, Any]:
    """Fetch a note's lineage, the transactions that made it, their proofs and the signers' keys.

    Raises NodeError if the note is not visible to the caller.
    """
    lineage = list(node.get(f"/v1/notes/{note_id}/lineage")["lineage"])
    checkpoint = dict(node.get("/v1/log/checkpoint"))
    times = BlockTimes(node)
    transactions: list[dict[str, Any]] = []
    missing: list[dict[str, Any]] = []
    for note in reversed(lineage):
        tx_id = str(note.get("created_tx", ""))
        if any(t["tx_id"] == tx_id for t in transactions):
            continue
        tx = _get_or_none(node, f"/v1/transactions/{tx_id}") if tx_id else None
        if tx is None:
            missing.append({"tx_id": tx_id, "note": note["id"],
                            "reason": f"not visible to {node.identity.uscc}: a transaction "
                                      f"is shown to its parties, the issuer and auditors"})
            continue
        transactions.append(_entry(node, tx, checkpoint, times))
    signers = {s for t in transactions for s in parse_envelope(t["envelope"]).body.signers}
    members = node.get("/v1/members")["members"]
    nodes = node.get("/v1/nodes")
    keys = {str(m["uscc"]): {"name": m.get("name"), "public_key": m.get("public_key"),
                             "roles": m.get("roles"), "status": m.get("status")}
            for m in members if m.get("uscc") in signers}
    return {
        "format": BUNDLE_FORMAT, "note": note_id, "made_by": node.identity.uscc,
        "node": node.base_url, "checkpoint": checkpoint, "lineage": lineage,
        "transactions": transactions, "missing": missing,
        "names": {str(m["uscc"]): str(m.get("name", "")) for m in members},
        "keys": {"source": f"GET /v1/members of {node.base_url}, asked by "
                           f"{node.identity.uscc} when the bundle was made: the members' "
                           f"current keys, taken on that node's word",
                 "members": keys},
        "nodes": {"source": f"GET /v1/nodes of {node.base_url}: the nodes whose cosignatures "
                            f"make the checkpoint, taken on that node's word unless the "
                            f"verifier pins them (--genesis)",
                  "nodes": nodes.get("nodes", [])},
    }
