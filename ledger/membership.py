"""Who may act on the ledger: organisations, their USCC ids, roles and keys.

Every organisation is identified by its 统一社会信用代码 (Unified Social Credit
Code, GB 32100-2015): 18 characters whose last is a check character, so a
mistyped id is caught before it reaches a contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ledger.canonical import JSONValue
from ledger.crypto import PublicKey
from ledger.errors import SchemaError, SignatureError

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
USCC_LENGTH = 18


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
    """Return the GB 32100-2015 check character for the first 17 characters of a USCC."""
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(text: object) -> bool:
    """Return whether `text` is an 18-character USCC with a correct check character.

    Contracts check every organisation id they are given, and a consortium
    has few members, so ids found valid are remembered (a bounded set).
    """
    if type(text) is str and text in _VALID_USCCS:
        return True
    if not isinstance(text, str) or len(text) != USCC_LENGTH:
        return False
    if any(c not in USCC_ALPHABET for c in text):
        return False
    valid = uscc_check_character(text[:17]) == text[17]
    if valid and type(text) is str:
        if len(_VALID_USCCS) >= _MAX_REMEMBERED:
            _VALID_USCCS.clear()
        _VALID_USCCS.add(text)
    return valid


_VALID_USCCS: set[str] = set()
_MAX_REMEMBERED = 10_000


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
