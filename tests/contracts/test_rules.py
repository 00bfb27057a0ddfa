"""Cross-cutting rules: conservation, replay protection, validity windows and signers.

Conservation holds through every move; a transaction id applies at most once,
a nonce is used once per signer, the validity window is checked against block
time, and every signer must be a party the action asked for.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledger.crypto import PrivateKey
from ledger.membership import Role
from ledger.timefmt import format_timestamp
from ledger.tx import TxBody, sign_body
from tests.builders import Org, build_tx, key_for
from tests.contracts.support import (
    FACE,
    STRANGER,
    Deal,
    Split,
    assert_conserved,
    pay_to,
    refused,
    refused_env,
    set_member,
    signed,
)


def test_conservation_nothing_created_or_destroyed(split: Split) -> None:
    c = split.c
    steps = [
        ("s2", "transfer", {"note": split.paid, "payments": pay_to(c, "s3", 12_345_678)}),
        ("s1", "transfer", {"note": split.rest, "payments": pay_to(c, "s4", 10_000)}),
    ]
    for signer, action, args in steps:
        c.ok(signer, action, **args)
        assert_conserved(c, split.root)
    s3_note = next(n for n in split.rec()["live"] if split.note(n)["holder"] == c.uscc("s3"))
    fid = c.ok("s3", "request_financing", note=s3_note, bank=c.uscc("b1")).events[0]["financing"]
    offered = c.ok("b1", "offer_terms", financing=fid, annual_rate_percent="3.15",
                   funding_date="2026-01-05", fees=100, fee_payer="split", recourse=False)
    c.ok("s3", "accept_terms", financing=fid, terms_hash=offered.events[0]["terms_hash"])
    assert_conserved(c, split.root)
    c.advance(days=90)
    c.ok("core", "pay", receivable=split.root, amount=FACE // 3, payment_ref="P1")
    assert_conserved(c, split.root)
    assert {n["currency"] for n in map(split.note, split.rec()["live"])} == {"CNY"}


def test_replayed_transaction_is_rejected(active: Deal) -> None:
    c = active.c
    env = signed(c, ["s1"], "transfer", note=active.root, payments=pay_to(c, "s2", 10_000))
    assert c.run_block([env])[0].valid
    r = refused_env(c, [env])
    assert (r.code, r.reason) == ("replay", f"transaction {env.tx_id} has already been submitted")


def test_replay_within_one_block_is_rejected(active: Deal) -> None:
    c = active.c
    env = signed(c, ["s1"], "transfer", note=active.root, payments=pay_to(c, "s2", 10_000))
    r = refused_env(c, [env, env])
    assert r.code == "replay"


def test_nonce_unique_per_signer(split: Split) -> None:
    c = split.c
    nonce = "00000000000000ff"
    first = signed(c, ["s1"], "transfer", nonce=nonce, note=split.rest,
                   payments=pay_to(c, "s3", 10_000))
    assert c.run_block([first])[0].valid
    other_signer = signed(c, ["s2"], "transfer", nonce=nonce, note=split.paid,
                          payments=pay_to(c, "s3", 10_000))
    assert c.run_block([other_signer])[0].valid
    rest = split.rec()["live"][-1]
    again = signed(c, ["s1"], "transfer", nonce=nonce, note=rest, payments=pay_to(c, "s4", 10_000))
    r = refused_env(c, [again])
    assert (r.code, r.reason) == ("replay", f"nonce already used by {c.uscc('s1')}")


def _window_reason(block_time: str, body: TxBody) -> str:
    nb, na = body.not_before, body.not_after
    return f"block time {block_time} is outside the transaction's validity window [{nb}, {na}]"


def test_validity_window_checked_against_block_time(active: Deal) -> None:
    c = active.c
    late = signed(c, ["s1"], "transfer", note=active.root, payments=pay_to(c, "s2", 10_000))
    early = signed(c, ["s1"], "transfer", now=c.now.replace(month=2), note=active.root,
                   payments=pay_to(c, "s3", 10_000))
    c.advance(days=1, seconds=1)  # one second past `late`'s not_after
    r = refused_env(c, [late])
    assert (r.code, r.reason) == ("outside_validity_window",
                                  _window_reason(format_timestamp(c.now), late.body))
    r = refused_env(c, [early])
    assert (r.code, r.reason) == ("outside_validity_window",
                                  _window_reason(format_timestamp(c.now), early.body))


def test_validity_window_includes_its_last_second(active: Deal) -> None:
    c = active.c
    env = signed(c, ["s1"], "transfer", note=active.root, payments=pay_to(c, "s2", 10_000))
    c.advance(days=1)
    assert c.run_block([env])[0].valid


def test_transaction_for_another_chain_is_rejected(active: Deal) -> None:
    c = active.c
    env = signed(c, ["s1"], "transfer", chain_id="other-chain", note=active.root,
                 payments=pay_to(c, "s2", 10_000))
    r = refused_env(c, [env])
    assert (r.code, r.reason) == ("replay", "transaction is for chain 'other-chain', not "
                                            "'test-chain'")


def _party_case(split: Split, case: str) -> tuple[list[str], dict[str, Any], str]:
    c = split.c
    rest_to_s3 = {"note": split.rest, "payments": pay_to(c, "s3", 10_000)}
    return {
        "bystander co-signs": (["s1", "s3"], rest_to_s3, "s3"),
        "issuer co-signs": (["s1", "core"], rest_to_s3, "core"),
        "previous holder co-signs": (
            ["s2", "s1"], {"note": split.paid, "payments": pay_to(c, "s3", 10_000)}, "s1"),
    }[case]


@pytest.mark.parametrize("case", ["bystander co-signs", "issuer co-signs",
                                  "previous holder co-signs"])
def test_signers_that_are_not_a_party_are_rejected(split: Split, case: str) -> None:
    signers, args, extra = _party_case(split, case)
    r = refused(split.c, signers, "transfer", **args)
    assert (r.code, r.reason) == (
        "bad_signature",
        f"every signer must be a party to the action; {split.c.uscc(extra)} is not")


def test_signer_must_be_a_member(active: Deal) -> None:
    c = active.c
    stranger = Org("stranger", STRANGER, frozenset({Role.SUPPLIER}), key_for("stranger"))
    env = build_tx({**c.orgs, "stranger": stranger}, ["stranger"], "receivable", "transfer",
                   {"note": active.root, "payments": pay_to(c, "s2", 10_000)}, now=c.now)
    r = refused_env(c, [env])
    assert (r.code, r.reason) == ("bad_signature",
                                  f"signer {STRANGER} is not a member of this consortium")


def test_signature_with_the_wrong_key_is_rejected(active: Deal) -> None:
    c = active.c
    env = signed(c, ["s1"], "transfer", note=active.root, payments=pay_to(c, "s2", 10_000))
    forged = sign_body(env.body, {c.uscc("s1"): PrivateKey(bytes(32))})
    r = refused_env(c, [forged])
    assert (r.code, r.reason) == ("bad_signature", f"signature of {c.uscc('s1')} does not verify")


def test_suspended_member_cannot_sign(active: Deal) -> None:
    set_member(active.c, "s1", status="suspended")  # no governance action can do this
    r = refused(active.c, "s1", "transfer", note=active.root,
                payments=pay_to(active.c, "s2", 10_000))
    assert (r.code, r.reason) == ("bad_signature", f"signer {active.c.uscc('s1')} is suspended")


@pytest.mark.parametrize(("contract", "action", "reason"), [
    ("receivable", "burn", "contract 'receivable' has no action 'burn'"),
    ("treasury", "transfer", "unknown contract 'treasury'"),
])
def test_unknown_contract_or_action_is_rejected(
    active: Deal, contract: str, action: str, reason: str
) -> None:
    r = refused(active.c, "s1", action, contract=contract, note=active.root)
    assert (r.code, r.reason) == ("unknown_contract", reason)
