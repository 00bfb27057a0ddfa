"""Block attestations: a node's signature over a header it computed, and finality.

Every node executes every block itself and signs the hash of the header it
computed.  A block is final when nodes of more than half of the
organisations that run nodes have signed the same header hash: no single
operator can then rewrite it, and a node that computed something else is
shown to be wrong by the signed evidence.  The nodes and their keys are
registered on chain (`node/<id>` in state), bound to an organisation.

An attestation may also carry the node's signature of the block's log
checkpoint (`note_sig`, ledger/checkpoint.py), so the checkpoint's
cosignatures travel with the attestations.  The attestation's own signature
does not cover it: the note signature is checked on its own, against the
checkpoint the receiving node computes for the same block.  Likewise
`state_sig`, the node's signature of the block's state note
(ledger/state_note.py: the world-state digest after the block), checked
against the digest the receiving node computed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ledger.canonical import JSONValue, canonical_bytes
from ledger.crypto import SIGNATURE_SIZE, Domain, PrivateKey, PublicKey, b64decode, b64encode
from ledger.errors import SchemaError, SignatureError

NODE_PREFIX = "node/"
# Printable ASCII without space, '/' (state keys) or '+' (a node id is also a note key name)
_NODE_ID = re.compile(r"[!-*,-.0-~]{1,64}")
_WIRE_KEYS = frozenset({"chain_id", "height", "hash", "node", "sig"})
_ALL_KEYS = _WIRE_KEYS | {"note_sig", "state_sig"}


def node_state_key(node_id: str) -> str:
    """Return the state key of a registered node."""
    return NODE_PREFIX + node_id


@dataclass(frozen=True)
class NodeInfo:
    """A consortium node: its id, the organisation that runs it, its signing key."""

    id: str
    org: str
    public_key: PublicKey

    def to_json(self) -> dict[str, JSONValue]:
        """Return the node record as stored in state and genesis."""
        return {"id": self.id, "org": self.org, "public_key": self.public_key.hex()}

    @classmethod
    def from_json(cls, value: Any) -> NodeInfo:
        """Parse a node record; raise SchemaError if malformed."""
        if not isinstance(value, dict) or set(value) != {"id", "org", "public_key"}:
            raise SchemaError("a node record has exactly id, org and public_key")
        if not all(isinstance(value[k], str) and value[k] for k in ("id", "org")):
            raise SchemaError("a node's id and org are non-empty strings")
        if not _NODE_ID.fullmatch(value["id"]):
            raise SchemaError("a node id is 1 to 64 printable ASCII characters without space, "
                              "'/' or '+'")
        return cls(value["id"], value["org"], PublicKey.from_hex(value["public_key"]))


@dataclass(frozen=True)
class Attestation:
    """Node `node_id` says: the block at `height` of `chain_id` has header hash `header_hash`."""

    chain_id: str
    height: int
    header_hash: str
    node_id: str
    signature: bytes
    note_signature: bytes | None = None  # Ed25519 over the block's checkpoint note text
    state_signature: bytes | None = None  # Ed25519 over the block's state note text

    def message(self) -> bytes:
        """Return the bytes the node signs."""
        return attestation_message(self.chain_id, self.height, self.header_hash, self.node_id)

    def verify(self, key: PublicKey) -> None:
        """Raise SignatureError unless the signature is the node's over this statement."""
        key.verify(Domain.ATTESTATION, self.message(), self.signature)

    def to_json(self) -> dict[str, JSONValue]:
        """Return the wire form; `note_sig`, `state_sig` only when the node cosigned those notes."""
        wire: dict[str, JSONValue] = {
            "chain_id": self.chain_id, "height": self.height, "hash": self.header_hash,
            "node": self.node_id, "sig": b64encode(self.signature)}
        if self.note_signature is not None:
            wire["note_sig"] = b64encode(self.note_signature)
        if self.state_signature is not None:
            wire["state_sig"] = b64encode(self.state_signature)
        return wire

    @classmethod
    def from_json(cls, value: Any) -> Attestation:
        """Parse the wire form; raise SchemaError if malformed.

        `note_sig` and `state_sig` are optional, so attestations of nodes
        that do not cosign checkpoints or state notes (older versions) still
        count towards finality.
        """
        if not isinstance(value, dict) or not _WIRE_KEYS <= set(value) <= _ALL_KEYS:
            raise SchemaError("an attestation has exactly chain_id, height, hash, node and sig, "
                              "and optionally note_sig and state_sig")
        height = value["height"]
        if type(height) is not int or height < 0:
            raise SchemaError("an attestation's height is a non-negative integer")
        texts = (value["chain_id"], value["hash"], value["node"], value["sig"])
        if not all(isinstance(t, str) and t for t in texts):
            raise SchemaError("an attestation's chain_id, hash, node and sig are strings")
        if len(value["hash"]) != 64 or any(c not in "0123456789abcdef" for c in value["hash"]):
            raise SchemaError("an attestation's hash is 64 lowercase hex digits")
        return cls(value["chain_id"], height, value["hash"], value["node"],
                   b64decode(value["sig"], what="attestation signature"),
                   _note_signature(value, "note_sig"), _note_signature(value, "state_sig"))


def _note_signature(value: dict[str, Any], name: str) -> bytes | None:
    """Decode an attestation's optional note signature `name`; raise SchemaError if malformed."""
    text = value.get(name)
    if text is None:
        return None
    if not isinstance(text, str):
        raise SchemaError(f"an attestation's {name} is a base64 string")
    raw = b64decode(text, what=f"attestation {name}")
    if len(raw) != SIGNATURE_SIZE:
        raise SchemaError(f"an attestation's {name} is a 64-byte Ed25519 signature")
    return raw


def attestation_message(chain_id: str, height: int, header_hash: str, node_id: str) -> bytes:
    """Return the canonical statement a node signs for one block."""
    return canonical_bytes({"chain_id": chain_id, "hash": header_hash, "height": height,
                            "node": node_id})


def attest(key: PrivateKey, chain_id: str, height: int, header_hash: str,
           node_id: str, note_signature: bytes | None = None,
           state_signature: bytes | None = None) -> Attestation:
    """Sign the statement that block `height` has header hash `header_hash`.

    `note_signature` is the node's cosignature of the block's checkpoint
    (`ledger.checkpoint.sign_checkpoint`), `state_signature` of its state
    note (`ledger.state_note.sign_state_note`), carried along unchanged.
    """
    message = attestation_message(chain_id, height, header_hash, node_id)
    return Attestation(chain_id, height, header_hash, node_id,
                       key.sign(Domain.ATTESTATION, message), note_signature, state_signature)


def quorum_size(nodes: Iterable[NodeInfo]) -> int:
    """Return how many organisations must agree: more than half of those running nodes."""
    return len({n.org for n in nodes}) // 2 + 1


def check_attestation(att: Attestation, nodes: Mapping[str, NodeInfo], chain_id: str) -> NodeInfo:
    """Return the attesting node if `att` is a valid attestation; raise otherwise."""
    if att.chain_id != chain_id:
        raise SchemaError(f"the attestation is for chain {att.chain_id!r}")
    node = nodes.get(att.node_id)
    if node is None:
        raise SchemaError(f"node {att.node_id!r} is not a registered node")
    try:
        att.verify(node.public_key)
    except SignatureError as exc:
        raise SignatureError(f"the attestation of node {att.node_id!r} does not verify") from exc
    return node


def agreeing_orgs(attestations: Iterable[Attestation], nodes: Mapping[str, NodeInfo],
                  header_hash: str) -> set[str]:
    """Return the organisations with a node that attested `header_hash` (checked attestations)."""
    return {nodes[a.node_id].org for a in attestations
            if a.header_hash == header_hash and a.node_id in nodes}


def check_certificate(chain_id: str, height: int, header_hash: str,
                      attestations: Iterable[Attestation],
                      nodes: Mapping[str, NodeInfo]) -> list[Attestation]:
    """Return the valid attestations of a finality certificate; raise unless a quorum agrees.

    Attestations for another block, or that do not verify, are left out
    rather than trusted; what remains must come from nodes of a quorum of
    organisations, all signing `header_hash` at `height`.
    """
    valid = []
    for att in attestations:
        if (att.height, att.header_hash) != (height, header_hash):
            continue
        try:
            check_attestation(att, nodes, chain_id)
        except (SchemaError, SignatureError):
            continue
        valid.append(att)
    need = quorum_size(nodes.values())
    signed = agreeing_orgs(valid, nodes, header_hash)
    if len(signed) < need:
        raise SignatureError(f"block {height} has signatures from {len(signed)} organisation(s); "
                             f"finality needs {need}")
    return valid
