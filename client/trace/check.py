"""Offline verification of a trace bundle (`client/trace/bundle.py`): no node, only `ledger/`.

What is proven: each envelope is the transaction its id names (SHA-256 of
the signed body), every listed signer signed it with the key the bundle
carries, and it sits in the log whose root the bundled checkpoint states
(RFC 9162 inclusion).  The notes link up: each names the next as its parent,
the last is the issued credential, each id is derived from the transaction
that created it, and that transaction's signed arguments name the parent it
consumed and the holder and amount of the piece, where the action carries
them (issue, transfer, pay).  What is taken on trust is listed in words in
the verdict, never hidden: where the keys came from, the checkpoint itself,
that a logged transaction executed validly, and links read from events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from client.sdk.proofs import verify_tx_inclusion
from client.trace.bundle import BUNDLE_FORMAT
from contracts.records import derived_id
from ledger.attestation import NodeInfo
from ledger.checkpoint import check_cosigned, parse_signed_checkpoint
from ledger.crypto import PublicKey
from ledger.errors import LedgerError
from ledger.tx import Envelope, parse_envelope, tx_id_of

MAX_OUTPUTS = 10_000  # a payment clears one output per live leaf; far beyond any tree here
BAD_INPUT = (LedgerError, KeyError, TypeError, ValueError, AttributeError)


@dataclass(frozen=True)
class Check:
    """One thing verified about one subject, and whether it held."""

    subject: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        """Return the check as JSON."""
        return {"subject": self.subject, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True)
class TraceVerdict:
    """Every check made, what was trusted without proof, and whether the trace is whole."""

    checks: tuple[Check, ...]
    trusted: tuple[str, ...]
    complete: bool

    @property
    def failures(self) -> tuple[Check, ...]:
        """Return the checks that failed."""
        return tuple(c for c in self.checks if not c.ok)

    @property
    def passed(self) -> bool:
        """Return whether every check held and the trace reaches the issuance."""
        return self.complete and not self.failures and bool(self.checks)

    def to_json(self) -> dict[str, Any]:
        """Return the verdict as JSON."""
        return {"passed": self.passed, "complete": self.complete,
                "checks": [c.to_json() for c in self.checks], "trusted": list(self.trusted)}


def short(identifier: object) -> str:
    """Return the first 12 characters of an id, for messages."""
    return str(identifier)[:12]


def _keys(bundle: Mapping[str, Any], checks: list[Check]) -> dict[str, PublicKey]:
    keys: dict[str, PublicKey] = {}
    for uscc, member in dict(bundle.get("keys", {}).get("members", {})).items():
        try:
            keys[str(uscc)] = PublicKey.from_hex(member["public_key"])
        except BAD_INPUT as exc:
            checks.append(Check(f"key of {uscc}", False, f"not an Ed25519 public key: {exc}"))
    return keys


def _check_tx(entry: Mapping[str, Any], checkpoint: Mapping[str, Any],
              key_of: Callable[[str], PublicKey | None]) -> tuple[list[Check], Envelope | None]:
    subject = f"transaction {short(entry.get('tx_id'))}"
    try:
        envelope = parse_envelope(entry["envelope"])
    except BAD_INPUT as exc:
        return [Check(subject, False, f"the envelope does not parse: {exc}")], None
    checks = [Check(subject, tx_id_of(envelope.body_bytes) == entry.get("tx_id"),
                    "its id is the SHA-256 of the signed body")]
    checks.append(Check(subject, envelope.body.chain_id == checkpoint.get("chain_id"),
                        f"it is for chain {checkpoint.get('chain_id')}"))
    try:
        envelope.verify(key_of)
        checks.append(Check(subject, True, "signed by " + ", ".join(envelope.body.signers)))
    except LedgerError as exc:
        checks.append(Check(subject, False, f"signatures: {exc}"))
    try:
        verify_tx_inclusion(entry["envelope"], str(entry["tx_id"]), entry["inclusion"],
                            checkpoint)
        checks.append(Check(subject, True, f"in the log of size {checkpoint['size']} at index "
                                           f"{entry['inclusion']['leaf_index']} (RFC 9162)"))
    except BAD_INPUT as exc:
        checks.append(Check(subject, False, f"inclusion proof: {exc}"))
    if entry.get("valid") is not True:
        checks.append(Check(subject, False, "the node does not report it as valid"))
    return checks, envelope


def _output_index(tx_id: str, note_id: str) -> int | None:
    return next((k for k in range(MAX_OUTPUTS) if derived_id(tx_id, k) == note_id), None)


def _transfer_outputs(args: Mapping[str, Any], parent: Mapping[str, Any]) -> list[tuple[Any, Any]]:
    outputs = [(p["to"], p["amount"]) for p in args["payments"]]
    paid = sum(int(a) for _, a in outputs)
    if paid < int(parent["amount"]):
        outputs.append((parent["holder"], int(parent["amount"]) - paid))
    return outputs


def _consumes(envelope: Envelope, entry: Mapping[str, Any], note: Mapping[str, Any],
              parent: Mapping[str, Any] | None, index: int) -> tuple[bool, str]:
    """Check the creating transaction consumed `parent` and made `note` as recorded."""
    body, args = envelope.body, envelope.body.args
    piece = (note["holder"], note["amount"])
    if body.action == "issue":
        ok = parent is None and index == 0 and (args["to"], args["amount"]) == piece
        return ok, "issued by the signed transaction to its holder for its amount"
    if parent is None:
        return False, f"a {body.action} transaction does not issue a credential"
    signed_by_holder = parent["holder"] in body.signers
    if body.action == "transfer":
        outputs = _transfer_outputs(args, parent)
        ok = (args["note"] == parent["id"] and signed_by_holder and index < len(outputs)
              and tuple(outputs[index]) == piece)
        return ok, "the signed transfer spends the parent, signed by its holder, and pays " \
                   "this holder this amount"
    if body.action == "accept_terms":
        financed = [e for e in entry.get("events", []) if e.get("type") == "financed"]
        ok = (index == 0 and signed_by_holder and note["amount"] == parent["amount"]
              and any(e.get("note") == parent["id"] and e.get("bank_note") == note["id"]
                      for e in financed))
        return ok, "the seller signed the financing; its event (node's word) names the parent"
    if body.action == "pay":
        ok = (args["receivable"] == note["root_id"] and note["issuer"] in body.signers
              and note["holder"] == parent["holder"] and 0 < note["amount"] < parent["amount"])
        return ok, "the issuer's signed payment of the credential left this unpaid rest"
    return False, f"a {body.action} transaction creates no notes"


def _check_note(note: Mapping[str, Any], parent: Mapping[str, Any] | None,
                txs: Mapping[str, tuple[Envelope, Mapping[str, Any]]]) -> list[Check]:
    subject = f"note {short(note['id'])}"
    if parent is None:
        checks = [Check(subject, note["parent_id"] is None and note["id"] == note["root_id"],
                        "it is the issued credential (no parent, its own root)")]
    else:
        checks = [Check(subject, note["parent_id"] == parent["id"],
                        f"its parent is note {short(parent['id'])}")]
    tx_id = str(note["created_tx"])
    if tx_id not in txs:
        return checks
    envelope, entry = txs[tx_id]
    index = _output_index(tx_id, str(note["id"]))
    checks.append(Check(subject, index is not None,
                        f"its id is output {index} of transaction {short(tx_id)}"))
    if index is not None:
        try:
            ok, detail = _consumes(envelope, entry, note, parent, index)
        except BAD_INPUT as exc:
            ok, detail = False, f"the transaction's arguments do not match: {exc}"
        checks.append(Check(subject, ok, detail))
    return checks


def _check_lineage(bundle: Mapping[str, Any],
                   txs: Mapping[str, tuple[Envelope, Mapping[str, Any]]]) -> list[Check]:
    lineage = list(bundle["lineage"])
    checks = [Check("trace", bool(lineage) and lineage[0]["id"] == bundle["note"],
                    f"the lineage starts at note {short(bundle['note'])}")]
    root = lineage[-1]["id"] if lineage else None
    for position, note in enumerate(lineage):
        parent = lineage[position + 1] if position + 1 < len(lineage) else None
        checks.append(Check(f"note {short(note['id'])}", note["root_id"] == root,
                            f"it belongs to credential {short(root)}"))
        checks += _check_note(note, parent, txs)
    return checks


def _bundle_nodes(bundle: Mapping[str, Any]) -> dict[str, NodeInfo]:
    listed = bundle.get("nodes", {}).get("nodes", [])
    return {n.id: n for n in map(NodeInfo.from_json, listed)}


def _check_checkpoint(checkpoint: Mapping[str, Any], nodes: Mapping[str, NodeInfo]) -> Check:
    """Check the bundled checkpoint's signed note: cosigned by a quorum, saying what is used.

    The inclusion proofs are checked against the plain `size` and `root`
    fields, so those must be exactly what the cosigned note states.
    """
    subject = "checkpoint"
    try:
        signed = parse_signed_checkpoint(str(checkpoint["checkpoint"]))
        cosigners = check_cosigned(signed, str(checkpoint.get("chain_id")), nodes)
    except BAD_INPUT as exc:
        return Check(subject, False, f"the signed checkpoint: {exc}")
    block = signed.checkpoint.block()
    stated = (signed.checkpoint.size, signed.checkpoint.root.hex(), block.height)
    if stated != (checkpoint.get("size"), checkpoint.get("root"), checkpoint.get("height")):
        return Check(subject, False, "the checkpoint's size, root or height differ from its "
                                     "signed note")
    return Check(subject, True, f"size {stated[0]} at block {stated[2]}, cosigned by "
                                f"{', '.join(sorted(cosigners))} (a quorum of organisations)")


def _trusted(bundle: Mapping[str, Any], actions: set[str],
             nodes_source: str) -> tuple[str, ...]:
    trusted = [f"signers' public keys: {bundle.get('keys', {}).get('source', 'unknown source')}",
               "that each logged transaction executed validly: the node's word (its block's "
               "result root, not carried here)",
               "the dates: each block's time as the node reported it"]
    if isinstance(bundle["checkpoint"].get("checkpoint"), str):
        trusted.append(f"the cosigning nodes' keys: {nodes_source}")
    else:
        trusted.append("the checkpoint (size and root): unsigned, the node's word; compare it "
                       "with one from another node")
    if "accept_terms" in actions:
        trusted.append("a financing: which note it consumed is read from its 'financed' "
                       "event, and which bank holds the new note from the node's notes")
    return tuple(trusted)


def verify_bundle(bundle: Mapping[str, Any],
                  nodes: Mapping[str, NodeInfo] | None = None) -> TraceVerdict:
    """Verify a trace bundle offline; never raises on a malformed bundle (it fails instead).

    `nodes` pins the cosigning nodes (from a genesis the verifier holds);
    without it the node list carried in the bundle is used, and the
    verdict says so.
    """
    if not isinstance(bundle, Mapping) or bundle.get("format") != BUNDLE_FORMAT:
        return TraceVerdict((Check("bundle", False, f"not a {BUNDLE_FORMAT} bundle"),), (), False)
    checks: list[Check] = []
    keys = _keys(bundle, checks)
    txs: dict[str, tuple[Envelope, Mapping[str, Any]]] = {}
    try:
        checkpoint = dict(bundle["checkpoint"])
        nodes_source = ("pinned by the verifier" if nodes is not None else
                        str(bundle.get("nodes", {}).get("source", "not in the bundle")))
        if isinstance(checkpoint.get("checkpoint"), str):
            checks.append(_check_checkpoint(
                checkpoint, _bundle_nodes(bundle) if nodes is None else nodes))
        for entry in bundle["transactions"]:
            tx_checks, envelope = _check_tx(entry, checkpoint, keys.get)
            checks += tx_checks
            if envelope is not None:
                txs[str(entry["tx_id"])] = (envelope, entry)
        checks += _check_lineage(bundle, txs)
        complete = not bundle.get("missing") and all(
            str(n["created_tx"]) in txs for n in bundle["lineage"])
        trusted = _trusted(bundle, {e.body.action for e, _ in txs.values()}, nodes_source)
    except BAD_INPUT as exc:
        checks.append(Check("bundle", False, f"malformed: {exc!r}"))
        return TraceVerdict(tuple(checks), (), False)
    return TraceVerdict(tuple(checks), trusted, complete)
