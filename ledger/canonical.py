"""Canonical bytes: RFC 8785 (JCS) for the ledger's restricted JSON schema.

Everything that is hashed or signed is first turned into these bytes, so two
parties that hold the same document always compute the same id and verify the
same signature.  The schema forbids floats outright (money is integer fen,
rates are decimal strings), which makes JCS's number rules collapse to plain
integer printing; integers are kept inside the range an IEEE double holds
exactly, so any JCS implementation agrees with ours byte for byte.

This module owns the one encoder (`canonical_bytes`, and `encode_string` for
callers that splice canonical pieces together) and the parsers: of canonical
bytes from anywhere (`parse_canonical`), of any JSON of the schema from
outside (`parse_json`, which need not be canonical), and of canonical bytes
this process made itself (`parse_trusted`).  orjson writes and reads the
bytes; tests hold both directions to the `rfc8785` reference package.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from itertools import repeat
from typing import Any

import orjson

from ledger.errors import EncodingError

JSONValue = Any
"""A value of our schema: None, bool, int, str, list/tuple of values, str-keyed dict."""

MAX_SAFE_INTEGER = 2**53 - 1
MAX_DEPTH = 64  # containers nested in containers; far deeper than any document of the schema

encode_string = json.encoder.encode_basestring
"""Return a str's canonical text, quotes included (valid when it holds no lone surrogate)."""

_SCALARS = frozenset({str, int, bool, type(None)})
_CONTAINERS = frozenset({dict, list, tuple})
_SORTED = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
_AS_GIVEN = orjson.OPT_STRICT_INTEGER  # keys already in RFC 8785 order
_HIGH_BMP_LEAD = re.compile(b"[\xee\xef]")
_ASTRAL_LEAD = re.compile(b"[\xf0-\xf4]")


def canonical_bytes(value: JSONValue) -> bytes:
    """Return the RFC 8785 encoding of `value` as UTF-8 bytes.

    Raises EncodingError for floats, out-of-range integers, non-string keys,
    lone surrogates, nesting deeper than MAX_DEPTH or any type outside the
    schema.  Subclasses of str and int (a StrEnum status, an IntEnum) are
    written as the str or int they are.
    """
    fast = _plain_bytes(value)
    return fast if fast is not None else _exact_bytes(value)


def _plain_bytes(value: JSONValue) -> bytes | None:
    """Return orjson's sorted output for `value` if it is plain and that is RFC 8785's, else None.

    The fast route: nearly every value the ledger encodes takes it.
    """
    kind = type(value)
    if not (_plain(value, 1) if kind in _CONTAINERS else kind in _SCALARS):
        return None
    written = _write(value, _SORTED)
    if written is None or (not written.isascii() and _keys_may_sort_apart(written)):
        return None
    return written


def _exact_bytes(value: JSONValue) -> bytes:
    """Return canonical_bytes(value) by way of `_exact` (any value; raises EncodingError)."""
    written = _write(_exact(value, 0), _AS_GIVEN)
    if written is None:  # _exact left nothing else orjson could refuse
        raise EncodingError("strings must be valid Unicode (no lone surrogates)")
    return written


def _plain(container: dict[Any, JSONValue] | list[JSONValue] | tuple[JSONValue, ...],
           depth: int) -> bool:
    """Say whether orjson may write `container` (with sorted keys) as RFC 8785 does.

    `container` is exactly a dict, list or tuple, nested `depth` deep (1 at
    the top).  Plain means built only of dicts, lists, tuples, exactly str,
    int, bool or None, and StrEnum members (orjson writes their value, which
    is their text), nested at most MAX_DEPTH deep.  For such a value orjson
    writes strings as JCS does, refuses what the schema refuses (an integer
    beyond 2^53 - 1, a key that is not exactly str, a lone surrogate), and
    sorts keys in code-point order, which is RFC 8785's UTF-16 order unless
    `_keys_may_sort_apart`.  Anything else (a float, another type, a
    subclass orjson would write in its own way) is not plain.  Hot: records
    and events are encoded on every state change.
    """
    if depth > MAX_DEPTH:
        return False
    items = container.values() if type(container) is dict else container
    kinds = set(map(type, items))
    if kinds <= _SCALARS:
        return True
    kinds -= _SCALARS
    if kinds.isdisjoint(_CONTAINERS):  # then only StrEnum members may be left
        return all(map(issubclass, kinds, repeat(StrEnum)))
    for item in items:
        kind = type(item)
        if kind in _CONTAINERS:
            if not _plain(item, depth + 1):
                return False
        elif kind not in _SCALARS and not issubclass(kind, StrEnum):
            return False
    return True


def _keys_may_sort_apart(written: bytes) -> bool:
    """Say whether code-point and UTF-16 order might differ for keys in these UTF-8 bytes.

    They differ only between a character from U+E000 to U+FFFF (UTF-8 lead
    byte EE or EF) and one above U+FFFF (lead byte F0 to F4).
    """
    return _HIGH_BMP_LEAD.search(written) is not None and _ASTRAL_LEAD.search(written) is not None


def _write(value: JSONValue, option: int) -> bytes | None:
    """Return orjson's output for `value` with `option`, or None if orjson refuses it."""
    try:
        written = orjson.dumps(value, option=option)
    except orjson.JSONEncodeError:
        return None
    # Copied out: orjson's own buffers, when many are kept (as the state keeps
    # records), cost ~3 us each to allocate; an exact-size copy costs ~0.1 us.
    return bytes(memoryview(written))


def _exact(value: JSONValue, depth: int) -> JSONValue:
    """Return `value` rebuilt of exact types, each dict's keys inserted in RFC 8785 order.

    `depth` counts the containers around `value`.  Raises EncodingError
    for whatever the schema does not allow, except a lone surrogate (which
    orjson refuses when it writes the result).
    """
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        number = int(value)
        if not -MAX_SAFE_INTEGER <= number <= MAX_SAFE_INTEGER:
            raise EncodingError(f"integer {number} is outside the exactly representable range")
        return number
    if not isinstance(value, dict | list | tuple):
        raise EncodingError(f"type {type(value).__name__} is not allowed in signed data")
    if depth >= MAX_DEPTH:
        raise EncodingError(f"documents may nest at most {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        return {str.__str__(key): _exact(value[key], depth + 1) for key in _sorted_keys(value)}
    return [_exact(item, depth + 1) for item in value]


def _sorted_keys(obj: dict[Any, JSONValue]) -> list[str]:
    """Return the keys sorted by UTF-16 code units, as RFC 8785 section 3.2.3 requires."""
    bad = [type(key).__name__ for key in obj if not isinstance(key, str)]
    if bad:
        raise EncodingError(f"object keys must be strings, not {bad[0]}")
    return sorted(obj, key=lambda key: key.encode("utf-16-be", "surrogatepass"))


def parse_canonical(data: bytes) -> JSONValue:
    """Parse bytes that must already be in canonical form, and return the value.

    Bytes are canonical when they parse and their value's canonical bytes
    are exactly them, so one document never has two encodings (and two
    transaction ids): a duplicate key, a float, an escape that need not be
    one, a space or anything else amiss makes the bytes differ.  Raises
    EncodingError naming what is wrong.
    """
    try:
        value = orjson.loads(data)
        if canonical_bytes(value) == data:
            return value
    except (orjson.JSONDecodeError, EncodingError):
        pass
    canonical_bytes(parse_json(data))  # raises the error that names the problem, if one does
    raise EncodingError("document is not in canonical (RFC 8785) form")


def parse_trusted(data: bytes) -> JSONValue:
    """Parse canonical bytes this process (or its own database) produced.

    Skips the canonical check of `parse_canonical`; never use it on bytes
    from outside.
    """
    return orjson.loads(data)


def parse_json(data: bytes | str) -> JSONValue:
    """Parse JSON text of our schema (floats and NaN rejected), not necessarily canonical.

    For documents from outside (request bodies, files people write).
    Raises EncodingError naming what is wrong: malformed JSON, a float or
    constant, a duplicate key.
    """
    try:
        return json.loads(
            data,
            parse_float=_reject_float,
            parse_constant=_reject_constant,
            object_pairs_hook=_object_without_duplicates,
        )
    except EncodingError:
        raise
    except (ValueError, RecursionError) as exc:
        raise EncodingError(f"malformed JSON: {exc}") from exc


def _reject_constant(name: str) -> None:
    raise EncodingError(f"{name} is not allowed in signed data")


def _reject_float(text: str) -> None:
    raise EncodingError(f"number {text} is not an integer; floats are not allowed")


def _object_without_duplicates(pairs: list[tuple[str, JSONValue]]) -> dict[str, JSONValue]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise EncodingError("object has duplicate keys")
    return obj
