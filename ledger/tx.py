"""Transactions: the signed envelope every change to the ledger arrives in.

A body names the chain, the contract and action, its arguments, the
organisations that sign it, a nonce and a validity window in block time.  Its
canonical bytes are what gets signed and hashed (the transaction id), and
those exact bytes travel on the wire as the envelope's `body` string, so a
verifier never re-serialises anything to check a signature.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

from ledger.canonical import JSONValue, canonical_bytes, encode_string, parse_canonical
from ledger.crypto import Domain, PrivateKey, PublicKey, b64decode, b64encode, sha256_hex
from ledger.errors import SchemaError, SignatureError, names_in_message
from ledger.membership import is_valid_uscc
from ledger.merkle import leaf_hash
from ledger.timefmt import parse_timestamp

MAX_BODY_BYTES = 64 * 1024
MAX_SIGNERS = 64  # a genesis is signed by every founding member
NONCE_PATTERN = re.compile(r"[0-9a-f]{16,64}")
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")
BODY_FIELDS = frozenset(
    {"chain_id", "contract", "action", "args", "signers", "nonce", "not_before", "not_after"}
)


@dataclass(frozen=True)
class TxBody:
    """What a transaction asks for; signed by every organisation in `signers`."""

    chain_id: str
    contract: str
    action: str
    args: Mapping[str, Any]
    signers: tuple[str, ...]
    nonce: str
    not_before: str
    not_after: str

    def to_json(self) -> dict[str, JSONValue]:
        """Return the body as a JSON-ready dict."""
        return {
            "chain_id": self.chain_id,
            "contract": self.contract,
            "action": self.action,
            "args": dict(self.args),
            "signers": list(self.signers),
            "nonce": self.nonce,
            "not_before": self.not_before,
            "not_after": self.not_after,
        }

    @classmethod
    def from_json(cls, value: JSONValue) -> TxBody:
        """Build a body from parsed JSON; raise SchemaError naming the first problem."""
        if not isinstance(value, dict):
            raise SchemaError("transaction body must be a JSON object")
        _require_exact_fields(value, BODY_FIELDS, "transaction body")
        for name in ("chain_id", "contract", "action", "nonce"):
            if not isinstance(value[name], str) or not value[name]:
                raise SchemaError(f"body field {name!r} must be a non-empty string")
        for name in ("contract", "action"):
            if not NAME_PATTERN.fullmatch(value[name]):
                raise SchemaError(f"body field {name!r} must be a lower-case identifier")
        if not NONCE_PATTERN.fullmatch(value["nonce"]):
            raise SchemaError("nonce must be 16 to 64 lower-case hex digits")
        if not isinstance(value["args"], dict):
            raise SchemaError("body field 'args' must be a JSON object")
        signers = _parse_signers(value["signers"])
        start = parse_timestamp(value["not_before"], what="not_before")
        end = parse_timestamp(value["not_after"], what="not_after")
        if end < start:
            raise SchemaError("not_after must not be earlier than not_before")
        return cls(
            chain_id=value["chain_id"],
            contract=value["contract"],
            action=value["action"],
            args=value["args"],
            signers=signers,
            nonce=value["nonce"],
            not_before=value["not_before"],
            not_after=value["not_after"],
        )


def _require_exact_fields(value: dict[str, Any], fields: frozenset[str], what: str) -> None:
    missing = sorted(fields - value.keys())
    if missing:
        raise SchemaError(f"{what} is missing field(s): {', '.join(missing)}")
    extra = sorted(value.keys() - fields)
    if extra:
        raise SchemaError(f"{what} has unknown field(s): {names_in_message(extra)}")


def _parse_signers(value: JSONValue) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise SchemaError("signers must be a non-empty list of organisation ids")
    if len(value) > MAX_SIGNERS:
        raise SchemaError(f"at most {MAX_SIGNERS} signers are allowed")
    if not all(is_valid_uscc(s) for s in value):
        raise SchemaError("each signer must be an organisation's 18-character USCC")
    if len(set(value)) != len(value):
        raise SchemaError("signers must not repeat")
    return tuple(value)


@dataclass(frozen=True)
class Signature:
    """One organisation's Ed25519 signature over a transaction body."""

    signer: str
    signature: bytes

    def to_json(self) -> dict[str, JSONValue]:
        """Return the signature as a JSON-ready dict (signature in base64)."""
        return {"signer": self.signer, "sig": b64encode(self.signature)}


@dataclass(frozen=True)
class Envelope:
    """A transaction as shipped and stored: the exact body bytes plus signatures."""

    body_bytes: bytes
    body: TxBody
    signatures: tuple[Signature, ...]

    @cached_property
    def tx_id(self) -> str:
        """Return the transaction id: SHA-256 of the canonical body, hex."""
        return tx_id_of(self.body_bytes)

    @cached_property
    def leaf(self) -> bytes:
        """Return the transaction-log leaf hash of this envelope (of `canonical()`)."""
        return leaf_hash(self._canonical)

    def to_json(self) -> dict[str, JSONValue]:
        """Return the wire form: {'body': canonical text, 'signatures': [...]}."""
        return {
            "body": self.body_bytes.decode("utf-8"),
            "signatures": [s.to_json() for s in self.signatures],
        }

    def canonical(self) -> bytes:
        """Return the canonical bytes of the wire form (the transaction-log leaf data)."""
        return self._canonical

    @cached_property
    def _canonical(self) -> bytes:
        # canonical_bytes(self.to_json()), written directly: the keys are fixed and
        # sorted ("body" < "signatures", "sig" < "signer"), base64 needs no escaping,
        # and the strings are escaped exactly as canonical_bytes escapes them.
        signatures = ",".join(
            '{"sig":"' + b64encode(s.signature) + '","signer":' + encode_string(s.signer) + "}"
            for s in self.signatures)
        text = ('{"body":' + encode_string(self.body_bytes.decode("utf-8")) + ',"signatures":['
                + signatures + "]}")
        return text.encode("utf-8")

    def verify(
        self, key_of: Callable[[str], PublicKey | None], known: KnownVerdict | None = None,
    ) -> None:
        """Check that exactly the listed signers signed, each with its registered key.

        `key_of` maps an organisation id to its current public key, or None
        if it is not a known member.  `known(key, signature)` may say whether
        a signature by `key` over this body was already verified elsewhere
        (True/False), or None to verify it here.  Raises SignatureError
        naming the signer.
        """
        listed = set(self.body.signers)
        for sig in self.signatures:
            key = key_of(sig.signer)
            if key is None:
                raise SignatureError(f"signer {sig.signer} is not a member of this consortium")
            verdict = None if known is None else known(key, sig)
            if verdict is None:
                verdict = _verifies(key, self.body_bytes, sig.signature)
            if not verdict:
                raise SignatureError(f"signature of {sig.signer} does not verify")
        missing = listed - {s.signer for s in self.signatures}
        if missing:
            raise SignatureError(f"missing signature of {', '.join(sorted(missing))}")


KnownVerdict = Callable[[PublicKey, Signature], bool | None]


def _verifies(key: PublicKey, body_bytes: bytes, signature: bytes) -> bool:
    try:
        key.verify(Domain.TRANSACTION, body_bytes, signature)
    except SignatureError:
        return False
    return True


def tx_id_of(body_bytes: bytes) -> str:
    """Return the transaction id for canonical body bytes."""
    return sha256_hex(body_bytes)


def parse_envelope(value: JSONValue) -> Envelope:
    """Parse a wire envelope; check canonical body and signature shape, not keys.

    Raises SchemaError, EncodingError or SignatureError naming the problem.
    Signatures are checked against keys later, by `Envelope.verify`.
    """
    if not isinstance(value, dict):
        raise SchemaError("a transaction must be a JSON object")
    _require_exact_fields(value, frozenset({"body", "signatures"}), "transaction")
    if not isinstance(value["body"], str):
        raise SchemaError("transaction 'body' must be the canonical JSON text of the body")
    body_bytes = value["body"].encode("utf-8", "surrogatepass")
    if len(body_bytes) > MAX_BODY_BYTES:
        raise SchemaError(f"transaction body exceeds {MAX_BODY_BYTES} bytes")
    body = TxBody.from_json(parse_canonical(body_bytes))
    signatures = _parse_signatures(value["signatures"], body.signers)
    return Envelope(body_bytes=body_bytes, body=body, signatures=signatures)


def envelope_from_checked(
    value: Mapping[str, Any], loads: Callable[[bytes], Any] = json.loads, *,
    tx_id: str | None = None, leaf: bytes | None = None,
) -> Envelope:
    """Build the envelope `parse_envelope(value)` returns, for a value it already accepted.

    For a wire value another process has run through `parse_envelope`
    successfully (an auditor's verifier): the canonical and schema checks
    are skipped, not repeated.  Never call it on a value nobody checked.
    `loads` may be any JSON parser that reads canonical JSON of our schema
    as `json.loads` does (a faster one, say).  `tx_id` and `leaf`, if given,
    are the id and leaf hash the same checking process computed for it.
    """
    body_bytes = value["body"].encode("utf-8", "surrogatepass")
    fields = loads(body_bytes)  # exactly BODY_FIELDS: parse_envelope accepted it
    fields["signers"] = tuple(fields["signers"])
    body = _built(TxBody, fields)
    signatures = tuple(_built(Signature, {"signer": s["signer"],
                                          "signature": base64.b64decode(s["sig"])})
                       for s in value["signatures"])
    envelope = _built(Envelope, {"body_bytes": body_bytes, "body": body,
                                 "signatures": signatures})
    if tx_id is not None:
        envelope.__dict__["tx_id"] = tx_id  # what the cached property would compute
    if leaf is not None:
        envelope.__dict__["leaf"] = leaf
    return envelope


_T = TypeVar("_T")


def _built(kind: type[_T], fields: dict[str, Any]) -> _T:
    """Return an instance of frozen dataclass `kind` holding exactly `fields`.

    What `kind(**fields)` builds (these dataclasses have no __post_init__),
    without the frozen __init__'s one object.__setattr__ per field.
    """
    built: _T = object.__new__(kind)
    built.__dict__.update(fields)
    return built


def _parse_signatures(value: JSONValue, listed: tuple[str, ...]) -> tuple[Signature, ...]:
    if not isinstance(value, list) or not value:
        raise SignatureError("a transaction needs at least one signature")
    parsed: list[Signature] = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"signer", "sig"}:
            raise SchemaError("each signature must be an object with 'signer' and 'sig'")
        signer, sig = item["signer"], item["sig"]
        if not isinstance(signer, str) or not isinstance(sig, str):
            raise SchemaError("signature 'signer' and 'sig' must be strings")
        if signer not in listed:
            raise SignatureError(f"extra signature from {names_in_message([signer])}, who is not "
                                 "a listed signer")
        parsed.append(Signature(signer, b64decode(sig, what=f"signature of {signer}")))
    if len({s.signer for s in parsed}) != len(parsed):
        raise SignatureError("an organisation signed more than once")
    return tuple(parsed)


def sign_body(body: TxBody, keys: Mapping[str, PrivateKey]) -> Envelope:
    """Encode `body` canonically and sign it with the key of every listed signer.

    Raises SignatureError if a listed signer has no key in `keys`.
    """
    body_bytes = canonical_bytes(body.to_json())
    signatures = []
    for signer in body.signers:
        if signer not in keys:
            raise SignatureError(f"no key to sign for {signer}")
        signatures.append(Signature(signer, keys[signer].sign(Domain.TRANSACTION, body_bytes)))
    return Envelope(body_bytes=body_bytes, body=body, signatures=tuple(signatures))
