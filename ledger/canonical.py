"""Canonical bytes: RFC 8785 (JCS) for the ledger's restricted JSON schema.

Everything that is hashed or signed is first turned into these bytes, so two
parties that hold the same document always compute the same id and verify the
same signature.  The schema forbids floats outright (money is integer fen,
rates are decimal strings), which makes JCS's number rules collapse to plain
integer printing; integers are kept inside the range an IEEE double holds
exactly, so any JCS implementation agrees with ours byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from enum import StrEnum
from typing import Any

import orjson

from ledger.errors import EncodingError

JSONValue = Any
"""A value of our schema: None, bool, int, str, list/tuple of values, str-keyed dict."""

MAX_SAFE_INTEGER = 2**53 - 1
MAX_DEPTH = 64  # far deeper than any document of the schema; keeps recursion bounded
_encode_string = json.encoder.encode_basestring
encode_string = _encode_string  # a str's canonical text (valid when it holds no lone surrogate)
_SURROGATE_ORDER_SENSITIVE = "\ue000"


def canonical_bytes(value: JSONValue) -> bytes:
    """Return the RFC 8785 encoding of `value` as UTF-8 bytes.

    Raises EncodingError for floats, out-of-range integers, non-string keys,
    lone surrogates or any type outside the schema.
    """
    fast = plain_bytes(value)
    if fast is not None:
        return fast
    text = canonical_text(value)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EncodingError("strings must be valid Unicode (no lone surrogates)") from exc


_PLAIN_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
_LEAVES: set[type] = {str, int, bool, type(None)}  # and each StrEnum type, once met
_PLAIN_DEPTH = MAX_DEPTH // 2  # deeper documents take the general path (and its depth error)


def plain_bytes(value: JSONValue) -> bytes | None:
    """Return the canonical bytes of a plain value, or None if `value` is not plain.

    Plain means built only of dicts with str keys (none at or above U+E000),
    lists, tuples, and exactly str, int, bool or None or StrEnum members,
    nested less than MAX_DEPTH / 2 deep.  For such a value orjson's sorted
    compact output is RFC 8785's, byte for byte: strings are escaped as JCS
    escapes them, keys sort in code-point order, which is UTF-16 order for
    these keys, OPT_STRICT_INTEGER refuses integers beyond 2^53 - 1 and a
    lone surrogate is refused (both give None here, so that the general path
    raises the EncodingError).  Everything else (floats, other types and
    subclasses, which orjson would write or reject in its own way) is not
    plain.  Hot: records and events are encoded on every state change.
    """
    if not _plain((value,), 0):
        return None
    return _write_plain(value)


def plain_fields_bytes(fields: dict[str, JSONValue]) -> bytes | None:
    """Return plain_bytes(fields) for a dict whose keys are known distinct ASCII strs.

    For records, whose keys are their declared field names: only the
    values need looking at.
    """
    if not _plain(fields.values(), 1):
        return None
    return _write_plain(fields)


def _write_plain(value: JSONValue) -> bytes | None:
    try:
        written = orjson.dumps(value, option=_PLAIN_OPTIONS)
    except orjson.JSONEncodeError:
        return None
    # Copied out: orjson's own buffers, when many are kept (as the state keeps
    # records), cost ~3 us each to allocate; an exact-size copy costs ~0.1 us.
    return bytes(memoryview(written))


def _plain(items: Collection[JSONValue], depth: int) -> bool:
    """Say whether every value in `items` (a list, tuple or dict view) is plain."""
    if set(map(type, items)) <= _LEAVES:
        return True
    if depth >= _PLAIN_DEPTH:
        return False
    for item in items:
        kind = type(item)
        if kind in _LEAVES:
            continue
        if kind is dict:
            if not _plain_object(item, depth + 1):
                return False
        elif kind is list or kind is tuple:
            if not _plain(item, depth + 1):
                return False
        elif issubclass(kind, StrEnum):
            _LEAVES.add(kind)
        else:
            return False
    return True


def _plain_object(obj: dict[Any, JSONValue], depth: int) -> bool:
    # Keys that are not exactly str make orjson refuse the value (so None); here only
    # their order matters: code-point order is UTF-16 order below U+E000.
    try:
        keys = "".join(obj)
    except TypeError:
        return False
    if not keys.isascii() and max(keys) >= _SURROGATE_ORDER_SENSITIVE:
        return False
    return _plain(obj.values(), depth)


def canonical_text(value: JSONValue) -> str:
    """Return the RFC 8785 encoding of `value` as a str (see canonical_bytes)."""
    return _text(value, 0)


def canonical_fields(names: Sequence[str], values: Sequence[JSONValue]) -> bytes:
    """Return the canonical bytes of the object {names[i]: values[i]}.

    For records with a fixed set of fields: requires `names` to be distinct
    ASCII strings already in sorted order (the caller checks that once per
    record type), which spares building and sorting a dict.  The general
    path of FieldEncoder, which is the fast one.
    """
    text = "{" + ",".join([_encode_string(name) + ":" + _text(value, 1)
                           for name, value in zip(names, values, strict=True)]) + "}"
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EncodingError("strings must be valid Unicode (no lone surrogates)") from exc


def _int_field(value: Any) -> str:
    if type(value) is int and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return str(value)
    raise TypeError("not an integer of the exactly representable range")


def _bool_field(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    raise TypeError("not a bool")


def _optional_str_field(value: Any) -> str:
    return "null" if value is None else _encode_string(value)


def _str_tuple_field(value: Any) -> str:
    if type(value) is not tuple:
        raise TypeError("not a tuple")
    return "[" + ",".join(map(_encode_string, value)) + "]"


def _any_field(value: Any) -> str:
    return _text(value, 1)


FIELD_KINDS: dict[str, Callable[[Any], str]] = {
    "str": _encode_string,  # also a str subclass such as a StrEnum member: its text
    "int": _int_field,
    "bool": _bool_field,
    "str | None": _optional_str_field,
    "tuple[str, ...]": _str_tuple_field,
}
"""Declared field type -> the function giving a value of exactly that type its canonical text.

Each raises TypeError for a value of any other type (the C string escaper
does so for a non-str), which sends the record down the general path."""


class FieldEncoder:
    """canonical_fields for one record type, with a fast path per declared field type.

    Records are written on every state change, so their encoding is hot.
    Each field is encoded by the function for its declared type (FIELD_KINDS;
    undeclared kinds by the general encoder); a value not of its declared
    type, or a string that is not valid Unicode, sends the whole record
    through canonical_fields instead.  So the bytes, or the EncodingError,
    are always exactly those of canonical_fields(names, values).
    """

    def __init__(self, names: tuple[str, ...], kinds: Sequence[str]) -> None:
        self.names = names
        self._fields = tuple(
            (("{" if i == 0 else ",") + _encode_string(name) + ":",
             FIELD_KINDS.get(kind, _any_field))
            for i, (name, kind) in enumerate(zip(names, kinds, strict=True)))

    def __call__(self, values: Sequence[JSONValue]) -> bytes:
        """Return canonical_fields(self.names, values)."""
        try:
            return ("".join([prefix + encode(value) for (prefix, encode), value
                             in zip(self._fields, values, strict=True)]) + "}").encode("utf-8")
        except (TypeError, UnicodeEncodeError, EncodingError):
            return canonical_fields(self.names, values)


def _text(value: JSONValue, depth: int) -> str:
    kind = type(value)
    if kind is str:
        return _encode_string(value)
    if kind is int:
        return _encode_int(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if kind is dict:
        return _object_text(value, depth)
    if kind is list or kind is tuple:
        return _array_text(value, depth)
    return _subclass_text(value, depth)


def _subclass_text(value: JSONValue, depth: int) -> str:
    """Encode instances of subclasses of the schema's types (e.g. a StrEnum)."""
    if isinstance(value, str):
        return _encode_string(str.__str__(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return _encode_int(int(value))
    if isinstance(value, dict):
        return _object_text(value, depth)
    if isinstance(value, list | tuple):
        return _array_text(value, depth)
    raise EncodingError(f"type {type(value).__name__} is not allowed in signed data")


def _encode_int(value: int) -> str:
    if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return str(value)
    raise EncodingError(f"integer {value} is outside the exactly representable range")


def _check_depth(depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise EncodingError(f"documents may nest at most {MAX_DEPTH} levels deep")


def _array_text(items: list[JSONValue] | tuple[JSONValue, ...], depth: int) -> str:
    _check_depth(depth)
    return "[" + ",".join([_text(item, depth + 1) for item in items]) + "]"


def _object_text(obj: dict[Any, JSONValue], depth: int) -> str:
    _check_depth(depth)
    parts = []
    for key in _sorted_keys(obj):
        value = obj[key]
        kind = type(value)
        if kind is str:
            text = _encode_string(value)
        elif kind is int:
            text = _encode_int(value)
        else:
            text = _text(value, depth + 1)
        parts.append(_encode_string(key) + ":" + text)
    return "{" + ",".join(parts) + "}"


def _sorted_keys(obj: dict[str, JSONValue]) -> list[str]:
    """Sort keys by UTF-16 code units, as RFC 8785 section 3.2.3 requires.

    Code-point order equals UTF-16 order unless a key holds characters at or
    above U+E000 next to astral characters, so the cheap sort serves nearly
    always.
    """
    try:
        ascii_keys = "".join(obj).isascii()
    except TypeError as exc:
        bad = next(type(k).__name__ for k in obj if not isinstance(k, str))
        raise EncodingError(f"object keys must be strings, not {bad}") from exc
    if ascii_keys:
        return sorted(obj)
    if max(max(k, default="") for k in obj) >= _SURROGATE_ORDER_SENSITIVE:
        return sorted(obj, key=lambda k: k.encode("utf-16-be", "surrogatepass"))
    return sorted(obj)


def _reject_constant(name: str) -> None:
    raise EncodingError(f"{name} is not allowed in signed data")


def _reject_float(text: str) -> None:
    raise EncodingError(f"number {text} is not an integer; floats are not allowed")


def parse_json(data: bytes | str) -> JSONValue:
    """Parse JSON text of our schema (floats and NaN rejected), not necessarily canonical.

    Raises EncodingError naming what is wrong.
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


def parse_trusted(data: bytes) -> JSONValue:
    """Parse canonical bytes this process (or its own database) produced.

    Skips the schema hooks of `parse_json` (several times faster); never use
    it on bytes from outside.
    """
    return json.loads(data)


def parse_canonical(data: bytes) -> JSONValue:
    """Parse bytes that must already be in canonical form, and return the value.

    Raises EncodingError if the bytes are malformed or not exactly canonical,
    so that one document never has two encodings (and two transaction ids).
    Bytes that orjson parses into a plain value whose canonical bytes they
    are need nothing more (a duplicate key, a float, an escape that need not
    be one, or anything else amiss makes the bytes differ); any other bytes
    take the general path, which says what is wrong.
    """
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    else:
        if plain_bytes(value) == data:
            return value
    return parse_canonical_general(data)


def parse_canonical_general(data: bytes) -> JSONValue:
    """parse_canonical without its fast path (the reference the tests hold it to)."""
    if data.isascii() and data.count(b"[") + data.count(b"{") <= MAX_DEPTH:
        value = _parse_ascii_document(data)
        again = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        try:
            same = again.encode("utf-8") == data
        except UnicodeEncodeError as exc:
            raise EncodingError("strings must be valid Unicode (no lone surrogates)") from exc
        if not same:
            parse_json(data)  # names a duplicate key, if that is what is wrong
            raise EncodingError("document is not in canonical (RFC 8785) form")
        return value
    value = parse_json(data)
    if canonical_bytes(value) != data:
        raise EncodingError("document is not in canonical (RFC 8785) form")
    return value


def _checked_int(text: str) -> int:
    value = int(text)
    _encode_int(value)  # raises EncodingError outside the exactly representable range
    return value


def _parse_ascii_document(data: bytes) -> JSONValue:
    """Parse ASCII JSON for the canonical check, using the C scanner as far as possible.

    For ASCII text the standard library's compact, key-sorted output is
    exactly RFC 8785 once floats are refused and integers range-checked:
    code-point and UTF-16 key order agree on ASCII keys, control characters
    are escaped the same way, a value parsed from an escape such as \u00e9
    is written back raw (so non-canonical input fails the byte comparison),
    and a duplicate key cannot survive that comparison either; so no
    per-object hook is needed.  The caller bounds nesting by counting
    brackets before choosing this path.
    """
    try:
        return json.loads(data, parse_float=_reject_float, parse_constant=_reject_constant,
                          parse_int=_checked_int)
    except EncodingError:
        raise
    except (ValueError, RecursionError) as exc:
        raise EncodingError(f"malformed JSON: {exc}") from exc


def _object_without_duplicates(pairs: list[tuple[str, JSONValue]]) -> dict[str, JSONValue]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise EncodingError("object has duplicate keys")
    return obj
