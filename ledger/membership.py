"""Who may act on the ledger: organisations, their USCC ids, roles and keys.

Every organisation is identified by its 统一社会信用代码 (Unified Social Credit
Code, GB 32100-2015): 18 characters whose last is a check character, so a
mistyped id is caught before it reaches a contract.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from operator import mul
from typing import Any

from ledger.canonical import JSONValue
from ledger.crypto import PublicKey
from ledger.errors import SchemaError, SignatureError

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
USCC_LENGTH = 18
_VALUES = {character: value for value, character in enumerate(USCC_ALPHABET)}
_USCC_SHAPE = re.compile(f"[{USCC_ALPHABET}]{{{USCC_LENGTH}}}")


class Role(StrEnum):
    """What an organisation may do in the consortium."""

    CORE_ENTERPRISE = "core_enterprise"
    SUPPLIER = "supplier"
    BANK = "bank"
    AUDITOR = "auditor"


class MemberStatus(StrEnum):
    """Whether a member may currently sign transactions."""

    ACTIVE = "active"
    SUSPENDED = "suspended"


def uscc_check_character(first17: str) -> str:
    """Return the GB 32100-2015 check character for the first 17 characters of a USCC.

    Requires 17 characters of USCC_ALPHABET: raises ValueError for another
    length, KeyError for a character outside the alphabet.
    """
    if len(first17) != len(USCC_WEIGHTS):
        raise ValueError("a USCC body is 17 characters")
    total = sum(map(mul, map(_VALUES.__getitem__, first17), USCC_WEIGHTS))
    return USCC_ALPHABET[-total % 31]


def is_valid_uscc(text: object) -> bool:
    """Return whether `text` is an 18-character USCC with a correct check character."""
    if not isinstance(text, str) or _USCC_SHAPE.fullmatch(text) is None:
        return False
    return uscc_check_character(text[:17]) == text[17]


def make_uscc(first17: str) -> str:
    """Complete 17 characters into a valid USCC (used by tools that invent demo members)."""
    if len(first17) != USCC_LENGTH - 1 or any(c not in USCC_ALPHABET for c in first17):
        raise SchemaError("a USCC body is 17 characters of the GB 32100 alphabet")
    return first17 + uscc_check_character(first17)


@dataclass(frozen=True)
class Member:
    """A consortium organisation as recorded on chain."""

    uscc: str
    name: str
    roles: frozenset[Role]
    public_key: PublicKey
    status: MemberStatus = MemberStatus.ACTIVE

    def has_role(self, role: Role) -> bool:
        """Return whether the member holds `role`."""
        return role in self.roles

    @property
    def is_active(self) -> bool:
        """Return whether the member may currently sign."""
        return self.status is MemberStatus.ACTIVE

    def to_json(self) -> dict[str, JSONValue]:
        """Return the on-chain JSON form (roles sorted, key in hex)."""
        return {
            "uscc": self.uscc,
            "name": self.name,
            "roles": sorted(r.value for r in self.roles),
            "public_key": self.public_key.hex(),
            "status": self.status.value,
        }

    @classmethod
    def from_json(cls, value: Any) -> Member:
        """Build a member from its JSON form; raise SchemaError if malformed."""
        if not isinstance(value, dict):
            raise SchemaError("a member must be a JSON object")
        if not is_valid_uscc(value.get("uscc")):
            raise SchemaError(f"member id {value.get('uscc')!r} is not a valid USCC")
        name = value.get("name")
        if not isinstance(name, str) or not name.strip():
            raise SchemaError("a member needs a name")
        roles = value.get("roles")
        if not isinstance(roles, list) or not roles:
            raise SchemaError("a member needs at least one role")
        try:
            parsed_roles = frozenset(Role(r) for r in roles)
            status = MemberStatus(value.get("status", "active"))
        except ValueError as exc:
            raise SchemaError(f"unknown role or status in member {value['uscc']}") from exc
        key = value.get("public_key")
        if not isinstance(key, str):
            raise SchemaError("a member needs a hex public key")
        try:
            public_key = PublicKey.from_hex(key)
        except SignatureError as exc:
            raise SchemaError(f"member {value['uscc']}: {exc}") from exc
        return cls(value["uscc"], name, parsed_roles, public_key, status)


MEMBER_KEY_PREFIX = "member/"


def member_state_key(uscc: str) -> str:
    """Return the world-state key under which a member record is kept."""
    return MEMBER_KEY_PREFIX + uscc
