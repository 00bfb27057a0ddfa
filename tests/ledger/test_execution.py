"""ledger.execution with a tiny fake contract table (not the real contracts)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from ledger.crypto import Domain, b64encode
from ledger.errors import (
    ContractViolation,
    ReplayError,
    SchemaError,
    SignatureError,
    UnknownContractError,
    ValidityWindowError,
)
from ledger.execution import BlockContext, Call, Executor, Overlay, ReplayGuard
from ledger.membership import Member, Role
from ledger.tx import Envelope, parse_envelope
from tests.ledger.txkit import (
    ALICE,
    BOB,
    CAROL,
    CHAIN,
    INSIDE,
    KEYS,
    NOT_AFTER,
    NOT_BEFORE,
    DictReader,
    member_state,
    signed,
)


def _put(call: Call) -> None:
    for signer in call.signers:
        call.authorise(signer, f"{signer} must sign")
    call.state.put(call.args["key"], call.args["value"])
    call.emit({"type": "put", "key": call.args["key"]})


def _put_first_only(call: Call) -> None:
    call.authorise(call.signers[0], "the first signer must sign")
    call.state.put(call.args["key"], call.args["value"])


def _write_then_raise(exc: Exception) -> Any:
    def action(call: Call) -> None:
        _put(call)
        raise exc
    return action


def _incr(call: Call) -> None:
    _put_first_only(call)
    current = call.state.get("counter") or 0
    call.state.put("counter", current + 1)


def _delete(call: Call) -> None:
    _put_first_only(call)
    call.state.put(call.args["key"], None)


CONTRACTS = {
    "demo": {
        "put": _put, "put_first_only": _put_first_only, "incr": _incr, "delete": _delete,
        "boom": _write_then_raise(KeyError("missing")),
        "violate": _write_then_raise(ContractViolation("amount must be positive")),
    },
    "registry": {"genesis": _put},
}
EXECUTOR = Executor(CONTRACTS)
BLOCK = BlockContext(CHAIN, 1, INSIDE)
_nonce = iter(range(1, 10_000))


def tx(action: str = "put", signers: tuple[str, ...] = (ALICE, BOB), **overrides: Any) -> Envelope:
    """Return a fresh (distinct nonce) signed demo transaction."""
    overrides.setdefault("nonce", f"{next(_nonce):016x}")
    overrides.setdefault("args", {"key": "k", "value": 1})
    return signed(action=action, signers=list(signers), **overrides)


def run(envelope: Envelope, block: BlockContext = BLOCK, state: Any = None) -> Call:
    return EXECUTOR.run(envelope, block, Overlay(state or member_state(ALICE, BOB, CAROL)))


NO_REPLAY = ReplayGuard()


def execute(envelopes: list[Envelope], replay: ReplayGuard = NO_REPLAY) -> Any:
    return EXECUTOR.execute_block(envelopes, state=member_state(ALICE, BOB, CAROL), block=BLOCK,
                                  replay=replay)


def test_run_ok() -> None:
    call = run(tx(args={"key": "k", "value": {"n": 1}}))
    assert call.state.writes() == (("k", {"n": 1}),)
    assert call.events == [{"type": "put", "key": "k"}]
    assert call.unused_signers() == []


def test_block_context() -> None:
    assert BLOCK.moment == datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    assert BLOCK.date == date(2026, 1, 5)


@pytest.mark.parametrize(("contract", "action", "message"), [
    ("nosuch", "put", "unknown contract 'nosuch'"), ("demo", "nosuch", "no action 'nosuch'"),
])
def test_unknown_contract_or_action(contract: str, action: str, message: str) -> None:
    envelope = signed(contract=contract, action=action)
    with pytest.raises(UnknownContractError, match=message):
        run(envelope)
    (result,), _ = execute([envelope])
    assert (result.valid, result.code) == (False, "unknown_contract")


@pytest.mark.parametrize("time", ["2026-01-05T07:59:59Z", "2026-01-06T08:00:01Z",
                                  "2025-12-31T00:00:00Z", "2027-01-01T00:00:00Z"])
def test_outside_validity_window(time: str) -> None:
    with pytest.raises(ValidityWindowError, match="outside the transaction's validity window"):
        run(tx(), BlockContext(CHAIN, 1, time))


@pytest.mark.parametrize("time", [NOT_BEFORE, NOT_AFTER])
def test_window_bounds_inclusive(time: str) -> None:
    assert run(tx(), BlockContext(CHAIN, 1, time))


def test_wrong_chain_id() -> None:
    with pytest.raises(ReplayError, match="for chain 'other-chain'"):
        run(tx(chain_id="other-chain"))


def test_signer_not_party_to_action() -> None:
    with pytest.raises(SignatureError, match=f"every signer must be a party.*{BOB} is not"):
        run(tx("put_first_only"))
    (result,), overlay = execute([tx("put_first_only")])
    assert (result.valid, result.code, result.decoded_writes()) == (False, "bad_signature", ())
    assert overlay.writes() == ()


def test_non_member_and_suspended_signers() -> None:
    with pytest.raises(SignatureError, match=f"{BOB} is not a member"):
        run(tx(), state=member_state(ALICE))
    with pytest.raises(SignatureError, match=f"{BOB} is suspended"):
        run(tx(), state=member_state(ALICE, BOB, suspended=(BOB,)))


def test_forged_signature() -> None:
    value = tx().to_json()
    forged = KEYS[CAROL].sign(Domain.TRANSACTION, str(value["body"]).encode())
    value["signatures"][0]["sig"] = b64encode(forged)  # type: ignore[index]
    with pytest.raises(SignatureError, match=f"signature of {ALICE} does not verify"):
        run(parse_envelope(value))


def test_vouched_signatures_skip_only_ed25519_not_membership_or_presence() -> None:
    value = tx().to_json()
    forged = KEYS[CAROL].sign(Domain.TRANSACTION, str(value["body"]).encode())
    value["signatures"][0]["sig"] = b64encode(forged)  # type: ignore[index]
    state = Overlay(member_state(ALICE, BOB, CAROL))
    EXECUTOR.run(parse_envelope(value), BLOCK, state, vouched=True)  # a quorum checked it
    for members, refusal in (((ALICE,), f"{BOB} is not a member"),
                             ((ALICE, BOB), f"{BOB} is suspended")):
        suspended = (BOB,) if len(members) == 2 else ()
        with pytest.raises(SignatureError, match=refusal):
            EXECUTOR.run(tx(), BLOCK, Overlay(member_state(*members, suspended=suspended)),
                         vouched=True)
    missing = tx().to_json()
    missing["signatures"] = missing["signatures"][:1]  # type: ignore[index]
    with pytest.raises(SignatureError, match=f"missing signature of {BOB}"):
        EXECUTOR.run(parse_envelope(missing), BLOCK, Overlay(member_state(ALICE, BOB)),
                     vouched=True)
    (result,), _ = EXECUTOR.execute_block([parse_envelope(value)], block=BLOCK,
                                          state=member_state(ALICE, BOB, CAROL),
                                          replay=NO_REPLAY)
    assert (result.valid, result.code) == (False, "bad_signature")  # not vouched: checked


def test_block_keeps_valid_writes_and_marks_failures() -> None:
    envelopes = [
        tx(args={"key": "a", "value": 1}),
        tx("violate", args={"key": "b", "value": 2}),
        tx(args={"key": "c", "value": 3}),
        tx("nosuch", args={"key": "d", "value": 4}),
    ]
    results, overlay = execute(envelopes)
    assert [r.valid for r in results] == [True, False, True, False]
    assert [r.code for r in results] == ["ok", "contract_violation", "ok", "unknown_contract"]
    assert results[1].reason == "amount must be positive"
    assert [r.tx_id for r in results] == [e.tx_id for e in envelopes]
    assert results[0].decoded_writes() == (("a", 1),) and results[1].decoded_writes() == ()
    assert results[0].events == ({"type": "put", "key": "a"},) and results[1].events == ()
    assert overlay.writes() == (("a", 1), ("c", 3))


def test_internal_error_is_deterministic() -> None:
    envelopes = [tx("boom", args={"key": "x", "value": 1}), tx(args={"key": "y", "value": 2})]
    first, overlay = execute(envelopes)
    second, _ = execute(envelopes)
    assert (first[0].valid, first[0].code, first[0].reason) == (False, "internal_error", "KeyError")
    assert [r.leaf() for r in first] == [r.leaf() for r in second]
    assert overlay.writes() == (("y", 2),)


def test_later_transactions_see_earlier_writes() -> None:
    results, overlay = execute([tx("incr", (ALICE,)) for _ in range(3)])
    assert all(r.valid for r in results)
    assert [dict(r.decoded_writes())["counter"] for r in results] == [1, 2, 3]
    assert overlay.get("counter") == 3


def test_replayed_transaction_in_same_block() -> None:
    envelope = tx()
    results, _ = execute([envelope, envelope])
    assert results[0].valid
    assert (results[1].valid, results[1].code) == (False, "replay")
    assert "already been submitted" in results[1].reason


def test_replay_guard_tx_ids_and_nonces() -> None:
    envelope = tx()
    (result,), _ = execute([envelope], ReplayGuard(seen_tx_ids=frozenset({envelope.tx_id})))
    assert (result.valid, result.code) == (False, "replay")
    (result,), _ = execute([envelope], ReplayGuard(used_nonces=frozenset(
        {(BOB, envelope.body.nonce)})))
    assert (result.valid, result.code) == (False, "replay")
    assert result.reason == f"nonce already used by {BOB}"
    (result,), _ = execute([envelope], ReplayGuard(used_nonces=frozenset(
        {(CAROL, envelope.body.nonce)})))
    assert result.valid


def test_nonce_reuse_by_a_signer_in_same_block() -> None:
    first = tx(args={"key": "a", "value": 1}, nonce="00000000000000ff")
    reuse = tx("put_first_only", (BOB,), args={"key": "b", "value": 2}, nonce="00000000000000ff")
    other = tx("put_first_only", (CAROL,), args={"key": "c", "value": 3}, nonce="00000000000000ff")
    results, _ = execute([first, reuse, other])
    assert [r.code for r in results] == ["ok", "replay", "ok"]


def test_failed_transaction_still_consumes_its_id_and_nonce() -> None:
    bad = tx("violate", (ALICE,), nonce="00000000000000ee")
    again = tx("put_first_only", (ALICE,), nonce="00000000000000ee")
    results, _ = execute([bad, bad, again])
    assert [r.code for r in results] == ["contract_violation", "replay", "replay"]


def test_genesis_is_self_signed() -> None:
    members = [Member(u, "org", frozenset({Role.SUPPLIER}), KEYS[u].public_key).to_json()
               for u in (ALICE, BOB)]
    genesis = signed(contract="registry", action="genesis", nonce="0" * 16,
                     args={"key": "founded", "value": True, "members": members})
    results, _ = EXECUTOR.execute_block([genesis], state=DictReader(), block=BLOCK,
                                        replay=ReplayGuard())
    assert results[0].valid, results[0].reason
    (result,), _ = EXECUTOR.execute_block([tx()], state=DictReader(), block=BLOCK,
                                          replay=ReplayGuard())
    assert (result.code, result.valid) == ("bad_signature", False)


def test_custom_signature_check_is_used() -> None:
    seen: list[str] = []
    executor = Executor(CONTRACTS, signature_check=lambda env, key_of: seen.append(env.tx_id))
    envelope = tx()
    executor.run(envelope, BLOCK, Overlay(DictReader()))
    assert seen == [envelope.tx_id]


def test_overlay_reads_writes_and_deletes() -> None:
    base = DictReader({"a": 1, "b": {"x": [1]}, "c": "keep"})
    overlay = Overlay(base)
    assert overlay.get("a") == 1 and overlay.get("missing") is None
    overlay.put("a", 2)
    overlay.put("b", None)
    overlay.put("new", {"核心": [True, None]})
    assert (overlay.get("a"), overlay.get("b"), overlay.get("c")) == (2, None, "keep")
    assert overlay.get("new") == {"核心": [True, None]}
    assert overlay.writes() == (("a", 2), ("b", None), ("new", {"核心": [True, None]}))
    assert overlay.raw_writes() == {"a": b"2", "b": None, "new": '{"核心":[true,null]}'.encode()}
    assert base.data == {"a": 1, "b": {"x": [1]}, "c": "keep"}


def test_overlay_values_are_copies() -> None:
    overlay = Overlay(DictReader())
    value = {"list": [1]}
    overlay.put("k", value)
    value["list"].append(2)
    got = overlay.get("k")
    got["list"].append(3)
    assert overlay.get("k") == {"list": [1]}


def test_overlay_merge() -> None:
    parent = Overlay(DictReader({"a": 1, "b": 2}))
    parent.put("c", 3)
    child = Overlay(parent)
    assert child.get("c") == 3
    child.put("a", 10)
    child.put("c", None)
    assert parent.get("a") == 1 and parent.get("c") == 3
    parent.merge(child)
    assert (parent.get("a"), parent.get("b"), parent.get("c")) == (10, 2, None)
    assert parent.writes() == (("a", 10), ("c", None))
    child.put("d", 4)  # merge copied the writes; later child writes stay in the child
    assert parent.get("d") is None


def test_expiry_in_non_ascii_digits_is_honoured() -> None:
    arabic_2026 = "\u0662\u0660\u0662\u0666"
    with pytest.raises(SchemaError):
        parse_envelope(tx(not_after=arabic_2026 + "-01-06T08:00:00Z").to_json())
