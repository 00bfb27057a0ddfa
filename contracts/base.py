"""The small vocabulary every contract is written in.

`require(condition, rule)` states a business rule; when the condition fails
the rule's text becomes the error, so the tests (and the users) read the rule
itself.  A rule may add what was wrong, as a template and its values:

    require(piece >= minimum, "each split piece is at least the minimum amount",
            "piece {:yuan} is below the minimum {:yuan}", piece, minimum)

fails with "each split piece is at least the minimum amount: piece 50.00
is below the minimum 100.00": the rule leads, and what was wrong follows
(a rule never contains ": ", so `ledger.errors.rule_of` reads it back from a
stored reason).  The template is filled only when the rule
fails, so a rule that holds costs no formatting.  Besides Python's own
format specs, `{:yuan}` writes fen as yuan ("1,000.00", as
`ledger.money.format_fen` does: never raw fen), `{:id}` a record id in short
("602c4e1a…") and `{:who}` a list of USCCs ("A or B").

Records read from state may be shared with other readers (the node caches
decoded records), so contracts never mutate what they read: they build new
records with `records.evolve` (or `dataclasses.replace`) and fresh dicts.

Every action first parses its arguments into a typed command (see
`contracts/receivable/commands.py`) with the readers below.  They are total
over JSON: whatever value arrives in any position (a list where a string
belongs, an object, NUL characters, a huge number), the answer is a value of
the declared type or a SchemaError naming the argument, never another
exception.  So a wrongly shaped transaction is refused (400 at submission,
`bad_schema` in a block) before any rule reads state, and the rules after
parsing read as clauses over typed values.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, NoReturn

from ledger.canonical import MAX_SAFE_INTEGER
from ledger.errors import ContractViolation, SchemaError, described, names_in_message, short_id
from ledger.execution import Call
from ledger.membership import USCC_LENGTH, is_valid_uscc, make_uscc
from ledger.money import CURRENCIES, format_fen, parse_percent
from ledger.timefmt import parse_date

HEX_ID = re.compile(r"[0-9a-f]{64}")
MAX_TEXT = 256


def require(condition: object, rule: str, detail: str = "", *values: object) -> None:
    """Raise ContractViolation unless `condition` holds.

    The error states the `rule`, then what was wrong (`detail` filled with
    `values`, see the module docstring).  Nothing is formatted when the
    condition holds.
    """
    if not condition:
        fail(rule, detail, *values)


def fail(rule: str, detail: str = "", *values: object) -> NoReturn:
    """Raise ContractViolation: the `rule`, then what was wrong (`detail` filled with `values`)."""
    raise ContractViolation(rule, _SPECIFICS.format(detail, *values) if values else detail)


class _Specifics(string.Formatter):
    """str.format with the formats of money, ids and signers (see the module docstring)."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec == "yuan":
            return format_fen(value)
        if format_spec == "id":
            return "none" if value is None else short_id(value)
        if format_spec == "who":
            return who(value)
        return str(super().format_field(value, format_spec))


_SPECIFICS = _Specifics()


def who(usccs: Iterable[str]) -> str:
    """Return organisations as a message names them: "A", or "A or B" for several."""
    return " or ".join(usccs) or "nobody"


def unknown_or_not(kind: str, record_id: str, relation: str, call: Call) -> str:
    """Return what a refusal says when the signers may not act on a record, or it is absent.

    "credential 602c4e1a… is unknown, or not issued to 9132…": the same
    words whether the record exists or not (need to know), yet a mistyped
    id or a wrong signing identity is plain to see.
    """
    return f"{kind} {short_id(record_id)} is unknown, or not {relation} {who(call.signers)}"


def exact_args(call: Call, required: set[str], optional: frozenset[str] = frozenset()) -> None:
    """Check the action got every required argument and nothing unknown."""
    named = set(call.args)
    missing = sorted(required - named)
    if missing:
        raise SchemaError(f"{call.body.action} is missing argument(s): {', '.join(missing)}")
    extra = sorted(named - required - optional)
    if extra:
        raise SchemaError(
            f"{call.body.action} got unknown argument(s): {names_in_message(extra)}")


def arguments(
    call: Call, required: set[str], optional: frozenset[str] = frozenset()
) -> Mapping[str, Any]:
    """Return the call's arguments after checking their names (`exact_args`)."""
    exact_args(call, required, optional)
    return call.args


def fields_of(value: Any, names: frozenset[str], what: str) -> Mapping[str, Any]:
    """Return `value` if it is a JSON object with exactly the keys `names`.

    Raises SchemaError saying `what` must have exactly those fields, and
    which were missing or unknown (or what was given instead of an object).
    """
    if not isinstance(value, dict):
        raise SchemaError(f"{what} has exactly {_listed(sorted(names))}, not {described(value)}")
    if value.keys() != names:
        missing, unknown = sorted(names - value.keys()), sorted(value.keys() - names)
        wrong = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"unknown {names_in_message(unknown)}"] if unknown else [])
        raise SchemaError(f"{what} has exactly {_listed(sorted(names))} ({'; '.join(wrong)})")
    return value


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def text(value: Any, what: str, *, max_length: int = MAX_TEXT) -> str:
    """Return `value` if it is non-blank printable text of at most `max_length` characters.

    Printable (str.isprintable) rules out control characters such as NUL or a
    line break, and unpaired surrogates: what is stored and shown is one line
    of real text.
    """
    if (not isinstance(value, str) or not value.strip() or len(value) > max_length
            or not value.isprintable()):
        raise SchemaError(f"{what} must be printable text of 1 to {max_length} characters "
                          f"(no control characters), not {described(value)}")
    return value


def amount(value: Any, what: str) -> int:
    """Return `value` if it is a positive integer number of fen.

    A number out of range is quoted in yuan, as people write amounts.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise SchemaError(f"{what} must be an integer number of fen, not {described(value)}")
    if value <= 0:
        raise SchemaError(f"{what} must be positive, not {format_fen(value)}")
    if value > MAX_SAFE_INTEGER:
        raise SchemaError(f"{what} must be at most {format_fen(MAX_SAFE_INTEGER)}")
    return value


def fen_or_zero(value: Any, what: str) -> int:
    """Return `value` if it is a non-negative integer number of fen."""
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        raise SchemaError(f"{what} must be zero or positive, not {format_fen(value)}")
    return 0 if value == 0 and not isinstance(value, bool) else amount(value, what)


def uscc(value: Any, what: str) -> str:
    """Return `value` if it is a valid USCC (saying so when only its check character is wrong)."""
    if not is_valid_uscc(value):
        hint = " (its check character is wrong)" if _check_character_wrong(value) else ""
        raise SchemaError(f"{what} must be a valid 18-character USCC, not {described(value)}{hint}")
    return str(value)


def _check_character_wrong(value: Any) -> bool:
    """Return whether `value` would be a USCC with another last character (a typo, most likely)."""
    if not isinstance(value, str) or len(value) != USCC_LENGTH:
        return False
    try:
        make_uscc(value[:-1])
    except SchemaError:
        return False
    return True


def hex_id(value: Any, what: str) -> str:
    """Return `value` if it is a 64-digit lower-case hex id."""
    if not isinstance(value, str) or not HEX_ID.fullmatch(value):
        raise SchemaError(f"{what} must be a 64-digit lower-case hex id, not {_given_id(value)}")
    return value


def _given_id(value: Any) -> str:
    """Return how a refusal quotes a would-be id: a long one by its start and its length."""
    if not isinstance(value, str) or len(value) <= 16 or not value.isascii():
        return described(value)
    kind = "" if len(value) != 64 else ", not all of them 0-9 or a-f"
    return f"{value[:8]!r}... ({len(value)} characters{kind})"


def day(value: Any, what: str) -> date:
    """Return `value` parsed as a YYYY-MM-DD date."""
    return parse_date(value, what=what)


def flag(value: Any, what: str) -> bool:
    """Return `value` if it is a JSON boolean."""
    if not isinstance(value, bool):
        raise SchemaError(f"{what} must be true or false, not {described(value)}")
    return value


def currency(value: Any, what: str = "currency") -> str:
    """Return `value` if it is a supported ISO 4217 code."""
    if not isinstance(value, str) or value not in CURRENCIES:
        raise SchemaError(
            f"{what} must be one of {', '.join(sorted(CURRENCIES))}, not {described(value)}")
    return value


def rate_percent(value: Any, what: str = "annual_rate_percent") -> str:
    """Return `value` if it is a yearly rate in percent written as a decimal string ('2.50')."""
    parse_percent(value, what)
    return str(value)


def one_of(value: Any, allowed: tuple[str, ...], what: str) -> str:
    """Return `value` if it is one of the strings `allowed`."""
    if not isinstance(value, str) or value not in allowed:
        raise SchemaError(f"{what} must be one of {', '.join(allowed)}, not {described(value)}")
    return value


def objects(
    value: Any, what: str, *, max_items: int, min_items: int = 1
) -> list[Mapping[str, Any]]:
    """Return `value` if it is a list of `min_items` to `max_items` JSON objects."""
    if not isinstance(value, list) or not min_items <= len(value) <= max_items:
        raise SchemaError(
            f"{what} must be a list of {min_items} to {max_items} objects, not {described(value)}")
    if not all(isinstance(item, dict) for item in value):
        raise SchemaError(f"each entry of {what} must be an object")
    return value
