"""Small, self-contained builders for the ledger-core tests (no contracts imported).

Keys are derived from names so every run signs the same bytes; organisation
ids are real-format USCCs completed by `make_uscc`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from ledger.canonical import JSONValue, canonical_bytes
from ledger.crypto import Domain, PrivateKey, PublicKey, b64encode
from ledger.membership import Member, MemberStatus, Role, make_uscc, member_state_key
from ledger.tx import Envelope, TxBody, sign_body

CHAIN = "unit-chain"
NOT_BEFORE = "2026-01-05T08:00:00Z"
NOT_AFTER = "2026-01-06T08:00:00Z"
INSIDE = "2026-01-05T12:00:00Z"


def key_for(name: str) -> PrivateKey:
    """Return a deterministic private key for `name`."""
    return PrivateKey(hashlib.sha256(f"ledger-core-test:{name}".encode()).digest())


def uscc_for(index: int) -> str:
    """Return a valid, distinct USCC for organisation number `index`."""
    return make_uscc(f"91310000MA{index:07d}")


ALICE, BOB, CAROL = uscc_for(1), uscc_for(2), uscc_for(3)
KEYS: dict[str, PrivateKey] = {u: key_for(u) for u in (ALICE, BOB, CAROL)}


def key_of(uscc: str) -> PublicKey | None:
    """Key lookup over KEYS (None for strangers), as Envelope.verify wants."""
    key = KEYS.get(uscc)
    return None if key is None else key.public_key


def body_json(**overrides: Any) -> dict[str, JSONValue]:
    """Return a valid body dict signed by ALICE and BOB, with `overrides` applied."""
    value: dict[str, JSONValue] = {
        "chain_id": CHAIN,
        "contract": "demo",
        "action": "put",
        "args": {"key": "k", "value": 1},
        "signers": [ALICE, BOB],
        "nonce": "00000000000000a1",
        "not_before": NOT_BEFORE,
        "not_after": NOT_AFTER,
    }
    value.update(overrides)
    return value


def make_body(**overrides: Any) -> TxBody:
    """Return a TxBody built from `body_json(**overrides)` without validation."""
    value = body_json(**overrides)
    value["signers"] = tuple(value["signers"])  # type: ignore[arg-type]
    return TxBody(**value)  # type: ignore[arg-type]


def signed(**overrides: Any) -> Envelope:
    """Return a body with `overrides`, signed by every listed signer."""
    return sign_body(make_body(**overrides), KEYS)


def wire(body_text: str | bytes, signers: list[str], keys: Mapping[str, PrivateKey] = KEYS,
         ) -> dict[str, JSONValue]:
    """Return a wire envelope for exact `body_text`, signed by `signers` (bypasses checks)."""
    raw = body_text.encode() if isinstance(body_text, str) else body_text
    return {
        "body": raw.decode("utf-8"),
        "signatures": [
            {"signer": s, "sig": b64encode(keys[s].sign(Domain.TRANSACTION, raw))}
            for s in signers
        ],
    }


def wire_for(value: Mapping[str, JSONValue]) -> dict[str, JSONValue]:
    """Return a correctly signed wire envelope for the canonical form of body `value`."""
    signers = value.get("signers")
    listed = [s for s in signers if s in KEYS] if isinstance(signers, list) else []
    return wire(canonical_bytes(dict(value)), listed)


class DictReader:
    """A StateReader over plain JSON values."""

    def __init__(self, data: Mapping[str, JSONValue] | None = None) -> None:
        self.data = dict(data or {})

    def get(self, key: str) -> JSONValue | None:
        return self.data.get(key)


def member_state(*usccs: str, suspended: tuple[str, ...] = ()) -> DictReader:
    """Return world state in which `usccs` are members with their KEYS."""
    data: dict[str, JSONValue] = {}
    for uscc in usccs:
        status = MemberStatus.SUSPENDED if uscc in suspended else MemberStatus.ACTIVE
        member = Member(uscc, f"org {uscc[-4:]}", frozenset({Role.SUPPLIER}),
                        KEYS[uscc].public_key, status)
        data[member_state_key(uscc)] = member.to_json()
    return DictReader(data)
