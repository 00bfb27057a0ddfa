"""ledger.membership: USCC check characters (GB 32100-2015) and member records."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.crypto import PrivateKey
from ledger.errors import LedgerError, SchemaError
from ledger.membership import (
    USCC_ALPHABET,
    USCC_WEIGHTS,
    Member,
    MemberStatus,
    Role,
    is_valid_uscc,
    make_uscc,
    member_state_key,
    uscc_check_character,
)
from tests.jsonedit import edited

# Real-world-format codes published as valid examples (GB 32100 sample and listed companies).
KNOWN_USCCS = [
    "91350100M000100Y43", "91440300708461136T", "91110000802100433B",
    "91110105771583283D", "91110108551385082Q",
]
EXCLUDED_LETTERS = "IOSVZ"
bodies = st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17)


def reference_check(first17: str) -> str:
    """GB 32100-2015: weights 3**i mod 31, check = (31 - sum mod 31) mod 31."""
    total = sum(USCC_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def test_alphabet_and_weights() -> None:
    assert len(USCC_ALPHABET) == 31 == len(set(USCC_ALPHABET))
    assert not set(EXCLUDED_LETTERS) & set(USCC_ALPHABET)
    assert USCC_WEIGHTS == tuple(pow(3, i, 31) for i in range(17))


@pytest.mark.parametrize("code", KNOWN_USCCS)
def test_known_codes(code: str) -> None:
    assert is_valid_uscc(code)
    assert make_uscc(code[:17]) == code
    assert uscc_check_character(code[:17]) == reference_check(code[:17]) == code[17]


@pytest.mark.parametrize("code", KNOWN_USCCS)
def test_known_codes_with_any_other_check_char_rejected(code: str) -> None:
    for char in USCC_ALPHABET.replace(code[17], ""):
        assert not is_valid_uscc(code[:17] + char)


@settings(max_examples=200, deadline=None)
@given(bodies, st.data())
def test_single_substitution_always_detected(first17: str, data: st.DataObject) -> None:
    code = make_uscc(first17)
    assert is_valid_uscc(code)
    assert code[17] == reference_check(first17)
    position = data.draw(st.integers(0, 16))
    other = data.draw(st.sampled_from(USCC_ALPHABET.replace(code[position], "")))
    assert not is_valid_uscc(code[:position] + other + code[position + 1:])


@pytest.mark.parametrize("text", [
    "91350100M000100Y4", "91350100M000100Y433", "", "91350100m000100y43",
    " 91350100M000100Y43", "91350100M000100Y43\n", "\uff191350100M000100Y43",
    None, 91350100, b"91350100M000100Y43", ["91350100M000100Y43"],
])
def test_invalid_uscc_shapes(text: Any) -> None:
    assert not is_valid_uscc(text)


@pytest.mark.parametrize("letter", EXCLUDED_LETTERS)
@pytest.mark.parametrize("position", [0, 8, 16, 17])
def test_letters_outside_alphabet_rejected(letter: str, position: int) -> None:
    code = KNOWN_USCCS[0]
    assert not is_valid_uscc(code[:position] + letter + code[position + 1:])
    if position < 17:
        with pytest.raises(SchemaError):
            make_uscc(code[:position] + letter + code[position + 1:17])


@pytest.mark.parametrize("first17", ["", "9135010", "91350100M000100Y43", "91350100m000100y4"])
def test_make_uscc_rejects_bad_bodies(first17: str) -> None:
    with pytest.raises(SchemaError):
        make_uscc(first17)


KEY = PrivateKey(bytes(range(32)))
MEMBER = Member(KNOWN_USCCS[0], "核心企业有限公司", frozenset({Role.CORE_ENTERPRISE, Role.BANK}),
                KEY.public_key)


def test_member_json_round_trip() -> None:
    value = MEMBER.to_json()
    assert value == {
        "uscc": KNOWN_USCCS[0], "name": "核心企业有限公司", "roles": ["bank", "core_enterprise"],
        "public_key": KEY.public_key.hex(), "status": "active",
    }
    assert Member.from_json(value) == MEMBER
    suspended = Member(KNOWN_USCCS[1], "s", frozenset({Role.SUPPLIER}), KEY.public_key,
                       MemberStatus.SUSPENDED)
    assert Member.from_json(suspended.to_json()) == suspended
    assert not suspended.is_active and MEMBER.is_active


def test_member_roles() -> None:
    assert MEMBER.has_role(Role.BANK) and MEMBER.has_role(Role.CORE_ENTERPRISE)
    assert not MEMBER.has_role(Role.AUDITOR)


def test_status_defaults_to_active() -> None:
    value = MEMBER.to_json()
    del value["status"]
    assert Member.from_json(value).status is MemberStatus.ACTIVE


def _with(**changes: Any) -> dict[str, Any]:
    return edited(MEMBER.to_json(), **changes)


@pytest.mark.parametrize("value", [
    None, [], "member",
    _with(uscc=...), _with(uscc="91350100M000100Y44"), _with(uscc=5),
    _with(name=...), _with(name=""), _with(name="   "), _with(name=7),
    _with(roles=...), _with(roles=[]), _with(roles="bank"), _with(roles=["banker"]),
    _with(roles=["BANK"]), _with(roles=[["bank"]]), _with(roles=[1]),
    _with(status="retired"), _with(status="ACTIVE"), _with(status=None),
    _with(public_key=...), _with(public_key=5), _with(public_key=None),
])
def test_member_from_json_rejects(value: Any) -> None:
    with pytest.raises(SchemaError):
        Member.from_json(value)


@pytest.mark.parametrize("key", ["zz" * 32, "ab" * 31, ""])
def test_member_with_malformed_key_is_refused(key: str) -> None:
    with pytest.raises(LedgerError):
        Member.from_json(_with(public_key=key))


def test_member_with_malformed_key_raises_schema_error() -> None:
    with pytest.raises(SchemaError):
        Member.from_json(_with(public_key="zz" * 32))


def test_member_state_key() -> None:
    assert member_state_key(KNOWN_USCCS[0]) == "member/" + KNOWN_USCCS[0]
