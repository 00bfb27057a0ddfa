"""The small vocabulary every contract is written in.

`require(condition, rule)` states a business rule; when the condition fails
the rule's text becomes the error, so the tests (and the users) read the rule
itself.  Records read from state may be shared with other readers (the node
caches decoded records), so contracts never mutate what they read: they
build new records with `records.evolve` (or `dataclasses.replace`) and fresh
dicts.  The argument helpers read a transaction's arguments strictly: a
missing or mistyped argument is a schema error naming the argument.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any, NoReturn

from ledger.canonical import MAX_SAFE_INTEGER
from ledger.errors import ContractViolation, SchemaError
from ledger.execution import Call
from ledger.membership import is_valid_uscc
from ledger.money import CURRENCIES
from ledger.timefmt import parse_date

HEX_ID = re.compile(r"[0-9a-f]{64}")
MAX_TEXT = 256


def require(condition: object, rule: str) -> None:
    """Raise ContractViolation(rule) unless `condition` holds."""
    if not condition:
        raise ContractViolation(rule)


def fail(rule: str) -> NoReturn:
    """Raise ContractViolation(rule) unconditionally."""
    raise ContractViolation(rule)


def exact_args(call: Call, required: set[str], optional: frozenset[str] = frozenset()) -> None:
    """Check the action got every required argument and nothing unknown."""
    given = set(call.args)
    missing = sorted(required - given)
    if missing:
        raise SchemaError(f"{call.body.action} is missing argument(s): {', '.join(missing)}")
    extra = sorted(given - required - optional)
    if extra:
        raise SchemaError(f"{call.body.action} got unknown argument(s): {', '.join(extra)}")


def text(value: Any, what: str, *, max_length: int = MAX_TEXT) -> str:
    """Return `value` if it is a non-empty string of at most `max_length` characters."""
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise SchemaError(f"{what} must be a non-empty string of at most {max_length} characters")
    return value


def amount(value: Any, what: str) -> int:
    """Return `value` if it is a positive integer number of fen."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise SchemaError(f"{what} must be an integer number of fen")
    if not 0 < value <= MAX_SAFE_INTEGER:
        raise SchemaError(f"{what} must be a positive number of fen")
    return value


def fen_or_zero(value: Any, what: str) -> int:
    """Return `value` if it is a non-negative integer number of fen."""
    return 0 if value == 0 and not isinstance(value, bool) else amount(value, what)


def uscc(value: Any, what: str) -> str:
    """Return `value` if it is a valid USCC."""
    if not is_valid_uscc(value):
        raise SchemaError(f"{what} must be a valid 18-character USCC")
    return str(value)


def hex_id(value: Any, what: str) -> str:
    """Return `value` if it is a 64-digit lower-case hex id."""
    if not isinstance(value, str) or not HEX_ID.fullmatch(value):
        raise SchemaError(f"{what} must be a 64-digit lower-case hex id")
    return value


def day(value: Any, what: str) -> date:
    """Return `value` parsed as a YYYY-MM-DD date."""
    return parse_date(value, what=what)


def flag(value: Any, what: str) -> bool:
    """Return `value` if it is a JSON boolean."""
    if not isinstance(value, bool):
        raise SchemaError(f"{what} must be true or false")
    return value


def currency(value: Any, what: str = "currency") -> str:
    """Return `value` if it is a supported ISO 4217 code."""
    if value not in CURRENCIES:
        raise SchemaError(f"{what} must be one of {', '.join(sorted(CURRENCIES))}")
    return str(value)


def objects(value: Any, what: str, *, max_items: int) -> list[Mapping[str, Any]]:
    """Return `value` if it is a non-empty list of at most `max_items` JSON objects."""
    if not isinstance(value, list) or not value or len(value) > max_items:
        raise SchemaError(f"{what} must be a list of 1 to {max_items} objects")
    if not all(isinstance(item, dict) for item in value):
        raise SchemaError(f"each entry of {what} must be an object")
    return value
