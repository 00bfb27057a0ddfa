"""ledger.canonical against the rfc8785 reference package and RFC 8785 itself.

The reference for canonical bytes is `rfc8785.dumps` within our schema (no
floats, at most MAX_DEPTH nested containers); the reference for parsing them
is the standard library's parser (`parse_json`) followed by that encoding.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from enum import Enum, IntEnum
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import (  # and the two routes inside canonical_bytes, each tested alone
    MAX_DEPTH,
    MAX_SAFE_INTEGER,
    _exact_bytes,
    _plain_bytes,
    canonical_bytes,
    encode_string,
    parse_canonical,
    parse_json,
    parse_trusted,
)
from ledger.errors import EncodingError
from ledger.membership import Role

SPECIAL_STRINGS = [
    "", "核心企业", "应收账款/拆分", "😀", "\U0001f600\U0010ffff", "\u2028\u2029", "\x00\x1f\x7f",
    "\b\t\n\f\r", '"\\/', "\u0080\u00f6\u20ac\ufb33", "\ue000\uffff", "é", "e\u0301",
]
HIGH_BMP = st.characters(min_codepoint=0xE000, max_codepoint=0xFFFF)
ASTRAL = st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF)

strings = st.one_of(st.text(max_size=12), st.sampled_from(SPECIAL_STRINGS))
# Keys mixing U+E000..U+FFFF with astral characters: UTF-16 order != code-point order.
keys = st.one_of(strings, st.text(HIGH_BMP | ASTRAL | st.sampled_from("a1"), max_size=4))
scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
    st.sampled_from([0, -1, MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER]),
    strings,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(keys, inner, max_size=6),
    max_leaves=25,
)


def same(a: Any, b: Any) -> bool:
    """Equality that also distinguishes bool from int and list from dict."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def _nested(depth: int) -> list[Any]:
    """Return `depth` + 1 lists, each the only item of the one around it."""
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_matches_rfc8785_reference(value: Any) -> None:
    assert canonical_bytes(value) == rfc8785.dumps(value)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_round_trip(value: Any) -> None:
    data = canonical_bytes(value)
    assert same(parse_canonical(data), value)
    assert same(parse_json(data), value)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(keys, st.integers(0, 9), min_size=2, max_size=8))
def test_keys_sorted_by_utf16_code_units(obj: dict[str, int]) -> None:
    out = parse_json(canonical_bytes(obj))
    order = list(out)  # json.loads keeps document order
    assert order == sorted(obj, key=lambda k: k.encode("utf-16-be"))


def test_utf16_order_differs_from_code_point_order() -> None:
    obj = {"\ue000": 1, "\U00010000": 2, "\uffff": 3, "a": 4}
    expected = '{"a":4,"\U00010000":2,"\ue000":1,"\uffff":3}'.encode()
    assert canonical_bytes(obj) == expected == rfc8785.dumps(obj)
    # a key mixing both inside one string
    mixed = {"x\ue000": 1, "x\U0001f600": 2}
    assert canonical_bytes(mixed) == '{"x\U0001f600":2,"x\ue000":1}'.encode()


def test_rfc8785_sorting_example() -> None:
    """RFC 8785 section 3.2.3: the property-sorting example."""
    obj = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",  # "\ud83d\ude00" in the RFC's JSON
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    data = canonical_bytes(obj)
    assert data == rfc8785.dumps(obj)
    assert list(parse_canonical(data).values()) == [
        "Carriage Return", "One", "Control", "Latin Small Letter O With Diaeresis",
        "Euro Sign", "Emoji: Grinning Face", "Hebrew Letter Dalet With Dagesh",
    ]


@pytest.mark.parametrize(("value", "expected"), [
    ("\u2028", '"\u2028"'.encode()),
    ("\x1f\x00", b'"\\u001f\\u0000"'),
    ("\b\t\n\f\r", b'"\\b\\t\\n\\f\\r"'),
    ('"\\/', b'"\\"\\\\/"'),
    ("\x7f\u0080", '"\x7f\u0080"'.encode()),
    ("核心企业", '"核心企业"'.encode()),
    ("😀", b'"\xf0\x9f\x98\x80"'),
    ([True, False, None, -0, 10], b"[true,false,null,0,10]"),
    ((1, [2, {}]), b"[1,[2,{}]]"),
    ({"b": [], "a": {"d": 1, "c": None}}, b'{"a":{"c":null,"d":1},"b":[]}'),
])
def test_known_answers(value: Any, expected: bytes) -> None:
    assert canonical_bytes(value) == expected
    assert rfc8785.dumps(list(value) if isinstance(value, tuple) else value) == expected


def test_tuple_becomes_list() -> None:
    assert parse_canonical(canonical_bytes((1, (2,)))) == [1, [2]]


@pytest.mark.parametrize("value", [
    1.0, 0.5, -0.0, math.nan, math.inf, -math.inf, [1, 2.5], {"a": {"b": [1, [0.1]]}},
    MAX_SAFE_INTEGER + 1, -MAX_SAFE_INTEGER - 1, 2**64, {"a": [2**53]},
    {1: "a"}, {None: 1}, {"a": {2: 3}}, {("k",): 1}, {True: 1},
    "\ud800", "\udfff", "a\ud83d", {"\ud83d": 1}, ["ok", "\udc00"],
    b"bytes", {1, 2}, object(),
])
def test_canonical_rejects(value: Any) -> None:
    with pytest.raises(EncodingError):
        canonical_bytes(value)


def test_integer_bounds_accepted() -> None:
    assert canonical_bytes([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER]) == (
        b"[9007199254740991,-9007199254740991]"
    )


@pytest.mark.parametrize("data", [
    b"NaN", b"Infinity", b"-Infinity", b"[NaN]", b'{"a":Infinity}',
    b"1.0", b"1e5", b"-0.0", b"[1,2.5]", b'{"a":{"b":[0.1]}}', b"1E400",
])
def test_parse_rejects_floats_and_constants(data: bytes) -> None:
    with pytest.raises(EncodingError):
        parse_json(data)
    with pytest.raises(EncodingError):
        parse_canonical(data)


@pytest.mark.parametrize("data", [
    b'{"a":1,"a":2}', b'{"x":{"a":1,"a":1}}', b'[{"a":1,"\\u0061":2}]', b'{"":1,"":1}',
])
def test_duplicate_keys_rejected(data: bytes) -> None:
    with pytest.raises(EncodingError, match="duplicate"):
        parse_json(data)
    with pytest.raises(EncodingError):
        parse_canonical(data)


@pytest.mark.parametrize("data", [
    b'{"a": 1}', b'{"a":1} ', b" 1", b"1\n", b"[1, 2]", b'{"b":1,"a":2}',
    b'"\\u00e9"', b'"\\u6838"', b'"\\ud83d\\ude00"', b'"\\/"', b'"\\u0041"', b'"\\u001F"',
    b"-0", b"\xef\xbb\xbf1", '"é"'.encode("utf-16-le"), '{"a":1}'.encode("utf-16"),
    b'"\\ud800"', b'"\xed\xa0\x80"', b"9007199254740992", b"-9007199254740992",
])
def test_non_canonical_rejected(data: bytes) -> None:
    with pytest.raises(EncodingError):
        parse_canonical(data)


def test_non_canonical_forms_still_parse_as_json() -> None:
    assert parse_json(b'{"b":1, "a":"\\u00e9"}') == {"b": 1, "a": "é"}


@pytest.mark.parametrize("data", [
    b"", b"{", b"[1,]", b"{'a':1}", b'{"a" 1}', b"1 2", b"\xff", b'"\xc3"', b"tru",
    b'"unterminated', b'{"a":1,}', b"01", b'"\x01"', b"[1]]", b"[1",
])
def test_malformed_rejected(data: bytes) -> None:
    with pytest.raises(EncodingError):
        parse_json(data)
    with pytest.raises(EncodingError):
        parse_canonical(data)


def test_parse_json_accepts_str() -> None:
    assert parse_json('{"a":[1,"x"]}') == {"a": [1, "x"]}


def test_nesting_up_to_the_limit_parses_and_deeper_is_refused_by_name() -> None:
    deepest = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert parse_canonical(deepest) == _nested(MAX_DEPTH - 1)
    assert canonical_bytes(_nested(MAX_DEPTH - 1)) == deepest
    for depth in (MAX_DEPTH + 1, 600):
        data = b"[" * depth + b"]" * depth
        with pytest.raises(EncodingError, match=f"^documents may nest at most {MAX_DEPTH} "):
            parse_canonical(data)
    with pytest.raises(EncodingError, match=f"^documents may nest at most {MAX_DEPTH} "):
        canonical_bytes(_nested(MAX_DEPTH))


def test_very_deep_nesting_is_encoding_error() -> None:
    with pytest.raises(EncodingError):
        parse_json(b"[" * 100_000 + b"]" * 100_000)


def test_reference_agrees_on_big_documents() -> None:
    doc = {f"k{i}": [i, str(i) * 3, {"核心": i % 2 == 0}] for i in range(300)}
    assert canonical_bytes(doc) == rfc8785.dumps(doc)
    assert json.loads(canonical_bytes(doc)) == doc


class _Level(IntEnum):
    HIGH = 3


class _Mixed(str, Enum):  # noqa: UP042 - on purpose: a str-mixin Enum, not a StrEnum
    A = "a\t"


class _Text(str):
    """A str subclass that is not an enum."""


_ODD_LEAVES = st.one_of(
    scalars, st.floats(), st.integers(), st.sampled_from(
        ["\ud800", "x\udfff", Role.BANK, _Level.HIGH, _Mixed.A, _Text("t"), uuid.UUID(int=1),
         b"b", (), ("a", "b"), (1, None)]),
    st.integers(MAX_SAFE_INTEGER - 2, MAX_SAFE_INTEGER + 2),
    st.integers(-MAX_SAFE_INTEGER - 2, -MAX_SAFE_INTEGER + 2))
_ODD_KEYS = st.one_of(keys, st.sampled_from([1, None, True, _Text("k"), Role.BANK, "\ud800"]))
odd_values = st.recursive(
    _ODD_LEAVES,
    lambda inner: (st.lists(inner, max_size=4) | st.lists(inner, max_size=4).map(tuple)
                   | st.dictionaries(_ODD_KEYS, inner, max_size=5)),
    max_leaves=20,
)


def _depth(value: Any) -> int:
    """Return how many containers nest in `value` at the deepest point."""
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list | tuple):
        return 1 + max(map(_depth, value), default=0)
    return 0


def _has_float(value: Any) -> bool:
    if isinstance(value, dict):
        return any(map(_has_float, value.values()))
    if isinstance(value, list | tuple):
        return any(map(_has_float, value))
    return isinstance(value, float)


def reference_bytes(value: Any) -> bytes | None:
    """Return rfc8785's bytes for `value`, or None where it or our schema refuses the value."""
    if _has_float(value) or _depth(value) > MAX_DEPTH:
        return None
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):  # the latter: a lone surrogate key
        return None


@settings(max_examples=600, deadline=None)
@given(st.one_of(json_values, odd_values))
def test_canonical_bytes_is_the_reference_or_refused(value: Any) -> None:
    expected = reference_bytes(value)
    if expected is None:
        with pytest.raises(EncodingError):
            canonical_bytes(value)
    else:
        assert canonical_bytes(value) == expected


@settings(max_examples=600, deadline=None)
@given(st.one_of(json_values, odd_values))
def test_each_route_gives_the_reference_bytes_or_none(value: Any) -> None:
    """The fast route never gives other bytes than the reference, nor takes a refused value."""
    expected = reference_bytes(value)
    fast = _plain_bytes(value)
    assert fast is None or fast == expected
    try:
        exact = _exact_bytes(value)
    except EncodingError:
        exact = None
    assert exact == expected


@pytest.mark.parametrize("value", [
    {"type": "transferred", "note": "n1", "amount": 12, "parties": ["a", "b"], "ok": True},
    [{"b": [1, {"z": None}], "a": Role.BANK}, ("x", "y")],
    {"核心企业": "应收账款😀", "é": 1, "\u2028": "\x00\x1f\x7f\b\t\n\f\r\"\\/"},
    {"d": [[[[["deep"]]]]]}, [], {}, "", MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER,
    _nested(MAX_DEPTH - 1),
])
def test_plain_values_take_the_fast_route(value: Any) -> None:
    assert _plain_bytes(value) == rfc8785.dumps(value) == canonical_bytes(value)


@pytest.mark.parametrize("value", [
    {"a": 1.0}, [uuid.UUID(int=1)], {"k": _Text("t")}, {"k": _Level.HIGH}, {1: "a"},
    {"\ue000": 1, "\U0001f600": 2}, ["\ud800"], [MAX_SAFE_INTEGER + 1], {"a": b"b"},
    {Role.BANK: 1}, _nested(MAX_DEPTH),
])
def test_values_that_are_not_plain_are_declined(value: Any) -> None:
    assert _plain_bytes(value) is None


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_encode_string_is_the_canonical_text_of_a_string(text: str) -> None:
    assert encode_string(text).encode("utf-8") == rfc8785.dumps(text) == canonical_bytes(text)


def reference_parse(data: bytes) -> Any:
    """Parse `data` as the standard library does; raise EncodingError unless it is canonical."""
    value = parse_json(data)
    if reference_bytes(value) != data:
        raise EncodingError("not canonical")
    return value


def _outcome(parse: Any, data: bytes) -> Any:
    try:
        return ("value", parse(data))
    except EncodingError:
        return ("error", None)


@settings(max_examples=500, deadline=None)
@given(st.one_of(json_values, odd_values), st.data())
def test_parse_canonical_agrees_with_the_reference(value: Any, data: st.DataObject) -> None:
    """Canonical bytes, and any single-byte change of them, parse (or fail) alike."""
    try:
        encoded = canonical_bytes(value)
    except EncodingError:
        encoded = repr(value).encode("utf-8", "surrogatepass")
    cases = [encoded]
    if encoded:
        at = data.draw(st.integers(0, len(encoded) - 1))
        byte = data.draw(st.integers(0, 255))
        cases.append(encoded[:at] + bytes([byte]) + encoded[at + 1:])
        cases.append(encoded[:at] + encoded[at + 1:])
        cases.append(encoded[:at] + b" " + encoded[at:])
    for case in cases:
        ours, reference = _outcome(parse_canonical, case), _outcome(reference_parse, case)
        assert ours[0] == reference[0], case
        assert same(ours[1], reference[1])
        if ours[0] == "value":
            assert same(parse_trusted(case), reference[1])


@pytest.mark.parametrize(("data", "problem"), [
    (b'{"a":1,"a":2}', "object has duplicate keys"),
    (b'{"b":1,"a":2}', "document is not in canonical (RFC 8785) form"),
    (b'{"a":1} ', "document is not in canonical (RFC 8785) form"),
    (b'["\\u00e9"]', "document is not in canonical (RFC 8785) form"),
    (b'["\\/"]', "document is not in canonical (RFC 8785) form"),
    (b"[1.0]", "number 1.0 is not an integer; floats are not allowed"),
    (b"[1e2]", "number 1e2 is not an integer; floats are not allowed"),
    (b"[NaN]", "NaN is not allowed in signed data"),
    (b"[9007199254740992]", "integer 9007199254740992 is outside the exactly representable"),
    (b"[18446744073709551616]", "integer 18446744073709551616 is outside the exactly"),
    (b'["\\ud800"]', "strings must be valid Unicode (no lone surrogates)"),
    (b"[1", "malformed JSON"),
    (b"[" * 65 + b"]" * 65, f"documents may nest at most {MAX_DEPTH} levels deep"),
])
def test_parse_canonical_names_the_problem(data: bytes, problem: str) -> None:
    with pytest.raises(EncodingError, match="^" + re.escape(problem)):
        parse_canonical(data)
