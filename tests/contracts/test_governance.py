"""Governance: membership, policies and the code pin change by proposal and quorum.

The standard cast has nine active members and the default quorum is 50%, so a
change passes with five approvals (5 x 100 > 50 x 9), the proposer's included.
Each effect is checked end to end: the change executes through the governance
contract, and a later block shows the executor and the receivable contracts
obeying it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.code import pinned_code_hash
from contracts.governance import approvals_needed, quorum_reached
from contracts.registry import POLICY_CHECKS
from ledger.block import TxResult
from ledger.errors import rule_of
from ledger.membership import Role, make_uscc
from tests.builders import MemoryChain, Org, key_for, make_orgs
from tests.contracts.support import FACE, Deal, grant_line, issue, pay_to, refused, said, short

FIVE = ["core", "s1", "s2", "s3", "s4"]  # enough approvals among the nine members
NEW_KEY = key_for("s1 after re-keying")


def gov(c: MemoryChain, signer: str | list[str], action: str, **args: Any) -> TxResult:
    """Run one governance transaction."""
    return c.tx(signer, action, contract="governance", **args)


def propose(c: MemoryChain, who: str, change: dict[str, Any]) -> TxResult:
    """Propose `change`; fail the test unless the proposal is recorded."""
    result = gov(c, who, "propose", change=change)
    assert result.valid, result.reason
    return result


def approve(c: MemoryChain, who: str, proposal: str) -> TxResult:
    """Approve `proposal`; fail the test unless the approval is recorded."""
    result = gov(c, who, "approve", proposal=proposal)
    assert result.valid, result.reason
    return result


def enact(c: MemoryChain, change: dict[str, Any], voters: list[str] = FIVE) -> str:
    """Propose `change` by voters[0], approve by the rest; assert it executed; return its id."""
    proposal = propose(c, voters[0], change).tx_id
    for voter in voters[1:]:
        last = approve(c, voter, proposal)
    assert last.events[0]["executed"] is True
    assert c.get("proposal/" + proposal)["status"] == "executed"
    return proposal


def refused_gov(c: MemoryChain, signer: str | list[str], action: str, **args: Any) -> str:
    """Run a governance transaction that must fail and change nothing; return its reason."""
    return refused(c, signer, action, contract="governance", **args).reason


def suspend(c: MemoryChain, name: str) -> dict[str, Any]:
    return {"kind": "suspend_member", "uscc": c.uscc(name)}


def new_org(name: str = "s5", role: Role = Role.SUPPLIER, index: int = 50) -> Org:
    return Org(name, make_uscc(f"91310000MA{index:07d}"), frozenset({role}), key_for(name))


# -- proposals and the quorum ---------------------------------------------------------


def test_a_proposal_is_kept_under_its_transaction_id_with_the_proposer_approving(
    chain: MemoryChain,
) -> None:
    r = propose(chain, "b1", suspend(chain, "s4"))
    assert chain.get("proposal/" + r.tx_id) == {
        "id": r.tx_id, "kind": "suspend_member", "change": suspend(chain, "s4"),
        "proposer": chain.uscc("b1"), "approvals": [chain.uscc("b1")], "status": "open",
        "proposed_at": chain.height - 1,
    }
    event = r.events[0]
    assert (event["type"], event["approvals"], event["approvals_needed"]) == (
        "governance_proposed", 1, 5)
    assert event["executed"] is False
    assert event["parties"] == sorted([chain.uscc("b1"), chain.uscc("s4")])


def test_the_change_executes_in_the_approval_that_reaches_the_quorum(chain: MemoryChain) -> None:
    proposal = propose(chain, "core", suspend(chain, "s4")).tx_id
    for voter in FIVE[1:4]:
        assert approve(chain, voter, proposal).events[0]["status"] == "open"
    assert chain.get("member/" + chain.uscc("s4"))["status"] == "active"
    event = approve(chain, "b1", proposal).events[0]
    assert (event["type"], event["status"], event["executed"], event["approvals"]) == (
        "governance_approved", "executed", True, 5)
    assert chain.uscc("b1") in event["parties"] and chain.uscc("s4") in event["parties"]
    assert chain.get("member/" + chain.uscc("s4"))["status"] == "suspended"
    assert chain.get("proposal/" + proposal)["executed_at"] == chain.height - 1


def test_a_sole_member_decides_alone() -> None:
    org = make_orgs()["core"]
    c = MemoryChain(orgs={"core": org})
    r = propose(c, "core", {"kind": "set_policy", "name": "grace_days", "value": 9,
                            "from_height": c.height + 1})
    assert r.events[0]["executed"] is True
    assert c.get("policy/grace_days")[-1] == {"from_height": c.height, "value": 9}


def test_the_quorum_follows_its_policy() -> None:
    c = MemoryChain(policies={"governance_approval_percent": 20})  # 2 x 100 > 20 x 9
    proposal = propose(c, "core", suspend(c, "s4")).tx_id
    assert approve(c, "b1", proposal).events[0]["executed"] is True


def test_approvals_of_members_suspended_since_do_not_count(chain: MemoryChain) -> None:
    proposal = propose(chain, "s4", {"kind": "set_policy", "name": "grace_days", "value": 5,
                                     "from_height": 1000}).tx_id
    for voter in ["s1", "s2", "s3"]:
        approve(chain, voter, proposal)
    enact(chain, suspend(chain, "s4"), ["core", "s1", "s2", "b1", "b2"])
    # 8 active members now need 5 approvals; s4's no longer counts: s1, s2, s3 + b1 = 4
    assert approve(chain, "b1", proposal).events[0]["status"] == "open"
    assert approve(chain, "b2", proposal).events[0]["executed"] is True


def test_only_open_proposals_are_approved_and_each_member_approves_once(
    chain: MemoryChain,
) -> None:
    proposal = propose(chain, "core", suspend(chain, "s4")).tx_id
    approve(chain, "s1", proposal)
    once = "a member approves a proposal once"
    assert refused_gov(chain, "s1", "approve", proposal=proposal) == said(
        once, f"{chain.uscc('s1')} has already approved proposal {short(proposal)}")
    assert refused_gov(chain, "core", "approve", proposal=proposal) == said(
        once, f"{chain.uscc('core')} has already approved proposal {short(proposal)}")
    for voter in ["s2", "s3", "b1"]:
        approve(chain, voter, proposal)
    assert refused_gov(chain, "b2", "approve", proposal=proposal) == said(
        "only an open proposal can be approved", f"proposal {short(proposal)} is executed")


def test_the_proposer_withdraws_an_open_proposal(chain: MemoryChain) -> None:
    proposal = propose(chain, "core", suspend(chain, "s4")).tx_id
    assert refused_gov(chain, "s1", "withdraw", proposal=proposal) == said(
        "only the proposer withdraws a proposal", f"{chain.uscc('core')} has not signed")
    r = gov(chain, "core", "withdraw", proposal=proposal)
    assert r.valid and r.events[0]["type"] == "governance_withdrawn"
    assert chain.uscc("core") in r.events[0]["parties"]
    assert chain.get("proposal/" + proposal)["status"] == "withdrawn"
    assert refused_gov(chain, "s1", "approve", proposal=proposal) == said(
        "only an open proposal can be approved", f"proposal {short(proposal)} is withdrawn")
    assert refused_gov(chain, "core", "withdraw", proposal=proposal) == said(
        "only an open proposal can be withdrawn", f"proposal {short(proposal)} is withdrawn")


def test_proposals_and_approvals_have_one_signer(chain: MemoryChain) -> None:
    assert refused_gov(chain, ["core", "s1"], "propose", change=suspend(chain, "s4")) == said(
        "a proposal is signed by its proposer alone", "it has 2 signers")
    proposal = propose(chain, "core", suspend(chain, "s4")).tx_id
    assert refused_gov(chain, ["s1", "s2"], "approve", proposal=proposal) == said(
        "an approval is signed by the approving member alone", "it has 2 signers")
    assert refused_gov(chain, "s1", "approve", proposal="ab" * 32) == said(
        "the proposal exists", "proposal abababab\u2026 not found")


def test_a_suspended_member_can_neither_propose_nor_approve(chain: MemoryChain) -> None:
    proposal = propose(chain, "core", {"kind": "set_policy", "name": "grace_days",
                                       "value": 5, "from_height": 1000}).tx_id
    enact(chain, suspend(chain, "s4"))
    s4 = chain.uscc("s4")
    assert refused_gov(chain, "s4", "approve", proposal=proposal) == f"signer {s4} is suspended"
    assert refused_gov(chain, "s4", "propose", change=suspend(chain, "s3")) == (
        f"signer {s4} is suspended")


# -- the rules of each change -----------------------------------------------------------


def test_membership_changes_must_make_sense(chain: MemoryChain) -> None:
    existing = make_orgs()["s1"].member().to_json()
    assert refused_gov(chain, "core", "propose",
                       change={"kind": "add_member", "member": existing}) == said(
        "the new member is not yet a member", f"{chain.uscc('s1')} is already a member")
    joining = {**new_org().member().to_json(), "status": "suspended"}
    assert refused_gov(chain, "core", "propose",
                       change={"kind": "add_member", "member": joining}) == said(
        "a new member joins as active", f"{joining['uscc']} would join as suspended")
    assert refused_gov(chain, "core", "propose",
                       change={"kind": "reinstate_member", "uscc": chain.uscc("s4")}) == said(
        "the member to reinstate is suspended", f"{chain.uscc('s4')} is an active member")
    assert refused_gov(chain, "core", "propose", change={
        "kind": "rekey_member", "uscc": chain.uscc("s1"),
        "public_key": chain.orgs["s1"].key.public_key.hex()}) == said(
        "the new key differs from the member's current key",
        f"the new key is the current key of {chain.uscc('s1')}")
    stranger = make_uscc("91310000MA9999999")
    assert refused_gov(chain, "core", "propose", change={
        "kind": "rekey_member", "uscc": stranger, "public_key": NEW_KEY.public_key.hex()}) == said(
        "the member to re-key is a member", f"{stranger} is not a member")
    assert refused_gov(chain, "core", "propose",
                       change={"kind": "suspend_member", "uscc": stranger}) == said(
        "the member to suspend is active", f"{stranger} is not a member")


def test_the_last_active_member_is_never_suspended() -> None:
    c = MemoryChain(orgs={"core": make_orgs()["core"]})
    assert refused_gov(c, "core", "propose", change=suspend(c, "core")) == said(
        "the last active member is never suspended", f"{c.uscc('core')} is the only active member")


def test_a_change_is_checked_again_when_it_executes(chain: MemoryChain) -> None:
    second = propose(chain, "b2", suspend(chain, "s4")).tx_id
    for voter in ["s1", "s2", "s3"]:
        approve(chain, voter, second)
    enact(chain, suspend(chain, "s4"))
    assert refused_gov(chain, "auditor", "approve", proposal=second) == said(
        "the member to suspend is active", f"{chain.uscc('s4')} is suspended")
    assert chain.get("proposal/" + second)["status"] == "open"


def test_scheduled_changes_start_after_the_current_block(chain: MemoryChain) -> None:
    rule = "the change takes effect at a height after the current block"
    for change in ({"kind": "set_policy", "name": "grace_days", "value": 1,
                    "from_height": chain.height},
                   {"kind": "pin_contracts", "code_hash": "ab" * 32,
                    "from_height": chain.height - 1}):
        block = chain.height
        assert refused_gov(chain, "core", "propose", change=change) == said(
            rule,
            f"from_height {change['from_height']} is not after this block's height, {block}")


def test_a_scheduled_change_approved_too_late_does_not_execute(chain: MemoryChain) -> None:
    change = {"kind": "set_policy", "name": "grace_days", "value": 1,
              "from_height": chain.height + 3}
    proposal = propose(chain, "core", change).tx_id
    for voter in ["s1", "s2", "s3"]:
        approve(chain, voter, proposal)
    assert rule_of(refused_gov(chain, "b1", "approve", proposal=proposal)) == (
        "the change takes effect at a height after the current block")


POLICY_NAMES = f"change.name must be one of {', '.join(sorted(POLICY_CHECKS))}"


@pytest.mark.parametrize(("change", "reason"), [
    ({"kind": "dissolve"}, "change.kind must be one of add_member, suspend_member, "
                           "reinstate_member, rekey_member, set_policy, pin_contracts"),
    ("suspend everyone", "change.kind must be one of add_member, suspend_member, "
                         "reinstate_member, rekey_member, set_policy, pin_contracts"),
    ({"kind": "suspend_member"}, "a suspend_member change has exactly kind, uscc"),
    ({"kind": "suspend_member", "uscc": "91310000MA0000001X"},
     "change.uscc must be a valid 18-character USCC, not '91310000MA0000001X' "
     "(its check character is wrong)"),
    ({"kind": "rekey_member", "uscc": make_orgs()["s1"].uscc, "public_key": "zz"},
     "change.public_key: public key must be 64 lower-case hex digits"),
    ({"kind": "set_policy", "name": "coffee_breaks", "value": 1, "from_height": 99},
     POLICY_NAMES),
    ({"kind": "set_policy", "name": ["grace_days"], "value": 1, "from_height": 99},
     POLICY_NAMES),  # a list where a name belongs was a TypeError (a 500 at submission)
    ({"kind": []}, "change.kind must be one of add_member, suspend_member, "
                   "reinstate_member, rekey_member, set_policy, pin_contracts"),
    ({"kind": {"k": 1}}, "change.kind must be one of add_member, suspend_member, "
                         "reinstate_member, rekey_member, set_policy, pin_contracts"),
    ({"kind": "set_policy", "name": "grace_days", "value": "3", "from_height": 99},
     "policy grace_days has a value of the wrong type"),
    ({"kind": "set_policy", "name": "governance_approval_percent", "value": 100,
      "from_height": 99}, "policy governance_approval_percent has a value of the wrong type"),
    ({"kind": "set_policy", "name": "grace_days", "value": 3, "from_height": "99"},
     "change.from_height must be a non-negative integer block height"),
    ({"kind": "pin_contracts", "code_hash": "AB" * 32, "from_height": 99},
     "change.code_hash must be a 64-digit lower-case hex id, not 'ABABABAB'... "
     "(64 characters, not all of them 0-9 or a-f)"),
    ({"kind": "add_member", "member": {"uscc": "nope"}},
     "member id 'nope' is not a valid USCC"),
])
def test_malformed_changes_are_schema_errors(
    chain: MemoryChain, change: Any, reason: str
) -> None:
    result = refused(chain, "core", "propose", contract="governance", change=change)
    assert (result.code, result.reason) == ("bad_schema", reason)


def test_unknown_arguments_are_schema_errors(chain: MemoryChain) -> None:
    result = refused(chain, "core", "propose", contract="governance",
                     change=suspend(chain, "s4"), urgent=True)
    assert (result.code, result.reason) == ("bad_schema", "propose got unknown argument(s): "
                                                          "urgent")


# -- effects, end to end ------------------------------------------------------------------


def test_a_suspended_member_is_refused_until_reinstated(chain: MemoryChain) -> None:
    enact(chain, suspend(chain, "b1"))
    chain.advance(seconds=1)
    result = refused(chain, ["b1", "core"], "grant_credit_line", bank=chain.uscc("b1"),
                     core=chain.uscc("core"), limit=FACE, currency="CNY",
                     expiry_date="2026-12-31")
    assert (result.code, result.reason) == ("bad_signature",
                                            f"signer {chain.uscc('b1')} is suspended")
    enact(chain, {"kind": "reinstate_member", "uscc": chain.uscc("b1")})
    assert grant_line(chain)


def test_after_rekeying_only_the_new_key_signs(active: Deal) -> None:
    c = active.c
    enact(c, {"kind": "rekey_member", "uscc": c.uscc("s1"),
              "public_key": NEW_KEY.public_key.hex()})
    result = refused(c, "s1", "transfer", note=active.root, payments=pay_to(c, "s2", FACE // 2))
    assert (result.code, result.reason) == ("bad_signature",
                                            f"signature of {c.uscc('s1')} does not verify")
    c.orgs["s1"] = replace(c.orgs["s1"], key=NEW_KEY)
    c.ok("s1", "transfer", note=active.root, payments=pay_to(c, "s2", FACE // 2))


def test_an_added_member_acts_in_its_role_and_only_in_it(chain: MemoryChain, line: str) -> None:
    s5 = new_org()
    enact(chain, {"kind": "add_member", "member": s5.member().to_json()})
    assert chain.get("members")[-1] == s5.uscc
    chain.orgs["s5"] = s5
    root = issue(chain, line, to=s5.uscc,
                 trade={"contract_no": "PO-9", "documents": [], "invoices": [
                     {"seller": s5.uscc, "number": "S5-1", "amount": FACE, "allocated": FACE}]})
    chain.ok("s5", "accept", receivable=root)
    assert chain.get("note/" + root)["holder"] == s5.uscc
    result = refused(chain, ["b1", "s5"], "grant_credit_line", bank=chain.uscc("b1"),
                     core=s5.uscc, limit=FACE, currency="CNY", expiry_date="2026-12-31")
    assert result.reason == said(
        "a credit line is granted to a core enterprise",
        f"the borrower {s5.uscc} does not have the core_enterprise role (its roles: supplier)")
    # the newcomer also counts in the quorum: 10 members, 50% -> 6 approvals
    assert propose(chain, "s5", suspend(chain, "s4")).events[0]["approvals_needed"] == 6


def test_a_policy_change_applies_from_its_height_and_not_before(active: Deal) -> None:
    c = active.c
    start = c.height + 7  # the five votes take heights h..h+4
    enact(c, {"kind": "set_policy", "name": "min_split_amount", "value": 50_000,
              "from_height": start})
    assert c.get("policy/min_split_amount")[-1] == {"from_height": start, "value": 50_000}
    assert c.height < start
    r = c.ok("s1", "transfer", note=active.root, payments=pay_to(c, "s2", 20_000))
    rest = r.events[0]["outputs"][-1]["note"]
    while c.height < start:  # empty blocks up to the new version's first height
        c.run_block([])
    result = refused(c, "s1", "transfer", note=rest, payments=pay_to(c, "s3", 20_000))
    assert result.reason == said("each split piece is at least the minimum amount",
                                 "piece 200.00 is below the minimum 500.00")


def test_code_pins_are_kept_in_height_order(chain: MemoryChain) -> None:
    later, sooner = "cd" * 32, "ef" * 32
    enact(chain, {"kind": "pin_contracts", "code_hash": later, "from_height": 500})
    enact(chain, {"kind": "pin_contracts", "code_hash": sooner, "from_height": 200})
    assert chain.get("contracts/pinned") == [
        {"from_height": 200, "hash": sooner}, {"from_height": 500, "hash": later}]
    assert pinned_code_hash(chain.state, 199) is None  # this genesis pinned nothing
    assert pinned_code_hash(chain.state, 200) == sooner
    assert pinned_code_hash(chain.state, 10_000) == later


# -- the quorum arithmetic, as a property of the whole contract ------------------------


@settings(max_examples=25, deadline=None)
@given(size=st.integers(1, 6), percent=st.integers(1, 99))
def test_a_change_executes_exactly_when_approvals_beat_the_percent(
    size: int, percent: int,
) -> None:
    cast = dict(list(make_orgs().items())[:size])
    c = MemoryChain(policies={"governance_approval_percent": percent}, orgs=cast)
    voters = list(cast)
    change = {"kind": "set_policy", "name": "grace_days", "value": 4, "from_height": 10_000}
    first = propose(c, voters[0], change)
    executed_at = 1 if first.events[0]["executed"] else None
    proposal = first.tx_id
    for count, voter in enumerate(voters[1:], start=2):
        if executed_at is not None:
            break
        if approve(c, voter, proposal).events[0]["executed"]:
            executed_at = count
    assert executed_at == approvals_needed(size, percent)
    assert quorum_reached(executed_at, size, percent)
    assert not quorum_reached(executed_at - 1, size, percent)
    assert executed_at * 100 > percent * size >= (executed_at - 1) * 100
