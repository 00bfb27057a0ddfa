"""The registry (genesis, members, versioned policies) and credit lines (授信).

Policies are recorded on chain at genesis, each version with the height from
which it applies.  A credit line is granted by a bank to a core enterprise,
both signing, and expires in the future.
"""

from __future__ import annotations

import pytest

from contracts import CONTRACTS
from contracts.registry import DEFAULT_POLICIES
from ledger.execution import BlockContext, Executor, ReplayGuard
from ledger.timefmt import format_timestamp
from tests.builders import CHAIN_ID, START, DictState, MemoryChain, build_tx, make_orgs
from tests.contracts.support import (
    FACE,
    Deal,
    add_policy_version,
    issue_args,
    new_chain,
    pay_to,
    refused,
    said,
    short,
)


def _genesis(members: list[dict], signers: list[str]) -> tuple[str, str]:
    orgs = make_orgs()
    env = build_tx(orgs, signers, "registry", "genesis",
                   {"members": members, "policies": {}}, now=START)
    block = BlockContext(CHAIN_ID, 0, format_timestamp(START))
    results, _ = Executor(CONTRACTS).execute_block(
        [env], state=DictState(), block=block, replay=ReplayGuard())
    return results[0].code, results[0].reason


def test_policies_are_recorded_on_chain_from_genesis() -> None:
    c = MemoryChain(policies={"min_split_amount": 50_000})
    for name, value in {**DEFAULT_POLICIES, "min_split_amount": 50_000}.items():
        assert c.get("policy/" + name) == [{"from_height": 0, "value": value}]


def test_policy_version_applies_from_its_height(active: Deal) -> None:
    c = active.c
    add_policy_version(c, "min_split_amount", 50_000, from_height=c.height + 1)
    c.ok("s1", "transfer", note=active.root, payments=pay_to(c, "s2", 20_000))
    rest = active.rec()["live"][-1]
    r = refused(c, "s1", "transfer", note=rest, payments=pay_to(c, "s3", 20_000))
    assert r.reason == said("each split piece is at least the minimum amount",
                            "piece 200.00 is below the minimum 500.00")


def test_policies_change_only_by_governance(active: Deal) -> None:
    r = refused(active.c, "core", "set_policy", contract="registry",
                name="min_split_amount", value=1)
    assert (r.code, r.reason) == ("unknown_contract", "contract 'registry' has no action "
                                                      "'set_policy'")


def test_genesis_runs_only_at_height_zero(chain: MemoryChain) -> None:
    members = [o.member().to_json() for o in chain.orgs.values()]
    r = refused(chain, list(chain.orgs), "genesis", contract="registry", members=members,
                policies={})
    assert r.reason == said("the consortium is founded only in the genesis block",
                            "this block is at height 1")


def test_every_founding_member_signs_the_genesis() -> None:
    orgs = make_orgs()
    members = [o.member().to_json() for o in orgs.values()]
    assert _genesis(members, list(orgs)[:-1]) == ("contract_violation", said(
        "every founding member signs the genesis", f"{orgs['core2'].uscc} has not signed"))


def test_each_founding_member_is_listed_once() -> None:
    orgs = make_orgs()
    members = [o.member().to_json() for o in orgs.values()]
    assert _genesis([*members, members[0]], list(orgs)) == ("contract_violation", said(
        "each founding member is listed once", f"{orgs['core'].uscc} is listed more than once"))


@pytest.mark.parametrize(("policies", "reason"), [
    ({"bogus": 1}, "unknown policy parameter(s): bogus"),
    ({"min_split_amount": "100"}, "policy min_split_amount has a value of the wrong type"),
    ({"block_issuance_when_overdue": 1},
     "policy block_issuance_when_overdue has a value of the wrong type"),
])
def test_malformed_policies_refused_at_genesis(policies: dict, reason: str) -> None:
    with pytest.raises(AssertionError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        MemoryChain(policies=policies)


def test_credit_line_granted_by_a_bank_to_a_core_enterprise(chain: MemoryChain) -> None:
    r = chain.ok(["b1", "core"], "grant_credit_line", bank=chain.uscc("b1"),
                 core=chain.uscc("core"), limit=FACE, currency="CNY", expiry_date="2026-12-31")
    line = chain.get("credit_line/" + r.events[0]["credit_line"])
    assert (line["bank"], line["core"]) == (chain.uscc("b1"), chain.uscc("core"))
    assert (line["limit"], line["used"], line["currency"]) == (FACE, 0, "CNY")


def _grant(c: MemoryChain, signers: list[str], bank: str = "b1", core: str = "core",
           expiry: str = "2026-12-31") -> str:
    r = refused(c, signers, "grant_credit_line", bank=c.uscc(bank), core=c.uscc(core),
                limit=FACE, currency="CNY", expiry_date=expiry)
    return r.reason


def test_credit_line_lender_must_be_bank(chain: MemoryChain) -> None:
    assert _grant(chain, ["s1", "core"], bank="s1") == said(
        "the lender of a credit line has the bank role",
        f"the bank {chain.uscc('s1')} does not have the bank role (its roles: supplier)")


def test_credit_line_granted_only_to_core_enterprise(chain: MemoryChain) -> None:
    assert _grant(chain, ["b1", "s1"], core="s1") == said(
        "a credit line is granted to a core enterprise",
        f"the borrower {chain.uscc('s1')} does not have the core_enterprise role "
        "(its roles: supplier)")


@pytest.mark.parametrize(("signer", "missing", "reason"), [
    ("core", "b1", "the bank signs the credit line"),
    ("b1", "core", "the core enterprise signs the credit line"),
])
def test_credit_line_signed_by_bank_and_core(
    chain: MemoryChain, signer: str, missing: str, reason: str
) -> None:
    assert _grant(chain, [signer]) == said(reason, f"{chain.uscc(missing)} has not signed")


@pytest.mark.parametrize("expiry", ["2026-01-05", "2025-12-31"])
def test_credit_line_expires_in_the_future(chain: MemoryChain, expiry: str) -> None:
    assert _grant(chain, ["b1", "core"], expiry=expiry) == said(
        "a credit line expires in the future",
        f"expiry date {expiry} is not after today, 2026-01-05")


def test_each_core_enterprise_draws_only_its_own_line() -> None:
    c = new_chain()
    r = c.ok(["b1", "core2"], "grant_credit_line", bank=c.uscc("b1"), core=c.uscc("core2"),
             limit=FACE, currency="CNY", expiry_date="2026-12-31")
    line = r.events[0]["credit_line"]
    assert refused(c, "core", "issue", **issue_args(c, line)).reason == said(
        "the core enterprise of the credit line signs the issuance",
        f"credit line {short(line)} is unknown, or not granted to {c.uscc('core')}")


def test_every_stored_record_decodes_to_what_encodes_it_again() -> None:
    """Decoded records are cached and shared, so decoding must round-trip exactly."""
    from contracts.records import KEY_PREFIX, encode, from_json, to_json
    from ledger.canonical import canonical_bytes, parse_json
    from tests.contracts.support import FACE, grant_line, issue, new_chain, pay_to

    chain = new_chain()
    root = issue(chain, grant_line(chain))
    chain.ok("s1", "accept", receivable=root)
    split = chain.ok("s1", "transfer", note=root, payments=pay_to(chain, "s2", FACE // 4))
    piece = split.events[0]["outputs"][0]["note"]
    financing = chain.ok("s2", "request_financing", note=piece,
                         bank=chain.uscc("b1")).events[0]["financing"]
    offered = chain.ok("b1", "offer_terms", financing=financing, annual_rate_percent="2.15",
                       funding_date="2026-01-05", fees=1234, fee_payer="split", recourse=True,
                       registry_no="ZDW-1")
    chain.ok("s2", "accept_terms", financing=financing,
             terms_hash=offered.events[0]["terms_hash"])
    chain.advance(days=200)
    chain.ok("core", "pay", receivable=root, amount=FACE // 3, payment_ref="PARTIAL-1")
    kinds = {prefix: kind for kind, prefix in KEY_PREFIX.items()}
    checked = 0
    for key, raw in chain.state.data.items():
        prefix = key.split("/", 1)[0] + "/"
        if prefix in kinds:
            record = from_json(kinds[prefix], parse_json(raw))
            assert canonical_bytes(to_json(record)) == raw == encode(record)
            assert from_json(kinds[prefix], to_json(record)) == record
            checked += 1
    assert checked >= 10
