"""ledger.block and ledger.genesis: headers, results and the founding document."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from ledger.block import (
    GENESIS_PREV_HASH,
    HEADER_FIELDS,
    BlockHeader,
    TxResult,
    next_header,
    result_root,
    tx_root,
)
from ledger.canonical import canonical_bytes, parse_canonical
from ledger.crypto import sha256_hex
from ledger.errors import LedgerError, SchemaError
from ledger.genesis import GENESIS_PROPOSER, Genesis, genesis_header, make_genesis
from ledger.membership import Member, Role
from ledger.merkle import EMPTY_ROOT, leaf_hash
from tests.jsonedit import edited
from tests.ledger.txkit import ALICE, BOB, KEYS, signed

HEADER = BlockHeader(
    chain_id="unit-chain", height=7, prev_hash="ab" * 32, position=42, proposer=ALICE,
    time="2026-01-05T08:00:00Z", tx_count=3, tx_root="cd" * 32, result_root="ef" * 32,
    log_size=120,
)
CHANGED: dict[str, Any] = {
    "chain_id": "unit-chain-2", "height": 8, "prev_hash": "ac" * 32, "position": 43,
    "proposer": BOB, "time": "2026-01-05T08:00:01Z", "tx_count": 4, "tx_root": "ce" * 32,
    "result_root": "ee" * 32, "log_size": 121,
}


def test_header_round_trip() -> None:
    assert BlockHeader.from_json(HEADER.to_json()) == HEADER
    assert BlockHeader.from_json(parse_canonical(HEADER.canonical())) == HEADER
    assert list(HEADER.to_json()) == list(HEADER_FIELDS)
    assert HEADER.hash() == sha256_hex(canonical_bytes(HEADER.to_json()))


@pytest.mark.parametrize("field", HEADER_FIELDS)
def test_header_hash_changes_with_every_field(field: str) -> None:
    changed = dataclasses.replace(HEADER, **{field: CHANGED[field]})
    assert changed.hash() != HEADER.hash()
    assert BlockHeader.from_json(changed.to_json()).hash() == changed.hash()


def test_changed_covers_every_field() -> None:
    assert set(CHANGED) == set(HEADER_FIELDS)


def _header_with(**changes: Any) -> dict[str, Any]:
    return edited(HEADER.to_json(), **changes)


@pytest.mark.parametrize("value", [
    None, [], _header_with(height=...), _header_with(extra=1), _header_with(log_size=...),
    _header_with(height="7"), _header_with(height=True), _header_with(position=1.5),
    _header_with(tx_count=None), _header_with(log_size=False),
])
def test_header_from_json_rejects(value: Any) -> None:
    with pytest.raises(SchemaError):
        BlockHeader.from_json(value)


def test_header_from_json_rejects_mistyped_strings() -> None:
    for field in ("prev_hash", "chain_id", "proposer", "time", "tx_root", "result_root"):
        with pytest.raises(SchemaError):
            BlockHeader.from_json(_header_with(**{field: None}))


RESULT = TxResult("aa" * 32, True, "ok", "", (("a/1", {"n": 1}), ("b/2", None)),
                  ({"type": "issued"},))


def test_result_json() -> None:
    assert RESULT.to_json() == {
        "tx": "aa" * 32, "valid": True, "code": "ok", "reason": "",
        "writes": [["a/1", {"n": 1}], ["b/2", None]], "events": [{"type": "issued"}],
    }
    assert RESULT.leaf() == leaf_hash(canonical_bytes(RESULT.to_json()))


@pytest.mark.parametrize("changes", [
    {"tx_id": "ab" * 32}, {"valid": False}, {"code": "replay"}, {"reason": "x"},
    {"writes": ()}, {"writes": (("a/1", {"n": 2}), ("b/2", None))},
    {"writes": (("a/1", {"n": 1}), ("b/2", {}))}, {"writes": (("a/1", {"n": 1}),)},
    {"writes": (("a/1", {"n": 1}), ("b/3", None))},
    {"writes": (("b/2", None), ("a/1", {"n": 1}))}, {"events": ()},
    {"events": ({"type": "split"},)},
])
def test_result_leaf_changes(changes: dict[str, Any]) -> None:
    assert dataclasses.replace(RESULT, **changes).leaf() != RESULT.leaf()


def test_invalid_result_leaf() -> None:
    bad = TxResult("aa" * 32, False, "bad_signature", "signature of X does not verify")
    assert bad.leaf() != dataclasses.replace(bad, valid=True).leaf()
    assert bad.to_json()["writes"] == [] and bad.to_json()["events"] == []


def test_roots() -> None:
    other = dataclasses.replace(RESULT, valid=False)
    assert result_root([]) == tx_root([]) == EMPTY_ROOT.hex()
    assert result_root([RESULT]) == leaf_hash(canonical_bytes(RESULT.to_json())).hex()
    assert result_root([RESULT, other]) != result_root([other, RESULT])
    assert tx_root([b"a", b"b"]) != tx_root([b"b", b"a"])
    assert tx_root([b"a"]) == leaf_hash(b"a").hex()


TIME = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
MEMBERS = {
    uscc: (Member(uscc, name, frozenset({role}), KEYS[uscc].public_key), KEYS[uscc])
    for uscc, name, role in [(ALICE, "核心企业", Role.CORE_ENTERPRISE), (BOB, "银行", Role.BANK)]
}


def _genesis() -> Genesis:
    return make_genesis("unit-chain", TIME, MEMBERS, {"max_split_depth": 3})


def test_make_genesis() -> None:
    genesis = _genesis()
    body = genesis.transaction.body
    assert (genesis.chain_id, genesis.time) == ("unit-chain", "2026-01-05T08:00:00Z")
    assert (body.contract, body.action, body.signers) == ("registry", "genesis", (ALICE, BOB))
    assert (body.not_before, body.not_after) == ("2026-01-05T08:00:00Z", "2026-01-06T08:00:00Z")
    assert body.args["members"] == [m.to_json() for m, _ in MEMBERS.values()]
    genesis.transaction.verify(lambda u: MEMBERS[u][0].public_key if u in MEMBERS else None)


def test_genesis_round_trip_and_determinism() -> None:
    genesis = _genesis()
    again = Genesis.from_json(parse_canonical(canonical_bytes(genesis.to_json())))
    assert again == genesis
    assert again.transaction.tx_id == genesis.transaction.tx_id == _genesis().transaction.tx_id


def test_genesis_header() -> None:
    genesis = _genesis()
    result = TxResult(genesis.transaction.tx_id, True, "ok", "")
    header = genesis_header(genesis, result)
    assert (header.height, header.position, header.tx_count, header.log_size) == (0, 0, 1, 1)
    assert header.prev_hash == GENESIS_PREV_HASH == "0" * 64
    assert header.proposer == GENESIS_PROPOSER and header.time == genesis.time
    assert header.tx_root == tx_root([genesis.transaction.canonical()])
    assert header.result_root == result_root([result])
    assert genesis_header(_genesis(), result).hash() == header.hash()
    assert genesis_header(genesis, dataclasses.replace(result, valid=False)).hash() != (
        header.hash())


def test_genesis_naming_another_chain_rejected() -> None:
    value = _genesis().to_json()
    value["chain_id"] = "other-chain"
    with pytest.raises(SchemaError, match="another chain"):
        Genesis.from_json(value)


def test_genesis_must_be_registry_genesis() -> None:
    envelope = signed(chain_id="unit-chain", contract="registry", action="join")
    value = {"chain_id": "unit-chain", "time": "2026-01-05T08:00:00Z",
             "transaction": envelope.to_json()}
    with pytest.raises(SchemaError, match=r"registry\.genesis"):
        Genesis.from_json(value)


@pytest.mark.parametrize("change", [
    {"time": "2026-01-05"}, {"time": None}, {"chain_id": ...}, {"extra": 1},
])
def test_genesis_from_json_rejects(change: dict[str, Any]) -> None:
    value = _genesis().to_json()
    for name, new in change.items():
        if new is ...:
            del value[name]
        else:
            value[name] = new
    with pytest.raises(SchemaError):
        Genesis.from_json(value)


def test_genesis_with_tampered_transaction_rejected() -> None:
    value = _genesis().to_json()
    value["transaction"]["body"] = value["transaction"]["body"].replace(  # type: ignore[index]
        '"policies":{"max_split_depth":3}', '"policies":{"max_split_depth":9}')
    genesis = Genesis.from_json(value)  # the file parses; the signatures no longer match
    with pytest.raises(LedgerError):
        genesis.transaction.verify(lambda u: MEMBERS[u][0].public_key)


def test_spliced_result_bytes_equal_plain_canonical_encoding() -> None:
    writes = (("a/1", {"n": 1, "名": "值"}), ("b/2", None), ("c", [True, None, "x"]))
    encoded = tuple((k, None if v is None else canonical_bytes(v)) for k, v in writes)
    events = ({"type": "t", "parties": ["p"], "amount": 5},)
    for valid, code, reason in ((True, "ok", ""), (False, "replay", 'quote " and 核')):
        plain = TxResult("ab" * 32, valid, code, reason, writes, events)
        spliced = TxResult("ab" * 32, valid, code, reason, (), events, encoded)
        assert spliced.canonical() == plain.canonical() == canonical_bytes(plain.to_json())
        assert spliced.leaf() == plain.leaf()


def test_next_header_takes_the_envelopes_or_their_leaf_hashes_alike() -> None:
    envelopes = [b'{"body":"a"}', b'{"body":"b"}', b'{"body":"c"}']
    results = [TxResult(sha256_hex(e), True, "ok", "") for e in envelopes]
    common: dict[str, Any] = {"position": 9, "proposer": BOB, "time": "2026-01-05T08:00:02Z",
                              "results": results}
    by_bytes = next_header(HEADER, envelope_bytes=envelopes, **common)
    by_leaves = next_header(HEADER, leaves=[leaf_hash(e) for e in envelopes], **common)
    assert by_bytes == by_leaves
    assert (by_bytes.tx_count, by_bytes.log_size) == (3, HEADER.log_size + 3)
    assert by_bytes.tx_root == tx_root(envelopes)
    with pytest.raises(ValueError, match="canonical bytes or their leaf hashes"):
        next_header(HEADER, **common)
