"""The world-state records the receivable contract keeps, and where it keeps them.

Every record is an immutable dataclass stored as canonical JSON under a
readable key (`note/<id>`, `receivable/<id>`, ...).  Changing a record means
writing a new version with `evolve` (what dataclasses.replace gives, faster);
value never moves except by consuming notes and creating new ones.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum, StrEnum
from functools import partial
from typing import Any, TypeVar

from ledger.canonical import JSONValue, canonical_bytes
from ledger.crypto import sha256_hex
from ledger.execution import Call, Decoder, decoded

R = TypeVar("R")


class NoteStatus(StrEnum):
    """Where a note is in its life."""

    PENDING = "pending"  # issued, awaiting the receiver's acceptance
    ACTIVE = "active"  # held, may be split, transferred or financed
    FINANCING = "financing"  # under a financing request
    SPENT = "spent"  # consumed by a split, transfer or financing
    SETTLED = "settled"  # cleared at maturity
    VOID = "void"  # rejected, withdrawn or expired before acceptance


class ReceivableStatus(StrEnum):
    """Where a whole credential (a root and its split tree) is in its life."""

    PENDING = "pending"
    ACTIVE = "active"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    PAID = "paid"
    OVERDUE = "overdue"


class FinancingStatus(StrEnum):
    """Where a financing request is in its life."""

    REQUESTED = "requested"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DISBURSED = "disbursed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Note:
    """A piece of a receivable held by one organisation (a UTXO of value)."""

    id: str
    root_id: str
    parent_id: str | None
    holder: str
    amount: int
    currency: str
    issuer: str
    maturity_date: str
    depth: int
    status: NoteStatus
    financed: bool = False
    frozen: bool = False
    created_tx: str = ""
    financing: str | None = None


@dataclass(frozen=True)
class Receivable:
    """A credential as issued: the root of a split tree, with its trade background."""

    id: str
    issuer: str
    first_holder: str
    face: int
    currency: str
    issue_date: str
    maturity_date: str
    accept_by: str
    credit_line: str
    trade: dict[str, Any]
    status: ReceivableStatus
    long_tenor: bool
    paid: int
    live: tuple[str, ...]
    # the block date from which `status` holds (absent in records written before it was kept).
    # A date, not a height: a result simulated ahead of ordering is reused only on the same
    # date, but at whatever height the block gets, so nothing written may depend on the height.
    status_date: str | None = None


@dataclass(frozen=True)
class CreditLine:
    """A bank's credit line (授信) to a core enterprise; issuance draws on it."""

    id: str
    bank: str
    core: str
    currency: str
    limit: int
    used: int
    expiry_date: str


@dataclass(frozen=True)
class Invoice:
    """An invoice (seller, buyer, normalised number), its total and how much credentials use."""

    id: str
    seller: str
    buyer: str
    number: str
    amount: int
    allocated: int


@dataclass(frozen=True)
class Financing:
    """A holder's request to have a bank buy one note, and the bank's terms."""

    id: str
    note: str
    seller: str
    bank: str
    status: FinancingStatus
    terms: dict[str, Any] | None = None
    bank_note: str | None = None
    payment_ref: str | None = None
    terms_hash: str | None = None  # what the seller's acceptance must name


@dataclass(frozen=True)
class Clearing:
    """One holder's share of a maturity payment (清分 record)."""

    id: str
    root_id: str
    note: str
    holder: str
    amount: int
    payment_ref: str
    date: str


@dataclass(frozen=True)
class IssuerBook:
    """Per core enterprise: open credentials counted by maturity date (for the overdue check)."""

    id: str
    open_maturities: dict[str, int]


KEY_PREFIX: dict[type[Any], str] = {
    Note: "note/",
    Receivable: "receivable/",
    CreditLine: "credit_line/",
    Invoice: "invoice/",
    Financing: "financing/",
    Clearing: "clearing/",
    IssuerBook: "issuer/",
}


def key_of(kind: type[Any], record_id: str) -> str:
    """Return the state key for a record of `kind` with id `record_id`."""
    return KEY_PREFIX[kind] + record_id


def load(call: Call, kind: type[R], record_id: str) -> R | None:
    """Read a record of `kind` from state, or None if absent."""
    return decoded(call.state, key_of(kind, record_id), _DECODERS[kind])  # type: ignore[no-any-return]


def save(call: Call, record: Any) -> None:
    """Write a record to state under its key (its decoded form kept as a hint)."""
    kind = type(record)
    call.state.put_raw(key_of(kind, record.id), encode(record), hint=(_DECODERS[kind], record))


def remove(call: Call, record: Any) -> None:
    """Delete a record from state (it no longer exists for any later reader)."""
    call.state.put_raw(key_of(type(record), record.id), None)


def encode(record: Any) -> bytes:
    """Return the canonical bytes of `to_json(record)`, without building the dict.

    A record's attributes are exactly its fields, and canonical_bytes writes
    a StrEnum status as its value and a tuple as a list, so the attribute
    dict gives the same bytes (or EncodingError).
    """
    values = record.__dict__
    if values.keys() == _FIELD_SETS[type(record)]:
        return canonical_bytes(values)
    return canonical_bytes(to_json(record))


def evolve(record: R, **changes: Any) -> R:
    """Return a copy of `record` with `changes`, as dataclasses.replace does, only faster.

    Records are plain frozen dataclasses (no __post_init__, no cached
    values), so copying the field values and overriding some gives what
    replace() would build through __init__.  A name that is not a field is
    a TypeError, as with replace().
    """
    kind = type(record)
    unknown = changes.keys() - _FIELD_SETS[kind]
    if unknown:
        raise TypeError(f"{kind.__name__} has no field {', '.join(sorted(unknown))}")
    copy: R = object.__new__(kind)
    values = copy.__dict__
    values.update(record.__dict__)
    values.update(changes)
    return copy


def with_status(
    call: Call, root: Receivable, status: ReceivableStatus, **changes: Any
) -> Receivable:
    """Return credential `root` in `status` (and `changes`), noting the date it changed on.

    A status that stays as it was keeps its date: a second partial payment
    leaves a credential overdue since the first.
    """
    since = root.status_date if status is root.status else call.block.date.isoformat()
    return evolve(root, status=status, status_date=since, **changes)


def to_json(record: Any) -> dict[str, JSONValue]:
    """Return a record as JSON (enums by value, tuples as lists)."""
    out: dict[str, JSONValue] = {}
    for name in _FIELD_NAMES[type(record)]:
        value = getattr(record, name)
        if isinstance(value, Enum):
            value = value.value
        elif isinstance(value, tuple):
            value = list(value)
        out[name] = value
    return out


def from_json(kind: type[R], value: Any) -> R:
    """Build a record of `kind` from its JSON form (absent optional fields get defaults)."""
    kwargs = {name: value[name] for name in _FIELD_NAMES[kind] if name in value}
    if "status" in kwargs:
        kwargs["status"] = _STATUS_TYPES[kind](kwargs["status"])
    if "live" in kwargs:
        kwargs["live"] = tuple(kwargs["live"])
    return kind(**kwargs)


_STATUS_TYPES: dict[type[Any], type[Enum]] = {
    Note: NoteStatus,
    Receivable: ReceivableStatus,
    Financing: FinancingStatus,
}


# Per record type, built once here: the field names in declared order, as a set, the decoder.
_FIELD_NAMES: dict[type[Any], tuple[str, ...]] = {
    kind: tuple(f.name for f in fields(kind)) for kind in KEY_PREFIX
}
_FIELD_SETS: dict[type[Any], frozenset[str]] = {
    kind: frozenset(names) for kind, names in _FIELD_NAMES.items()
}
_DECODERS: dict[type[Any], Decoder] = {
    kind: partial(from_json, kind) for kind in KEY_PREFIX
}


def derived_id(tx_id: str, index: int, kind: str = "note") -> str:
    """Return the id of output `index` of kind `kind` created by transaction `tx_id`."""
    return sha256_hex(f"{kind}:{tx_id}:{index}".encode())


def invoice_id(seller: str, buyer: str, number: str) -> str:
    """Return an invoice's id: a hash of seller and buyer USCC and the normalised number.

    USCCs are 18 characters of a fixed alphabet without ':', so the three
    parts are always told apart.
    """
    return sha256_hex(f"invoice:{seller}:{buyer}:{number}".encode())
