"""Local verification of what a node claims, with `ledger/` alone.

A participant recomputes the log leaf from the envelope it was given and
checks the node's RFC 9162 inclusion proof against a tree head it holds, so a
node cannot show it a transaction that is not in the log it committed to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.errors import ProofError
from ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from ledger.tx import parse_envelope


def proof_hashes(values: Any) -> tuple[bytes, ...]:
    """Decode a served list of hex hashes; raise ProofError if any is not hex."""
    try:
        return tuple(bytes.fromhex(v) for v in values)
    except (TypeError, ValueError) as exc:
        raise ProofError("proof hashes must be hex strings") from exc


def verify_tx_inclusion(
    envelope_json: Mapping[str, Any], tx_id: str, proof: Mapping[str, Any],
    checkpoint: Mapping[str, Any],
) -> None:
    """Check that `envelope_json` is transaction `tx_id` and is in the checkpoint's log.

    Raises ProofError on any mismatch.
    """
    envelope = parse_envelope(dict(envelope_json))
    if envelope.tx_id != tx_id:
        raise ProofError("the envelope is not the transaction asked for")
    leaf = leaf_hash(envelope.canonical())
    if int(proof["tree_size"]) != int(checkpoint["size"]):
        raise ProofError("the proof is for a different log size than the checkpoint")
    verify_inclusion(leaf, int(proof["leaf_index"]), int(checkpoint["size"]),
                     proof_hashes(proof["proof"]), bytes.fromhex(checkpoint["root"]))


def verify_log_consistency(
    older: Mapping[str, Any], newer: Mapping[str, Any], proof: Mapping[str, Any]
) -> None:
    """Check that the log of `older` is a prefix of the log of `newer`; raise ProofError if not."""
    verify_consistency(int(older["size"]), int(newer["size"]), bytes.fromhex(older["root"]),
                       bytes.fromhex(newer["root"]), proof_hashes(proof["proof"]))
